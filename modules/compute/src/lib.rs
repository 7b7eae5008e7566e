//! The `compute` stack type: ECS Fargate services behind an Application
//! Load Balancer.
//!
//! - [`config`] validates the stack's table (and [`config::service`] each
//!   service's) and resolves the defaults that depend on the environment:
//!   task size, task counts, log retention, the load balancer's deletion
//!   protection. [`fargate`] knows which task sizes Fargate runs.
//! - [`wiring`] imports what the optional stacks offer the services
//!   (database endpoint and secret, queues, secrets, buckets, the image
//!   repository).
//! - [`cluster`] adds the ECS cluster and a log group per service; [`iam`]
//!   the execution and task roles; [`load_balancer`] the ALB, its target
//!   group and listeners (only with a public service); [`services`] the
//!   task definitions and services; [`scaling`] their target tracking.
//! - [`images`] makes each service's image tag a template parameter that
//!   defaults to the file's tag, so a code-only deploy can change it.
//!
//! The stack imports the network and security groups (`networking`,
//! `security`), the certificate when a service is public, and the optional
//! stacks; the `monitoring`, `log-forwarder` and `waf` stacks import its
//! exports ([`exports`]).

pub mod cluster;
pub mod config;
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
use load_balancer::{LOAD_BALANCER, TARGET_GROUP, Target};

/// The exports of the load balancer, present only when a service is public.
pub const LOAD_BALANCER_EXPORTS: [&str; 5] = [
    "alb-arn",
    "alb-dns-name",
    "alb-full-name",
    "alb-hosted-zone-id",
    "target-group-full-name",
];

/// The outputs a stack with these services exports, in order: the
/// cluster's, the load balancer's when `public`, then per service its
/// service and log group names.
pub fn exports(services: &[&str], public: bool) -> Vec<String> {
    let mut exports = vec!["cluster-name".to_owned(), "cluster-arn".to_owned()];
    if public {
        exports.extend(LOAD_BALANCER_EXPORTS.map(String::from));
    }
    for service in services {
        exports.push(format!("{service}-service-name"));
        exports.push(format!("{service}-log-group-name"));
    }
    exports
}

/// Render a compute stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let names: Vec<&str> = settings.services.iter().map(|s| s.name.as_str()).collect();
    let mut template = Template::new(
        ctx,
        format!(
            "{}: ECS Fargate services {}{}",
            ctx.name("cluster"),
            names.join(", "),
            match settings.public_service() {
                Some(public) => format!(", `{}` behind an HTTPS load balancer", public.name),
                None => String::new(),
            }
        ),
    );
    template.warn_all(warnings);

    let wiring = wiring::import(&mut template, &settings);
    cluster::add(&mut template, ctx, &settings);
    iam::add(&mut template, ctx, &wiring);
    if let Some(service) = settings.public_service()
        && let Some(listener) = &service.listener
    {
        let target = Target {
            service: &service.name,
            listener,
        };
        load_balancer::add(&mut template, ctx, &settings, &target);
    }
    services::add(&mut template, ctx, &settings, &wiring);
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
    if settings.public_service().is_some() {
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
            "target-group-full-name",
            cfn::get_att(TARGET_GROUP, "TargetGroupFullName"),
            "The target group's `targetgroup/<name>/<id>`, its CloudWatch dimension",
        );
    }
    for service in &settings.services {
        template.export(
            &format!("{}-service-name", service.name),
            cfn::get_att(&services::service_id(service), "Name"),
            &format!("Name of the ECS service {}", ctx.name(&service.name)),
        );
        template.export(
            &format!("{}-log-group-name", service.name),
            cfn::reference(&cluster::log_group_id(service)),
            &format!("Log group of the {} service's containers", service.name),
        );
    }
}

strata_sdk::module! {
    name: "compute",
    description: "ECS Fargate services behind an HTTPS Application Load Balancer, with log groups, IAM roles and autoscaling",
    config: Config,
    render: render,
}
