//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::Context;
use strata_sdk::testing::{self, count_of, properties, resource, resources};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "sqs");

#[test]
fn renders_an_empty_table_with_three_queues_and_their_dead_letter_queues() {
    let rendered = rendered("{}");
    assert_eq!(count_of(&rendered, "AWS::SQS::Queue"), 6);
    assert_eq!(resources(&rendered).count(), 9);
    let queue = properties(&rendered, "BackgroundJobsQueue");
    assert_eq!(queue["QueueName"], "acme-test-background-jobs");
    assert_eq!(queue["VisibilityTimeout"], 300);
    assert_eq!(queue["MessageRetentionPeriod"], 4 * 86_400);
    assert!(queue.get("FifoQueue").is_none());
    let dlq = properties(&rendered, "BackgroundJobsQueueDeadLetter");
    assert_eq!(dlq["QueueName"], "acme-test-background-jobs-dlq");
    assert_eq!(dlq["MessageRetentionPeriod"], 14 * 86_400);
    assert!(dlq.get("RedrivePolicy").is_none());
    assert!(rendered.warnings.is_empty());
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(
        &rendered,
        &test_ctx(),
        &[
            "background-jobs-queue-url",
            "background-jobs-queue-arn",
            "background-jobs-dlq-arn",
            "data-refresh-queue-url",
            "data-refresh-queue-arn",
            "data-refresh-dlq-arn",
            "notifications-queue-url",
            "notifications-queue-arn",
            "notifications-dlq-arn",
            "kms-key-arn",
        ],
    );
    assert_eq!(
        rendered.exports,
        exports(&["background-jobs", "data-refresh", "notifications"])
    );
    testing::assert_output_values(
        &rendered,
        &[
            ("DataRefreshQueueUrl", r#"{"Ref":"DataRefreshQueue"}"#),
            (
                "DataRefreshDlqArn",
                r#"{"Fn::GetAtt":["DataRefreshQueueDeadLetter","Arn"]}"#,
            ),
            ("KmsKeyArn", r#"{"Fn::GetAtt":["QueueKey","Arn"]}"#),
        ],
    );
}

#[test]
fn exports_follow_the_configured_queues() {
    let rendered = rendered(r#"{"queues": ["emails"]}"#);
    assert_eq!(
        rendered.exports,
        [
            "emails-queue-url",
            "emails-queue-arn",
            "emails-dlq-arn",
            "kms-key-arn"
        ]
    );
    assert_eq!(resources(&rendered).count(), 5);
}

#[test]
fn imports_nothing() {
    assert!(rendered("{}").imports.is_empty());
}

#[test]
fn redrives_to_the_dead_letter_queue() {
    let rendered = rendered(r#"{"max_receive_count": 5}"#);
    let redrive = &properties(&rendered, "NotificationsQueue")["RedrivePolicy"];
    assert_eq!(
        redrive["deadLetterTargetArn"].to_string(),
        r#"{"Fn::GetAtt":["NotificationsQueueDeadLetter","Arn"]}"#
    );
    assert_eq!(redrive["maxReceiveCount"], 5);
}

#[test]
fn encrypts_every_queue_with_a_rotating_retained_key() {
    let rendered = rendered("{}");
    let key = resource(&rendered, "QueueKey");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    assert_eq!(key["UpdateReplacePolicy"], "Retain");
    let statements = key["Properties"]["KeyPolicy"]["Statement"]
        .as_array()
        .expect("statements");
    assert!(
        statements
            .iter()
            .any(|s| s["Principal"]["Service"] == "sqs.amazonaws.com")
    );
    assert!(statements.iter().any(
        |s| s["Condition"]["StringEquals"]["kms:ViaService"]["Fn::Sub"]
            == "sqs.${AWS::Region}.amazonaws.com"
    ));
    assert_eq!(
        properties(&rendered, "QueueKeyAlias")["AliasName"],
        "alias/acme-test-sqs"
    );
    for (id, queue) in resources(&rendered).filter(|(_, r)| r["Type"] == "AWS::SQS::Queue") {
        let queue = &queue["Properties"];
        assert_eq!(
            queue["KmsMasterKeyId"].to_string(),
            r#"{"Fn::GetAtt":["QueueKey","Arn"]}"#,
            "{id}"
        );
        assert_eq!(queue["KmsDataKeyReusePeriodSeconds"], 300, "{id}");
    }
}

#[test]
fn denies_plain_http_on_every_queue() {
    let rendered = rendered(r#"{"queues": ["a", "b"]}"#);
    let policy = properties(&rendered, "QueuePolicy");
    assert_eq!(
        policy["Queues"].to_string(),
        r#"[{"Ref":"AQueue"},{"Ref":"AQueueDeadLetter"},{"Ref":"BQueue"},{"Ref":"BQueueDeadLetter"}]"#
    );
    let deny = &policy["PolicyDocument"]["Statement"][0];
    assert_eq!(deny["Effect"], "Deny");
    assert_eq!(deny["Principal"], "*");
    assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(deny["Resource"].as_array().map(Vec::len), Some(4));
}

#[test]
fn retains_queues_in_production_only() {
    let dev = rendered("{}");
    let prod = rendered_in(&production_ctx(), "{}");
    for id in ["DataRefreshQueue", "DataRefreshQueueDeadLetter"] {
        assert_eq!(resource(&dev, id)["DeletionPolicy"], "Delete");
        assert_eq!(resource(&dev, id)["UpdateReplacePolicy"], "Delete");
        assert_eq!(resource(&prod, id)["DeletionPolicy"], "Retain");
        assert_eq!(resource(&prod, id)["UpdateReplacePolicy"], "Retain");
    }
    assert_eq!(resource(&dev, "QueueKey")["DeletionPolicy"], "Retain");
}

#[test]
fn makes_fifo_queues_and_dead_letter_queues() {
    let rendered = rendered(r#"{"fifo": true, "queues": ["orders"]}"#);
    for (id, name) in [
        ("OrdersQueue", "acme-test-orders.fifo"),
        ("OrdersQueueDeadLetter", "acme-test-orders-dlq.fifo"),
    ] {
        let queue = properties(&rendered, id);
        assert_eq!(queue["QueueName"], name);
        assert_eq!(queue["FifoQueue"], true);
        assert_eq!(queue["ContentBasedDeduplication"], true);
    }
    assert_eq!(rendered.exports[0], "orders-queue-url");
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
    assert_tagged_in(&production_ctx(), "{}");
}

#[test]
fn rejects_an_empty_queue_list() {
    error_at(r#"{"queues": []}"#, "queues");
}

#[test]
fn rejects_invalid_queue_names_at_their_index() {
    for name in ["Jobs", "1jobs", "jobs_", "jobs-", "jo--bs", "jobs.fifo", ""] {
        let error = error_at(&format!(r#"{{"queues": ["ok", "{name}"]}}"#), "queues.1");
        assert!(
            error
                .message
                .starts_with(&format!("`{name}` is not a queue name")),
            "{}",
            error.message
        );
    }
    let error = error_at(r#"{"queues": ["Data_Refresh"]}"#, "queues.0");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("e.g. `data-refresh`"),
        "{:?}",
        error.help
    );
}

#[test]
fn rejects_queue_names_longer_than_forty() {
    let name = "q".repeat(41);
    error_at(&format!(r#"{{"queues": ["{name}"]}}"#), "queues.0");
    rendered(&format!(r#"{{"queues": ["{}"]}}"#, "q".repeat(40)));
}

#[test]
fn rejects_a_queue_listed_twice() {
    let error = error_at(r#"{"queues": ["a", "b", "a"]}"#, "queues.2");
    assert_eq!(error.message, "queue `a` is listed twice");
}

#[test]
fn rejects_queues_that_would_share_a_logical_id() {
    let error = error_at(r#"{"queues": ["a1", "a-1"]}"#, "queues.1");
    assert!(error.message.contains("`A1Queue`"), "{}", error.message);
}

#[test]
fn rejects_names_sqs_would_refuse_as_too_long() {
    let ctx = Context {
        project: "a-project-name-of-thirty-two-ch".into(),
        ..test_ctx()
    };
    let name = "q".repeat(40);
    let errors = testing::errors::<Config>(
        &ctx,
        &format!(r#"{{"queues": ["{name}"], "fifo": true}}"#),
        render,
    );
    let error = testing::single_error(errors, "queues.0");
    assert!(error.message.contains("SQS allows 80"), "{}", error.message);
}

#[test]
fn rejects_a_visibility_timeout_above_twelve_hours() {
    error_at(
        r#"{"visibility_timeout_seconds": 43201}"#,
        "visibility_timeout_seconds",
    );
    rendered(r#"{"visibility_timeout_seconds": 0}"#);
}

#[test]
fn rejects_retention_outside_one_to_fourteen_days() {
    error_at(r#"{"message_retention_days": 0}"#, "message_retention_days");
    error_at(r#"{"dlq_retention_days": 15}"#, "dlq_retention_days");
}

#[test]
fn rejects_dead_letter_retention_shorter_than_the_queues() {
    let error = error_at(
        r#"{"message_retention_days": 10, "dlq_retention_days": 7}"#,
        "dlq_retention_days",
    );
    assert!(error.help.as_deref().unwrap_or_default().contains("`10`"));
    rendered(r#"{"message_retention_days": 14, "dlq_retention_days": 14}"#);
}

#[test]
fn rejects_a_receive_count_outside_one_to_a_thousand() {
    error_at(r#"{"max_receive_count": 0}"#, "max_receive_count");
    error_at(r#"{"max_receive_count": 1001}"#, "max_receive_count");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors(
        r#"{"queues": ["Bad", "ok", "ok"], "visibility_timeout_seconds": 50000, "message_retention_days": 15,
            "dlq_retention_days": 0, "max_receive_count": 0}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "queues.0",
            "queues.2",
            "visibility_timeout_seconds",
            "message_retention_days",
            "dlq_retention_days",
            "max_receive_count",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"queue": ["a"]}"#, "queue");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"queues": ["a", 2]}"#, "queues.1");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(6);
}
