//! Per service, a Fargate task definition and the ECS service running it.
//!
//! The task's main container is named after the service and runs its image
//! at the tag of a template parameter ([`images`]); it gets the
//! top-level `environment_variables`, the variables and secrets from the
//! optional stacks ([`Wiring`]), and, for the public service, the port the
//! load balancer forwards to. Sidecars get the top-level variables only,
//! and log to the service's log group under their own stream prefix.
//!
//! Tasks run in the private subnets behind the security stack's ECS group,
//! without public IPs, as the service's own task role; deployments roll
//! with a circuit breaker that rolls back a deployment whose tasks keep
//! failing. A singleton stops its old task before starting the new one
//! (100% / 0%), so two never run at once. With service discovery, each
//! service registers in the Cloud Map namespace ([`discovery`]). EFS
//! volumes mount with TLS in transit and IAM authorization.
//!
//! [`discovery`]: crate::discovery

use std::collections::BTreeMap;

use strata_sdk::{Context, Resource, Template, Value, cfn, json};

use crate::cluster::{CLUSTER, log_group_id};
use crate::config::{ContainerConfig, Service, Settings};
use crate::iam::{EXECUTION_ROLE, task_role_id};
use crate::load_balancer::{attachment, target_group_id};
use crate::wiring::{Grants, Wiring};
use crate::{discovery, images};

/// Logical id of a service's task definition.
pub fn task_definition_id(service: &Service) -> String {
    format!("{}TaskDefinition", service.id)
}

/// Logical id of a service's ECS service.
pub fn service_id(service: &Service) -> String {
    format!("{}Service", service.id)
}

/// Add every service's task definition and service; `grants` are the
/// services' in order.
pub fn add(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    wiring: &Wiring,
    grants: &[Grants],
) {
    let subnets = cfn::split(
        ",",
        template.import(&settings.networking_stack, "private-subnet-ids"),
    );
    let security_group = template.import(&settings.security_stack, "ecs-security-group-id");
    for (service, grants) in settings.services.iter().zip(grants) {
        add_task_definition(template, ctx, settings, wiring, service, grants);
        let (maximum, minimum) = if service.singleton {
            (100, 0)
        } else {
            (200, 100)
        };
        let mut properties = json!({
            "ServiceName": ctx.name(&service.name),
            "Cluster": cfn::reference(CLUSTER),
            "TaskDefinition": cfn::reference(&task_definition_id(service)),
            "LaunchType": "FARGATE",
            "DesiredCount": service.desired_count,
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "Subnets": subnets,
                    "SecurityGroups": [security_group],
                    "AssignPublicIp": "DISABLED",
                },
            },
            "DeploymentConfiguration": {
                "DeploymentCircuitBreaker": { "Enable": true, "Rollback": true },
                "MinimumHealthyPercent": minimum,
                "MaximumPercent": maximum,
            },
            "PropagateTags": "SERVICE",
            "EnableECSManagedTags": true,
            "Tags": ctx.tags(),
        });
        if settings.namespace.is_some() {
            properties["ServiceRegistries"] = json!([{
                "RegistryArn": cfn::get_att(&discovery::service_id(service), "Arn"),
            }]);
        }
        let resource = match &service.listener {
            Some(listener) => {
                properties["LoadBalancers"] = json!([{
                    "ContainerName": service.name,
                    "ContainerPort": listener.port,
                    "TargetGroupArn": cfn::reference(&target_group_id(service)),
                }]);
                properties["HealthCheckGracePeriodSeconds"] = json!(60);
                // The target group must be attached to a listener before a
                // service can register targets in it.
                Resource::new("AWS::ECS::Service", properties).depends_on(&attachment(service))
            }
            None => Resource::new("AWS::ECS::Service", properties),
        };
        template.resource(&service_id(service), resource);
    }
}

