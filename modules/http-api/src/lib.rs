//! The `http-api` stack type: an API Gateway HTTP API in front of the
//! compute stack's load balancer.
//!
//! - [`config`] validates the stack's table: the integration, the origin
//!   host, routes, throttling, logs, the domain and the authorizer.
//! - This file adds the resources: the API, its `$default` stage (auto
//!   deploy, throttling, JSON access logs to a log group kept like every
//!   other log group: `Retain` in production, `Delete` elsewhere), per
//!   route an `HTTP_PROXY` integration and an `ANY {path}/{proxy+}` route;
//!   with `vpc-link`, a VPC link in the private subnets whose security
//!   group may send only HTTPS into the VPC; with Cognito, a JWT
//!   authorizer; with a domain, the custom domain and its API mapping.
//!
//! Both integrations speak HTTPS to the load balancer and check its
//! certificate against `origin`, so the load balancer's listener rules
//! (compute's `path_patterns`) decide which service answers.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::{Route, Settings};

/// Logical id of the API.
pub const API: &str = "Api";
/// Logical id of the `$default` stage.
pub const STAGE: &str = "DefaultStage";
/// Logical id of the access log group.
pub const LOG_GROUP: &str = "AccessLogGroup";
/// Logical id of the VPC link.
pub const VPC_LINK: &str = "VpcLink";
/// Logical id of the VPC link's security group.
pub const VPC_LINK_SECURITY_GROUP: &str = "VpcLinkSecurityGroup";
/// Logical id of the JWT authorizer.
pub const AUTHORIZER: &str = "JwtAuthorizer";
/// Logical id of the custom domain.
pub const DOMAIN: &str = "DomainName";
/// Logical id of the domain's API mapping.
pub const MAPPING: &str = "ApiMapping";
/// API Gateway's longest integration timeout, milliseconds.
const TIMEOUT_MILLIS: u32 = 30_000;

/// The access log line: one JSON object per request.
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","requestTime":"$context.requestTime","httpMethod":"$context.httpMethod","routeKey":"$context.routeKey","status":"$context.status","protocol":"$context.protocol","responseLength":"$context.responseLength","integrationStatus":"$context.integrationStatus","integrationLatency":"$context.integrationLatency","integrationError":"$context.integrationErrorMessage","authorizerError":"$context.authorizer.error"}"#;

/// The outputs an API exports, in order: its id and endpoint, the VPC
/// link's with `vpc_link`, the domain's with `domain`.
pub fn exports(vpc_link: bool, domain: bool) -> Vec<String> {
    let mut exports = vec!["api-id".to_owned(), "api-endpoint".to_owned()];
    if vpc_link {
        exports.push("vpc-link-id".to_owned());
        exports.push("vpc-link-security-group-id".to_owned());
    }
    if domain {
        for name in ["domain-name", "domain-target", "domain-hosted-zone-id"] {
            exports.push(name.to_owned());
        }
    }
    exports
}

/// Render an http-api stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let name = ctx.name(&ctx.stack);
    let routes: Vec<String> = settings
        .routes
        .iter()
        .map(|r| format!("{}/*", r.path))
        .collect();
    let mut template = Template::new(
        ctx,
        format!(
            "{name}: HTTP API routing {} to https://{} {}",
            routes.join(", "),
            settings.origin,
            if settings.vpc_link {
                "through a VPC link"
            } else {
                "over the internet"
            }
        ),
    );
    template.warn_all(warnings);

    template.resource(
        API,
        Resource::new(
            "AWS::ApiGatewayV2::Api",
            json!({
                "Name": name,
                "ProtocolType": "HTTP",
                "Description": format!("Routes to the services behind https://{}", settings.origin),
                "DisableExecuteApiEndpoint": settings.disable_default_endpoint,
                "Tags": ctx.tag_map(),
            }),
        ),
    );
    template.resource(
        LOG_GROUP,
        aws::log_group(
            ctx,
            format!("/aws/http-api/{name}"),
            settings.log_retention_days,
            ctx.is_production(),
        ),
    );
    template.resource(
        STAGE,
        Resource::new(
            "AWS::ApiGatewayV2::Stage",
            json!({
                "ApiId": cfn::reference(API),
                "StageName": "$default",
                "AutoDeploy": true,
                "DefaultRouteSettings": {
                    "ThrottlingBurstLimit": settings.burst,
                    "ThrottlingRateLimit": settings.rate,
                    "DetailedMetricsEnabled": true,
                },
                "AccessLogSettings": {
                    "DestinationArn": cfn::get_att(LOG_GROUP, "Arn"),
                    "Format": ACCESS_LOG_FORMAT,
                },
                "Tags": ctx.tag_map(),
            }),
        ),
    );
    let listener = settings.vpc_link.then(|| {
        add_vpc_link(&mut template, ctx, &settings);
        template.import(&settings.compute_stack, "alb-https-listener-arn")
    });
    if let Some(cognito) = &settings.cognito {
        let pool = template.import(&cognito.stack, "user-pool-id");
        let client = template.import(&cognito.stack, &format!("client-{}-id", cognito.client));
        template.resource(
            AUTHORIZER,
            Resource::new(
                "AWS::ApiGatewayV2::Authorizer",
                json!({
                    "ApiId": cfn::reference(API),
                    "Name": ctx.name("jwt"),
                    "AuthorizerType": "JWT",
                    "IdentitySource": ["$request.header.Authorization"],
                    "JwtConfiguration": {
                        "Issuer": cfn::join("", [
                            json!("https://cognito-idp."),
                            cfn::region(),
                            json!(".amazonaws.com/"),
                            pool,
                        ]),
                        "Audience": [client],
                    },
                }),
            ),
        );
    }
    for route in &settings.routes {
        add_route(&mut template, &settings, listener.as_ref(), route);
    }
    if let Some((domain, certificate_stack)) = &settings.domain {
        let certificate = template.import(certificate_stack, "certificate-arn");
        template.resource(
            DOMAIN,
            Resource::new(
                "AWS::ApiGatewayV2::DomainName",
                json!({
                    "DomainName": domain,
                    "DomainNameConfigurations": [{
                        "CertificateArn": certificate,
                        "EndpointType": "REGIONAL",
                        "SecurityPolicy": "TLS_1_2",
                    }],
                    "Tags": ctx.tag_map(),
                }),
            ),
        );
        template.resource(
            MAPPING,
            Resource::new(
                "AWS::ApiGatewayV2::ApiMapping",
                json!({
                    "ApiId": cfn::reference(API),
                    "DomainName": cfn::reference(DOMAIN),
                    "Stage": cfn::reference(STAGE),
                }),
            ),
        );
    }
    add_exports(&mut template, &settings);
    Ok(template)
}

