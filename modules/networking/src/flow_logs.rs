//! VPC flow logs into a CloudWatch log group, written by a role that may do
//! nothing else.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

const LOG_GROUP: &str = "FlowLogGroup";
const ROLE: &str = "FlowLogRole";

/// Add the log group, the delivery role and the flow log of `vpc_id` (a
/// `Ref` to the new VPC, or an existing VPC's id).
pub fn add(template: &mut Template, ctx: &Context, vpc_id: Value, retention_days: u32) {
    // CloudWatch Logs encrypts log data at rest with its own key. One rule
    // for every log group of the catalogue: retained in production (the
    // logs are evidence), deleted with the stack elsewhere, where a
    // retained group would keep its fixed name taken and block re-creating
    // the environment.
    template.resource(
        LOG_GROUP,
        aws::log_group(
            ctx,
            format!("/aws/vpc/{}", ctx.name("flow-logs")),
            retention_days,
            ctx.is_production(),
        ),
    );
    template.resource(ROLE, Resource::new("AWS::IAM::Role", role_properties(ctx)));
    template.resource(
        "FlowLog",
        Resource::new(
            "AWS::EC2::FlowLog",
            json!({
                "ResourceId": vpc_id,
                "ResourceType": "VPC",
                "TrafficType": "ALL",
                "LogDestinationType": "cloud-watch-logs",
                "LogGroupName": cfn::reference(LOG_GROUP),
                "DeliverLogsPermissionArn": cfn::get_att(ROLE, "Arn"),
                "Tags": ctx.tags_named(&ctx.name("vpc-flow-log")),
            }),
        ),
    );
}

/// Only the flow logs service of this account may assume the role (the
/// source conditions stop a confused deputy), and it may only write
/// streams of this one log group.
fn role_properties(ctx: &Context) -> Value {
    json!({
        "Description": format!("Lets VPC flow logs of {} write to their log group", ctx.name("vpc")),
        "AssumeRolePolicyDocument": aws::assume_role_policy(
            "vpc-flow-logs.amazonaws.com",
            Some(cfn::sub("arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc-flow-log/*")),
        ),
        "Policies": [aws::inline_policy("write-flow-logs", vec![json!({
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": cfn::get_att(LOG_GROUP, "Arn"),
        })])],
        "Tags": ctx.tags(),
    })
}