fn add_task_definition(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    wiring: &Wiring,
    service: &Service,
    grants: &Grants,
) {
    let image = images::main_image(template, wiring, service, &settings.image_tag);
    let mut containers = vec![main_container(wiring, grants, service, image)];
    containers.extend(
        service
            .sidecars
            .iter()
            .map(|sidecar| sidecar_container(wiring, service, sidecar)),
    );
    let mut properties = json!({
        "Family": ctx.name(&service.name),
        "RequiresCompatibilities": ["FARGATE"],
        "NetworkMode": "awsvpc",
        "Cpu": service.cpu.to_string(),
        "Memory": service.memory.to_string(),
        "RuntimePlatform": {
            "CpuArchitecture": settings.architecture,
            "OperatingSystemFamily": "LINUX",
        },
        "ExecutionRoleArn": cfn::get_att(EXECUTION_ROLE, "Arn"),
        "TaskRoleArn": cfn::get_att(&task_role_id(service), "Arn"),
        "ContainerDefinitions": containers,
        "Tags": ctx.tags(),
    });
    if !service.volumes.is_empty() {
        properties["Volumes"] = Value::Array(
            service
                .volumes
                .iter()
                .zip(&grants.mounts)
                .map(|(volume, mount)| {
                    let mut authorization = json!({ "IAM": "ENABLED" });
                    if let Some(point) = &mount.access_point_id {
                        authorization["AccessPointId"] = point.clone();
                    }
                    json!({
                        "Name": volume.name,
                        "EFSVolumeConfiguration": {
                            "FilesystemId": mount.file_system_id,
                            "TransitEncryption": "ENABLED",
                            "AuthorizationConfig": authorization,
                        },
                    })
                })
                .collect(),
        );
    }
    template.resource(
        &task_definition_id(service),
        Resource::new("AWS::ECS::TaskDefinition", properties),
    );
}

fn main_container(wiring: &Wiring, grants: &Grants, service: &Service, image: Value) -> Value {
    let mut variables = wiring.variables.clone();
    variables.extend(
        grants
            .environment
            .iter()
            .map(|(name, value)| (name.clone(), value.clone())),
    );
    let mut container = json!({
        "Name": service.name,
        "Image": image,
        "Essential": true,
        "LogConfiguration": log_configuration(service, &service.name),
    });
    if let Some(command) = &service.command {
        container["Command"] = json!(command);
    }
    if let Some(listener) = &service.listener {
        container["PortMappings"] = json!([{ "ContainerPort": listener.port, "Protocol": "tcp" }]);
    }
    if !variables.is_empty() {
        container["Environment"] = environment(variables);
    }
    if !service.volumes.is_empty() {
        container["MountPoints"] = Value::Array(
            service
                .volumes
                .iter()
                .map(|v| json!({ "SourceVolume": v.name, "ContainerPath": v.path, "ReadOnly": v.read_only }))
                .collect(),
        );
    }
    if !grants.secrets.is_empty() {
        container["Secrets"] = Value::Array(
            grants
                .secrets
                .iter()
                .map(|(name, arn)| json!({ "Name": name, "ValueFrom": arn }))
                .collect(),
        );
    }
    container
}

fn sidecar_container(wiring: &Wiring, service: &Service, sidecar: &ContainerConfig) -> Value {
    let mut container = json!({
        "Name": sidecar.name,
        "Image": sidecar.image,
        "Essential": sidecar.essential,
        "LogConfiguration": log_configuration(service, &sidecar.name),
    });
    if let Some(command) = &sidecar.command {
        container["Command"] = json!(command);
    }
    if let Some(port) = sidecar.port {
        container["PortMappings"] = json!([{ "ContainerPort": port, "Protocol": "tcp" }]);
    }
    if let Some(cpu) = sidecar.cpu {
        container["Cpu"] = json!(cpu);
    }
    if let Some(memory) = sidecar.memory {
        container["Memory"] = json!(memory);
    }
    if !wiring.variables.is_empty() {
        container["Environment"] = environment(wiring.variables.clone());
    }
    container
}

/// `[{"Name": .., "Value": ..}]`, sorted by name.
fn environment(variables: BTreeMap<String, Value>) -> Value {
    Value::Array(
        variables
            .into_iter()
            .map(|(name, value)| json!({ "Name": name, "Value": value }))
            .collect(),
    )
}

/// Streams `<container>/<container>/<task id>` in the service's group.
fn log_configuration(service: &Service, container: &str) -> Value {
    json!({
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": cfn::reference(&log_group_id(service)),
            "awslogs-region": cfn::region(),
            "awslogs-stream-prefix": container,
        },
    })
}