fn add_vpc_link(template: &mut Template, ctx: &Context, settings: &Settings) {
    let networking = &settings.networking_stack;
    let vpc = template.import(networking, "vpc-id");
    let cidr = template.import(networking, "vpc-cidr");
    let subnets = cfn::split(",", template.import(networking, "private-subnet-ids"));
    template.resource(
        VPC_LINK_SECURITY_GROUP,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("VPC link of {}: HTTPS to the load balancer only", ctx.name(&ctx.stack)),
                "VpcId": vpc,
                "SecurityGroupEgress": [{
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": cidr,
                    "Description": "HTTPS to the load balancer",
                }],
                "Tags": ctx.tags_named(&ctx.name(&format!("{}-vpc-link", ctx.stack))),
            }),
        ),
    );
    template.resource(
        VPC_LINK,
        Resource::new(
            "AWS::ApiGatewayV2::VpcLink",
            json!({
                "Name": ctx.name(&ctx.stack),
                "SubnetIds": subnets,
                "SecurityGroupIds": [cfn::reference(VPC_LINK_SECURITY_GROUP)],
                "Tags": ctx.tag_map(),
            }),
        ),
    );
}

fn add_route(
    template: &mut Template,
    settings: &Settings,
    listener: Option<&Value>,
    route: &Route,
) {
    let integration = format!("{}Integration", route.id);
    let mut properties = json!({
        "ApiId": cfn::reference(API),
        "IntegrationType": "HTTP_PROXY",
        "IntegrationMethod": "ANY",
        "PayloadFormatVersion": "1.0",
        "TimeoutInMillis": TIMEOUT_MILLIS,
    });
    match listener {
        Some(listener) => {
            properties["ConnectionType"] = json!("VPC_LINK");
            properties["ConnectionId"] = cfn::reference(VPC_LINK);
            properties["IntegrationUri"] = listener.clone();
            properties["TlsConfig"] = json!({ "ServerNameToVerify": settings.origin });
            if route.strip_prefix {
                properties["RequestParameters"] =
                    json!({ "overwrite:path": "/$request.path.proxy" });
            }
        }
        None => {
            let path = if route.strip_prefix {
                ""
            } else {
                route.path.as_str()
            };
            properties["ConnectionType"] = json!("INTERNET");
            properties["IntegrationUri"] =
                json!(format!("https://{}{path}/{{proxy}}", settings.origin));
        }
    }
    template.resource(
        &integration,
        Resource::new("AWS::ApiGatewayV2::Integration", properties),
    );
    let mut route_properties = json!({
        "ApiId": cfn::reference(API),
        "RouteKey": format!("ANY {}/{{proxy+}}", route.path),
        "Target": cfn::join("/", [json!("integrations"), cfn::reference(&integration)]),
        "AuthorizationType": if route.authorize { "JWT" } else { "NONE" },
    });
    if route.authorize {
        route_properties["AuthorizerId"] = cfn::reference(AUTHORIZER);
    }
    template.resource(
        &format!("{}Route", route.id),
        Resource::new("AWS::ApiGatewayV2::Route", route_properties),
    );
}

fn add_exports(template: &mut Template, settings: &Settings) {
    template.export("api-id", cfn::reference(API), "ID of the HTTP API");
    template.export(
        "api-endpoint",
        cfn::get_att(API, "ApiEndpoint"),
        "Default endpoint of the HTTP API (`https://<id>.execute-api.<region>.amazonaws.com`)",
    );
    if settings.vpc_link {
        template.export(
            "vpc-link-id",
            cfn::reference(VPC_LINK),
            "ID of the VPC link",
        );
        template.export(
            "vpc-link-security-group-id",
            cfn::get_att(VPC_LINK_SECURITY_GROUP, "GroupId"),
            "Security group of the VPC link (the load balancer must admit it on 443)",
        );
    }
    if settings.domain.is_some() {
        template.export(
            "domain-name",
            cfn::reference(DOMAIN),
            "The API's custom domain",
        );
        template.export(
            "domain-target",
            cfn::get_att(DOMAIN, "RegionalDomainName"),
            "Regional domain name of the custom domain (alias target)",
        );
        template.export(
            "domain-hosted-zone-id",
            cfn::get_att(DOMAIN, "RegionalHostedZoneId"),
            "Hosted zone of the custom domain's regional name (alias records)",
        );
    }
}

strata_sdk::module! {
    name: "http-api",
    description: "API Gateway HTTP API routing to the compute stack's services through a VPC link or the load balancer's HTTPS URL, with throttling, access logs, a custom domain and a Cognito JWT authorizer",
    config: Config,
    render: render,
}
