//! The ECS cluster the services run in, and one CloudWatch log group per
//! service (its sidecars log there too, under their own stream prefix).

use strata_sdk::{Context, Resource, Template, aws, json};

use crate::config::{Service, Settings};

/// Logical id of the cluster.
pub const CLUSTER: &str = "Cluster";

/// Logical id of a service's log group.
pub fn log_group_id(service: &Service) -> String {
    format!("{}LogGroup", service.id)
}

/// `/ecs/{project}-{environment}-{service}`.
pub fn log_group_name(ctx: &Context, service: &Service) -> String {
    format!("/ecs/{}", ctx.name(&service.name))
}

/// Add the cluster and the log groups.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    let insights = if settings.container_insights {
        "enabled"
    } else {
        "disabled"
    };
    template.resource(
        CLUSTER,
        Resource::new(
            "AWS::ECS::Cluster",
            json!({
                "ClusterName": ctx.name("cluster"),
                "ClusterSettings": [{ "Name": "containerInsights", "Value": insights }],
                "Tags": ctx.tags(),
            }),
        ),
    );
    // CloudWatch Logs encrypts log data at rest with its own key. Production
    // keeps its logs when the stack goes; elsewhere they go with it (said
    // explicitly), so re-creating an environment finds the names free.
    for service in &settings.services {
        template.resource(
            &log_group_id(service),
            aws::log_group(
                ctx,
                log_group_name(ctx, service),
                settings.log_retention_days,
                settings.retain_logs,
            ),
        );
    }
}
