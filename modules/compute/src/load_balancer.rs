//! The internet-facing Application Load Balancer in front of the public
//! services: HTTPS on 443 with the certificate stack's certificate and a
//! TLS 1.3 policy, HTTP on 80 redirecting to HTTPS, and one IP target group
//! per public service (the tasks register themselves by their awsvpc
//! addresses).
//!
//! The public service without routing is the HTTPS listener's default
//! target (its group keeps the logical id `TargetGroup`); each routed
//! service gets a listener rule matching its `path_patterns` and
//! `host_headers` at its priority. Without a default target, what no rule
//! matches gets a plain 404.
//!
//! Only rendered when a service is public.

use strata_sdk::{Context, Resource, Template, Value, cfn, json};

use crate::config::{Service, Settings};

/// Logical id of the load balancer.
pub const LOAD_BALANCER: &str = "LoadBalancer";
/// Logical id of the default target's target group.
pub const TARGET_GROUP: &str = "TargetGroup";
/// Logical id of the HTTPS listener (services behind it depend on it).
pub const HTTPS_LISTENER: &str = "HttpsListener";
/// Logical id of the HTTP → HTTPS redirect.
pub const HTTP_LISTENER: &str = "HttpListener";
/// TLS 1.3 and 1.2 with forward secrecy only.
pub const SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";
/// Key prefix of the access logs in the logs bucket.
pub const ACCESS_LOG_PREFIX: &str = "alb";

/// Logical id of a public service's target group: `TargetGroup` for the
/// default target, `{Service}TargetGroup` for a routed one.
pub fn target_group_id(service: &Service) -> String {
    match service.listener.as_ref().and_then(|l| l.rule.as_ref()) {
        None => TARGET_GROUP.to_owned(),
        Some(_) => format!("{}TargetGroup", service.id),
    }
}

/// Logical id of a routed service's listener rule.
pub fn listener_rule_id(service: &Service) -> String {
    format!("{}ListenerRule", service.id)
}

/// What a public service's ECS service must wait for: its group must be
/// attached to the listener (by the listener itself or by the rule) before
/// the service can register targets in it.
pub fn attachment(service: &Service) -> String {
    match service.listener.as_ref().and_then(|l| l.rule.as_ref()) {
        None => HTTPS_LISTENER.to_owned(),
        Some(_) => listener_rule_id(service),
    }
}

