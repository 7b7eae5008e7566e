//! Target tracking autoscaling of the autoscaled services: a scalable
//! target over the service's desired count, and two policies keeping
//! average CPU and memory utilisation at their targets. Application Auto
//! Scaling acts through its service-linked role (no `RoleARN`).

use strata_sdk::{Context, Resource, Template, cfn, json};

use crate::cluster::CLUSTER;
use crate::config::{Scaling, Service, Settings};
use crate::services::service_id;

/// Seconds between scale-in steps: slow, so a dip does not drop tasks
/// that the next peak needs.
const SCALE_IN_COOLDOWN: u32 = 300;
/// Seconds between scale-out steps: fast.
const SCALE_OUT_COOLDOWN: u32 = 60;

/// Add the target and policies of every autoscaled service.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    for service in &settings.services {
        if let Some(scaling) = service.scaling {
            add_service(template, ctx, settings, service, scaling);
        }
    }
}

fn add_service(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    service: &Service,
    scaling: Scaling,
) {
    let target = format!("{}ScalableTarget", service.id);
    template.resource(
        &target,
        Resource::new(
            "AWS::ApplicationAutoScaling::ScalableTarget",
            json!({
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": cfn::join("/", [
                    json!("service"),
                    cfn::reference(CLUSTER),
                    cfn::get_att(&service_id(service), "Name"),
                ]),
                "MinCapacity": scaling.min,
                "MaxCapacity": scaling.max,
            }),
        ),
    );
    for (suffix, metric, percent) in [
        (
            "cpu",
            "ECSServiceAverageCPUUtilization",
            settings.cpu_target_percent,
        ),
        (
            "memory",
            "ECSServiceAverageMemoryUtilization",
            settings.memory_target_percent,
        ),
    ] {
        template.resource(
            &format!("{}{}ScalingPolicy", service.id, cfn::logical_id(suffix)),
            Resource::new(
                "AWS::ApplicationAutoScaling::ScalingPolicy",
                json!({
                    "PolicyName": ctx.name(&format!("{}-{suffix}", service.name)),
                    "PolicyType": "TargetTrackingScaling",
                    "ScalingTargetId": cfn::reference(&target),
                    "TargetTrackingScalingPolicyConfiguration": {
                        "PredefinedMetricSpecification": { "PredefinedMetricType": metric },
                        "TargetValue": percent,
                        "ScaleInCooldown": SCALE_IN_COOLDOWN,
                        "ScaleOutCooldown": SCALE_OUT_COOLDOWN,
                    },
                }),
            ),
        );
    }
}
