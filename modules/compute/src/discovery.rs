//! Cloud Map service discovery: a private DNS namespace in the VPC
//! (`{environment}.{project}.internal` unless named) and per service a
//! discovery service its ECS service registers its tasks in, so services
//! reach each other at `<service>.<namespace>` (A records of the tasks'
//! awsvpc addresses, 10 seconds TTL, ECS reporting the tasks' health).
//!
//! Only rendered with `service_discovery = true`; the security stack's ECS
//! group must admit the services' own traffic for the names to be useful.

use strata_sdk::{Context, Resource, Template, cfn, json};

use crate::config::{Service, Settings};

/// Logical id of the namespace.
pub const NAMESPACE: &str = "Namespace";
/// Seconds resolvers cache a service's records: short, so a replaced task
/// is found quickly.
const RECORD_TTL_SECONDS: u32 = 10;

/// Logical id of a service's discovery service: `ApiDiscoveryService`.
pub fn service_id(service: &Service) -> String {
    format!("{}DiscoveryService", service.id)
}

/// Add the namespace and a discovery service per service, when on.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    let Some(namespace) = &settings.namespace else {
        return;
    };
    let vpc = template.import(&settings.networking_stack, "vpc-id");
    template.resource(
        NAMESPACE,
        Resource::new(
            "AWS::ServiceDiscovery::PrivateDnsNamespace",
            json!({
                "Name": namespace,
                "Vpc": vpc,
                "Description": format!("Service discovery of {}", ctx.name("cluster")),
                "Tags": ctx.tags(),
            }),
        ),
    );
    for service in &settings.services {
        template.resource(
            &service_id(service),
            Resource::new(
                "AWS::ServiceDiscovery::Service",
                json!({
                    "Name": service.name,
                    "Description": format!("Tasks of {}", ctx.name(&service.name)),
                    "NamespaceId": cfn::get_att(NAMESPACE, "Id"),
                    "DnsConfig": {
                        "DnsRecords": [{ "Type": "A", "TTL": RECORD_TTL_SECONDS }],
                        "RoutingPolicy": "MULTIVALUE",
                    },
                    "HealthCheckCustomConfig": { "FailureThreshold": 1 },
                    "Tags": ctx.tags(),
                }),
            ),
        );
    }
}
