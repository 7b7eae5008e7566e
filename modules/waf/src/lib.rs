//! The `waf` stack type: a regional WAF web ACL for the compute stack's
//! load balancer.
//!
//! - [`config`] validates the stack's table (the managed rule groups by
//!   name, the country codes) and resolves the log retention of the
//!   environment (7 days, 30 in staging, 90 in production).
//! - This file adds the web ACL (a per-IP rate limit, country blocking,
//!   the managed rule groups), its association with the load balancer
//!   imported from the compute stack, and its logging.
//!
//! Logs go to the log group `aws-waf-logs-{project}-{environment}`: WAF
//! only delivers to log groups whose name starts with `aws-waf-logs-`, the
//! one exception to the `{project}-{environment}-{resource}` rule (the name
//! still carries the project and environment). See [`EXPORTS`].

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::Settings;

/// The outputs this stack exports, in order. Other modules import them by
/// these names.
pub const EXPORTS: [&str; 2] = ["web-acl-arn", "web-acl-id"];

const WEB_ACL: &str = "WebAcl";
const LOG_GROUP: &str = "WafLogGroup";
/// Priorities: the rate limit first, then countries, then the managed
/// groups from 10 on (so adding countries leaves their priorities alone).
const RATE_LIMIT_PRIORITY: usize = 0;
const COUNTRIES_PRIORITY: usize = 1;
const FIRST_MANAGED_PRIORITY: usize = 10;

/// Render a waf stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: WAF web ACL, {} requests per IP per 5 minutes, {} managed rule group(s){}",
            ctx.name("web-acl"),
            settings.rate_limit,
            settings.managed_rule_groups.len(),
            match &settings.compute_stack {
                Some(stack) => format!(", protecting the load balancer of `{stack}`"),
                None => String::new(),
            }
        ),
    );
    template.warn_all(warnings);

    add_web_acl(&mut template, ctx, &settings);
    if let Some(stack) = &settings.compute_stack {
        let load_balancer = template.import(stack, "alb-arn");
        template.resource(
            "WebAclAssociation",
            Resource::new(
                "AWS::WAFv2::WebACLAssociation",
                json!({ "ResourceArn": load_balancer, "WebACLArn": cfn::get_att(WEB_ACL, "Arn") }),
            ),
        );
    }
    if let Some(days) = settings.log_retention_days {
        add_logging(&mut template, ctx, days);
    }

    template.export(
        "web-acl-arn",
        cfn::get_att(WEB_ACL, "Arn"),
        "ARN of the WAF web ACL",
    );
    template.export(
        "web-acl-id",
        cfn::get_att(WEB_ACL, "Id"),
        "Id of the WAF web ACL",
    );
    Ok(template)
}

/// Metrics and sampled requests for a rule (or the whole ACL), named
/// `{project}-{environment}-web-acl[-rule]`.
fn visibility(metric: &str) -> Value {
    json!({
        "SampledRequestsEnabled": true,
        "CloudWatchMetricsEnabled": true,
        "MetricName": metric,
    })
}

fn add_web_acl(template: &mut Template, ctx: &Context, settings: &Settings) {
    let name = ctx.name("web-acl");
    let mut rules = vec![json!({
        "Name": "rate-limit",
        "Priority": RATE_LIMIT_PRIORITY,
        "Action": { "Block": {} },
        "Statement": {
            "RateBasedStatement": {
                "Limit": settings.rate_limit,
                "AggregateKeyType": "IP",
                "EvaluationWindowSec": 300,
            },
        },
        "VisibilityConfig": visibility(&ctx.name("web-acl-rate-limit")),
    })];
    if !settings.blocked_countries.is_empty() {
        rules.push(json!({
            "Name": "blocked-countries",
            "Priority": COUNTRIES_PRIORITY,
            "Action": { "Block": {} },
            "Statement": { "GeoMatchStatement": { "CountryCodes": settings.blocked_countries } },
            "VisibilityConfig": visibility(&ctx.name("web-acl-blocked-countries")),
        }));
    }
    for (index, group) in settings.managed_rule_groups.iter().enumerate() {
        let mut statement = json!({ "VendorName": "AWS", "Name": group.name });
        if group.name == "AWSManagedRulesBotControlRuleSet" {
            // Required by the group; `COMMON` detects self-identifying bots
            // (`TARGETED` costs more and challenges browsers).
            statement["ManagedRuleGroupConfigs"] =
                json!([{ "AWSManagedRulesBotControlRuleSet": { "InspectionLevel": "COMMON" } }]);
        }
        if let Some(overrides) = settings.rule_overrides.get(group.name)
            && !overrides.is_empty()
        {
            statement["RuleActionOverrides"] = overrides
                .iter()
                .map(|(rule, action)| json!({ "Name": rule, "ActionToUse": { *action: {} } }))
                .collect();
        }
        rules.push(json!({
            "Name": group.name,
            "Priority": FIRST_MANAGED_PRIORITY + index,
            // The group's own actions apply (`None` overrides nothing).
            "OverrideAction": { "None": {} },
            "Statement": { "ManagedRuleGroupStatement": statement },
            "VisibilityConfig": visibility(&ctx.name(&format!("web-acl-{}", group.name))),
        }));
    }
    template.resource(
        WEB_ACL,
        Resource::new(
            "AWS::WAFv2::WebACL",
            json!({
                "Name": name,
                "Description": format!("{name}: rate limit and AWS managed rules"),
                "Scope": "REGIONAL",
                "DefaultAction": { "Allow": {} },
                "Rules": rules,
                "VisibilityConfig": visibility(&name),
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// The log group (retained in production, like every log the environment
/// keeps) and the logging configuration. WAF adds the log group's resource
/// policy for its delivery itself.
fn add_logging(template: &mut Template, ctx: &Context, retention_days: u32) {
    template.resource(
        LOG_GROUP,
        aws::log_group(
            ctx,
            format!("aws-waf-logs-{}-{}", ctx.project, ctx.environment),
            retention_days,
            ctx.is_production(),
        ),
    );
    template.resource(
        "WafLogging",
        Resource::new(
            "AWS::WAFv2::LoggingConfiguration",
            json!({
                "ResourceArn": cfn::get_att(WEB_ACL, "Arn"),
                // The group's ARN without the `:*` that `Fn::GetAtt ..
                // Arn` ends with: WAF refuses that form.
                "LogDestinationConfigs": [cfn::sub(&format!(
                    "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{LOG_GROUP}}}"
                ))],
                // Credentials stay out of the logs.
                "RedactedFields": [
                    { "SingleHeader": { "Name": "authorization" } },
                    { "SingleHeader": { "Name": "cookie" } },
                ],
            }),
        ),
    );
}

strata_sdk::module! {
    name: "waf",
    description: "Regional WAF web ACL for the load balancer: rate limit, country blocking, AWS managed rules, logging",
    config: Config,
    render: render,
}