/// Add the load balancer, the target groups, both listeners and the rules.
pub fn add(template: &mut Template, ctx: &Context, settings: &Settings) {
    add_load_balancer(template, ctx, settings);
    let vpc = template.import(&settings.networking_stack, "vpc-id");
    for service in settings.public_services() {
        let Some(listener) = &service.listener else {
            continue;
        };
        template.resource(
            &target_group_id(service),
            Resource::new(
                "AWS::ElasticLoadBalancingV2::TargetGroup",
                json!({
                    // Unnamed: a port change replaces the group, and a fixed name
                    // would block that.
                    "TargetType": "ip",
                    "Protocol": "HTTP",
                    "ProtocolVersion": "HTTP1",
                    "Port": listener.port,
                    "VpcId": vpc,
                    "HealthCheckEnabled": true,
                    "HealthCheckProtocol": "HTTP",
                    "HealthCheckPath": listener.health_check_path,
                    "HealthCheckPort": "traffic-port",
                    "HealthCheckIntervalSeconds": 30,
                    "HealthCheckTimeoutSeconds": 5,
                    "HealthyThresholdCount": 2,
                    "UnhealthyThresholdCount": 3,
                    "Matcher": { "HttpCode": "200-399" },
                    "TargetGroupAttributes": [
                        { "Key": "deregistration_delay.timeout_seconds", "Value": "30" },
                    ],
                    "Tags": ctx.tags_named(&ctx.name(&service.name)),
                }),
            ),
        );
        if let Some(rule) = &listener.rule {
            let mut conditions = Vec::new();
            if !rule.path_patterns.is_empty() {
                conditions.push(json!({
                    "Field": "path-pattern",
                    "PathPatternConfig": { "Values": rule.path_patterns },
                }));
            }
            if !rule.host_headers.is_empty() {
                conditions.push(json!({
                    "Field": "host-header",
                    "HostHeaderConfig": { "Values": rule.host_headers },
                }));
            }
            template.resource(
                &listener_rule_id(service),
                Resource::new(
                    "AWS::ElasticLoadBalancingV2::ListenerRule",
                    json!({
                        "ListenerArn": cfn::reference(HTTPS_LISTENER),
                        "Priority": rule.priority,
                        "Conditions": conditions,
                        "Actions": [{
                            "Type": "forward",
                            "TargetGroupArn": cfn::reference(&target_group_id(service)),
                        }],
                    }),
                ),
            );
        }
    }
    let default_action = match settings.default_target() {
        Some(service) => json!({
            "Type": "forward",
            "TargetGroupArn": cfn::reference(&target_group_id(service)),
        }),
        None => json!({
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "StatusCode": "404",
                "ContentType": "text/plain",
                "MessageBody": "not found",
            },
        }),
    };
    let certificate = template.import(&settings.certificate_stack, "certificate-arn");
    template.resource(
        HTTPS_LISTENER,
        Resource::new(
            "AWS::ElasticLoadBalancingV2::Listener",
            json!({
                "LoadBalancerArn": cfn::reference(LOAD_BALANCER),
                "Port": 443,
                "Protocol": "HTTPS",
                "SslPolicy": SSL_POLICY,
                "Certificates": [{ "CertificateArn": certificate }],
                "DefaultActions": [default_action],
            }),
        ),
    );
    template.resource(
        HTTP_LISTENER,
        Resource::new(
            "AWS::ElasticLoadBalancingV2::Listener",
            json!({
                "LoadBalancerArn": cfn::reference(LOAD_BALANCER),
                "Port": 80,
                "Protocol": "HTTP",
                "DefaultActions": [{
                    "Type": "redirect",
                    "RedirectConfig": {
                        "Protocol": "HTTPS",
                        "Port": "443",
                        "Host": "#{host}",
                        "Path": "/#{path}",
                        "Query": "#{query}",
                        "StatusCode": "HTTP_301",
                    },
                }],
            }),
        ),
    );
}

fn add_load_balancer(template: &mut Template, ctx: &Context, settings: &Settings) {
    let subnets = cfn::split(
        ",",
        template.import(&settings.networking_stack, "public-subnet-ids"),
    );
    let security_group = template.import(&settings.security_stack, "alb-security-group-id");
    let alb = &settings.alb;
    let mut attributes = vec![
        attribute(
            "deletion_protection.enabled",
            alb.deletion_protection.to_string(),
        ),
        attribute(
            "idle_timeout.timeout_seconds",
            alb.idle_timeout_seconds.to_string(),
        ),
        attribute(
            "routing.http.drop_invalid_header_fields.enabled",
            "true".into(),
        ),
    ];
    if settings.s3_stack.is_none() {
        // Not silently: an environment without an `s3` stack loses the
        // load balancer's access logs (review finding 9).
        template.warn(
            "s3_stack",
            "the load balancer's access logs are off: no `s3` stack receives them",
            Some(
                "set `s3_stack` to an `s3` stack (its logs bucket takes them under `alb/`), or accept unlogged traffic",
            ),
        );
    }
    if let Some(stack) = settings
        .s3_stack
        .as_deref()
        .filter(|_| settings.alb_access_logs)
    {
        let bucket = template.import(stack, "logs-bucket-name");
        attributes.push(attribute("access_logs.s3.enabled", "true".into()));
        attributes.push(json!({ "Key": "access_logs.s3.bucket", "Value": bucket }));
        attributes.push(attribute("access_logs.s3.prefix", ACCESS_LOG_PREFIX.into()));
    }
    template.resource(
        LOAD_BALANCER,
        Resource::new(
            "AWS::ElasticLoadBalancingV2::LoadBalancer",
            json!({
                "Name": alb.name,
                "Type": "application",
                "Scheme": "internet-facing",
                "IpAddressType": "ipv4",
                "Subnets": subnets,
                "SecurityGroups": [security_group],
                "LoadBalancerAttributes": attributes,
                "Tags": ctx.tags_named(&alb.name),
            }),
        ),
    );
}

fn attribute(key: &str, value: String) -> Value {
    json!({ "Key": key, "Value": value })
}
