//! Per source log group, a permission for CloudWatch Logs (of this account,
//! for that group only) to invoke the function, and the subscription
//! filter feeding it. CloudWatch Logs tests the permission when the filter
//! is created, so the filter depends on it.

use strata_sdk::{Resource, Template, cfn, json};

use crate::config::Settings;
use crate::function::FUNCTION;

/// Logical ids of a service's permission and filter.
pub fn ids(service: &str) -> (String, String) {
    let id = cfn::logical_id(service);
    (
        format!("{id}InvokePermission"),
        format!("{id}SubscriptionFilter"),
    )
}

/// Subscribe every service's log group.
pub fn add(template: &mut Template, ctx: &strata_sdk::Context, settings: &Settings) {
    for service in &settings.services {
        let log_group = template.import(
            &settings.compute_stack,
            &format!("{service}-log-group-name"),
        );
        let (permission, filter) = ids(service);
        template.resource(
            &permission,
            Resource::new(
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": cfn::get_att(FUNCTION, "Arn"),
                    "Principal": "logs.amazonaws.com",
                    "SourceArn": {
                        "Fn::Sub": [
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:*",
                            { "LogGroup": log_group },
                        ],
                    },
                    "SourceAccount": cfn::account_id(),
                }),
            ),
        );
        template.resource(
            &filter,
            Resource::new(
                "AWS::Logs::SubscriptionFilter",
                json!({
                    "FilterName": ctx.name("log-forwarder"),
                    "LogGroupName": log_group,
                    "DestinationArn": cfn::get_att(FUNCTION, "Arn"),
                    "FilterPattern": settings.filter_pattern,
                }),
            )
            .depends_on(&permission),
        );
    }
}
