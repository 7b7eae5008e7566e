//! The `compute` stack type: ECS Fargate services behind an Application
//! Load Balancer.
//!
//! - [`config`] validates the stack's table (and [`config::service`] each
//!   service's) and resolves the defaults that depend on the environment:
//!   task size, task counts, log retention, the load balancer's deletion
//!   protection. [`fargate`] knows which task sizes Fargate runs.
//! - [`wiring`] imports what the optional stacks offer the services
//!   (database endpoint and app secret, cache endpoint, queues, secrets,
//!   buckets, EFS file systems, the image repository) and cuts each
//!   service's share.
//! - [`cluster`] adds the ECS cluster and a log group per service; [`iam`]
//!   the execution role and a task role per service; [`load_balancer`] the
//!   ALB, a target group per public service, listeners and routing rules
//!   (only with a public service); [`discovery`] the Cloud Map namespace;
//!   [`services`] the task definitions and services; [`scaling`] their
//!   target tracking.
//! - [`images`] makes each service's image tag a template parameter that
//!   defaults to the file's tag, so a code-only deploy can change it.
//!
//! The stack imports the network and security groups (`networking`,
//! `security`), the certificate when a service is public, and the optional
//! stacks; the `monitoring`, `log-forwarder` and `waf` stacks import its
//! exports ([`exports`]).

pub mod cluster;
pub mod config;
pub mod discovery;
pub mod fargate;
pub mod iam;
pub mod images;
pub mod load_balancer;
pub mod scaling;
pub mod services;
pub mod wiring;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Template, cfn};

pub use config::Config;
use config::Settings;
use load_balancer::{HTTPS_LISTENER, LOAD_BALANCER, target_group_id};

/// The exports of the load balancer, present only when a service is public.
pub const LOAD_BALANCER_EXPORTS: [&str; 7] = [
    "alb-arn",
    "alb-dns-name",
    "alb-full-name",
    "alb-hosted-zone-id",
    "alb-canonical-hosted-zone-id",
    "alb-https-listener-arn",
    "target-group-full-name",
];

/// The exports of the Cloud Map namespace, present only with service
/// discovery.
pub const NAMESPACE_EXPORTS: [&str; 3] = ["namespace-id", "namespace-arn", "namespace-name"];

/// The outputs a stack with these settings exports, in order: the
/// cluster's and the execution role's, the load balancer's with a public
/// service, the namespace's with service discovery, then per service its
/// service, log group, task family and task role, its target group with a
/// public service and its discovery service with service discovery.
pub fn exports(settings: &Settings) -> Vec<String> {
    let mut exports = vec![
        "cluster-name".to_owned(),
        "cluster-arn".to_owned(),
        "execution-role-arn".to_owned(),
    ];
    if settings.public_service().is_some() {
        exports.extend(LOAD_BALANCER_EXPORTS.map(String::from));
    }
    if settings.namespace.is_some() {
        exports.extend(NAMESPACE_EXPORTS.map(String::from));
    }
    for service in &settings.services {
        let name = &service.name;
        exports.push(format!("{name}-service-name"));
        exports.push(format!("{name}-log-group-name"));
        exports.push(format!("{name}-task-family"));
        exports.push(format!("{name}-task-role-arn"));
        if service.listener.is_some() {
            exports.push(format!("{name}-target-group-full-name"));
        }
        if settings.namespace.is_some() {
            exports.push(format!("{name}-discovery-service-arn"));
        }
    }
    exports
}

/// Render a compute stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let names: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    let public: Vec<String> = settings
        .public_services()
        .map(|s| format!("`{}`", s.name))
        .collect();
    let mut template = Template::new(
        ctx,
        format!(
            "{}: ECS Fargate services {}{}",
            ctx.name("cluster"),
            names.join(", "),
            if public.is_empty() {
                String::new()
            } else {
                format!(", {} behind an HTTPS load balancer", public.join(", "))
            }
        ),
    );
    template.warn_all(warnings);

    let wiring = wiring::import(&mut template, &settings);
    let grants: Vec<wiring::Grants> = settings
        .services
        .iter()
        .map(|service| wiring.grants(&mut template, service))
        .collect();
    cluster::add(&mut template, ctx, &settings);
    let pairs: Vec<(&config::Service, &wiring::Grants)> =
        settings.services.iter().zip(&grants).collect();
    iam::add(&mut template, ctx, &pairs);
    if settings.public_service().is_some() {
        load_balancer::add(&mut template, ctx, &settings);
    }
    discovery::add(&mut template, ctx, &settings);
    services::add(&mut template, ctx, &settings, &wiring, &grants);
    scaling::add(&mut template, ctx, &settings);
    add_exports(&mut template, ctx, &settings);
    Ok(template)
}

