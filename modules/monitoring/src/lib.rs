//! The `monitoring` stack type: CloudWatch alarms wired to two SNS topics,
//! an overview dashboard, and optionally a CloudTrail trail.
//!
//! - [`config`] validates the stack's table (thresholds, addresses, the
//!   alarm period, which is a minute in production and five elsewhere).
//! - [`dimensions`] imports the metric dimensions from the `compute` stack
//!   (load balancer, target group, cluster and service names) and the
//!   `database` stack (instance or cluster id).
//! - [`topics`] adds the `critical` and `warning` topics, their key and the
//!   email subscriptions; [`alarms`] the alarms; [`dashboard`] the
//!   dashboard; [`cloudtrail`] the trail, its key and its bucket.
//!
//! Its exports ([`exports`]) let other stacks publish to the topics.

pub mod alarms;
pub mod cloudtrail;
pub mod config;
pub mod dashboard;
pub mod dimensions;
pub mod topics;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Template, cfn};

pub use config::Config;
use topics::Severity;

/// The outputs a stack exports, in order: the topics', and the
/// dashboard's name when there is one.
pub fn exports(dashboard: bool) -> Vec<&'static str> {
    let mut exports = vec!["critical-topic-arn", "warning-topic-arn"];
    if dashboard {
        exports.push("dashboard-name");
    }
    exports
}

/// Render a monitoring stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: alarms to the critical and warning topics{}{}",
            ctx.name("monitoring"),
            if settings.dashboard {
                ", an overview dashboard"
            } else {
                ""
            },
            if settings.cloudtrail {
                ", a CloudTrail trail"
            } else {
                ""
            },
        ),
    );
    template.warn_all(warnings);

    let dimensions = dimensions::import(&mut template, &settings);
    topics::add(&mut template, ctx, &settings);
    alarms::add(&mut template, ctx, &settings, &dimensions);
    if settings.dashboard {
        dashboard::add(&mut template, ctx, &settings, &dimensions);
    }
    if settings.cloudtrail {
        cloudtrail::add(&mut template, ctx, &settings);
    }

    template.export(
        "critical-topic-arn",
        Severity::Critical.topic_arn(),
        "ARN of the SNS topic for critical alarms",
    );
    template.export(
        "warning-topic-arn",
        Severity::Warning.topic_arn(),
        "ARN of the SNS topic for warnings",
    );
    if settings.dashboard {
        template.export(
            "dashboard-name",
            cfn::reference(dashboard::DASHBOARD),
            "Name of the CloudWatch overview dashboard",
        );
    }
    Ok(template)
}

strata_sdk::module! {
    name: "monitoring",
    description: "CloudWatch alarms (latency, 5xx rate, unhealthy hosts, running tasks, database) to SNS topics, a dashboard, optional CloudTrail",
    config: Config,
    render: render,
}
