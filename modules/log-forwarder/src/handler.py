"""Forward CloudWatch Logs subscription batches to S3 as gzip'd JSON lines.

Each invocation receives one batch of one log group, base64-encoded and
gzip'd. Its events go to one object:
<PREFIX>/<log group>/<yyyy>/<mm>/<dd>/<hhmmss>-<request id>.json.gz
(dated by the batch's first event, UTC). A retried invocation keeps its
request id, so it rewrites the same object instead of duplicating it.
"""

import base64
import datetime
import gzip
import json
import os

import boto3

S3 = boto3.client("s3")
BUCKET = os.environ["BUCKET"]
PREFIX = os.environ["PREFIX"].strip("/")


def handler(event, context):
    payload = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    # CloudWatch Logs checks the destination with a CONTROL_MESSAGE.
    if payload.get("messageType") != "DATA_MESSAGE":
        return {"forwarded": 0}
    events = payload.get("logEvents") or []
    if not events:
        return {"forwarded": 0}
    group = payload["logGroup"]
    lines = [
        json.dumps(
            {
                "timestamp": e["timestamp"],
                "message": e["message"],
                "id": e["id"],
                "logGroup": group,
                "logStream": payload.get("logStream"),
                "owner": payload.get("owner"),
            },
            separators=(",", ":"),
        )
        for e in events
    ]
    first = datetime.datetime.fromtimestamp(
        events[0]["timestamp"] / 1000, tz=datetime.timezone.utc
    )
    key = "{}/{}/{:%Y/%m/%d/%H%M%S}-{}.json.gz".format(
        PREFIX, group.strip("/"), first, context.aws_request_id
    )
    S3.put_object(
        Bucket=BUCKET,
        Key=key,
        Body=gzip.compress(("\n".join(lines) + "\n").encode("utf-8")),
        ContentType="application/gzip",
    )
    return {"forwarded": len(events), "key": key}