fn add_exports(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.export(
        "cluster-name",
        cfn::reference(cluster::CLUSTER),
        "Name of the ECS cluster",
    );
    template.export(
        "cluster-arn",
        cfn::get_att(cluster::CLUSTER, "Arn"),
        "ARN of the ECS cluster",
    );
    template.export(
        "execution-role-arn",
        cfn::get_att(iam::EXECUTION_ROLE, "Arn"),
        "ARN of the role ECS starts the tasks with (scheduled tasks pass it)",
    );
    if let Some(first) = settings.public_service() {
        template.export(
            "alb-arn",
            cfn::reference(LOAD_BALANCER),
            "ARN of the load balancer",
        );
        template.export(
            "alb-dns-name",
            cfn::get_att(LOAD_BALANCER, "DNSName"),
            "DNS name of the load balancer (alias target)",
        );
        template.export(
            "alb-full-name",
            cfn::get_att(LOAD_BALANCER, "LoadBalancerFullName"),
            "The load balancer's `app/<name>/<id>`, its CloudWatch dimension",
        );
        template.export(
            "alb-hosted-zone-id",
            cfn::get_att(LOAD_BALANCER, "CanonicalHostedZoneID"),
            "Hosted zone of the load balancer's DNS name (alias records)",
        );
        template.export(
            "alb-canonical-hosted-zone-id",
            cfn::get_att(LOAD_BALANCER, "CanonicalHostedZoneID"),
            "Hosted zone of the load balancer's DNS name (alias records; same as `alb-hosted-zone-id`)",
        );
        template.export(
            "alb-https-listener-arn",
            cfn::reference(HTTPS_LISTENER),
            "ARN of the HTTPS listener (an API Gateway VPC link integrates with it)",
        );
        template.export(
            "target-group-full-name",
            cfn::get_att(&target_group_id(first), "TargetGroupFullName"),
            "The default target's (else the first routed service's) `targetgroup/<name>/<id>`, its CloudWatch dimension",
        );
    }
    if settings.namespace.is_some() {
        template.export(
            "namespace-id",
            cfn::get_att(discovery::NAMESPACE, "Id"),
            "ID of the Cloud Map private DNS namespace",
        );
        template.export(
            "namespace-arn",
            cfn::get_att(discovery::NAMESPACE, "Arn"),
            "ARN of the Cloud Map private DNS namespace",
        );
        template.export(
            "namespace-name",
            strata_sdk::Value::String(settings.namespace.clone().unwrap_or_default()),
            "DNS name of the Cloud Map namespace",
        );
    }
    for service in &settings.services {
        let name = &service.name;
        template.export(
            &format!("{name}-service-name"),
            cfn::get_att(&services::service_id(service), "Name"),
            &format!("Name of the ECS service {}", ctx.name(name)),
        );
        template.export(
            &format!("{name}-log-group-name"),
            cfn::reference(&cluster::log_group_id(service)),
            &format!("Log group of the {name} service's containers"),
        );
        template.export(
            &format!("{name}-task-family"),
            strata_sdk::Value::String(ctx.name(name)),
            &format!("Task definition family of the {name} service (its latest revision runs)"),
        );
        template.export(
            &format!("{name}-task-role-arn"),
            cfn::get_att(&iam::task_role_id(service), "Arn"),
            &format!("ARN of the {name} service's task role"),
        );
        if service.listener.is_some() {
            template.export(
                &format!("{name}-target-group-full-name"),
                cfn::get_att(&target_group_id(service), "TargetGroupFullName"),
                &format!(
                    "The {name} service's `targetgroup/<name>/<id>`, its CloudWatch dimension"
                ),
            );
        }
        if settings.namespace.is_some() {
            template.export(
                &format!("{name}-discovery-service-arn"),
                cfn::get_att(&discovery::service_id(service), "Arn"),
                &format!("ARN of the {name} service's Cloud Map service"),
            );
        }
    }
}

strata_sdk::module! {
    name: "compute",
    description: "ECS Fargate services behind an HTTPS Application Load Balancer, with log groups, IAM roles and autoscaling",
    config: Config,
    render: render,
}
