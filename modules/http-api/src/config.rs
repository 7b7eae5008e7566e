//! The `[stacks.<name>]` table of an http-api stack, and its validation
//! into [`Settings`]: the integration, the origin host, routes, throttling,
//! logs, the custom domain and the authorizer, every problem reported at
//! its key at once.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// How API Gateway reaches the load balancer.
pub const INTEGRATIONS: [&str; 2] = ["alb", "vpc-link"];
/// API Gateway's account-level ceilings: 5000 burst, 10000 per second.
const BURST: std::ops::RangeInclusive<u32> = 1..=5000;
const RATE: std::ops::RangeInclusive<u32> = 1..=10_000;

/// An API Gateway HTTP API in front of the compute stack's services:
/// `ANY /{service}/{proxy+}` routes through a VPC link to the load
/// balancer's HTTPS listener, or over the internet to its HTTPS URL.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import the load balancer's HTTPS listener from
    /// (`alb-https-listener-arn`, for `integration = "vpc-link"`).
    pub compute_stack: String,
    /// Stack to import the VPC, its CIDR and the private subnets from (for
    /// the VPC link).
    pub networking_stack: String,
    /// `alb` (seed 001's choice, no VPC link to pay for): HTTPS to `origin`
    /// over the internet; `vpc-link`: a VPC link to the load balancer's
    /// HTTPS listener, traffic staying in the VPC.
    pub integration: String,
    /// Host name the load balancer's certificate covers, e.g.
    /// `alb.dev.example.com`: API Gateway connects to it (`alb`) or checks
    /// the listener's certificate against it (`vpc-link`). Required.
    pub origin: String,
    /// Routes, keyed by the path segment (and usually the compute service)
    /// they forward, e.g. `orders` for `ANY /orders/{proxy+}`.
    pub routes: BTreeMap<String, RouteConfig>,
    /// Requests a burst may hold (1 to 5000).
    pub throttling_burst_limit: u32,
    /// Steady requests per second (1 to 10000).
    pub throttling_rate_limit: u32,
    /// Days to keep access logs; a CloudWatch Logs period. Defaults to 7
    /// (dev), 30 (staging), 90 (prod).
    pub log_retention_days: Option<u32>,
    /// Custom domain of the API, e.g. `api.example.com`; its certificate
    /// comes from `certificate_stack`.
    pub domain_name: Option<String>,
    /// Stack to import the custom domain's `certificate-arn` from.
    pub certificate_stack: String,
    /// Turn off the `execute-api` endpoint so clients use the custom
    /// domain. Defaults to true with `domain_name`.
    pub disable_default_endpoint: Option<bool>,
    /// Cognito stack whose user pool issues the JWTs routes require (its
    /// `user-pool-id` and `client-<cognito_client>-id`); `""` for none.
    pub cognito_stack: String,
    /// App client of `cognito_stack` whose tokens are accepted.
    pub cognito_client: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            compute_stack: "compute".into(),
            networking_stack: "networking".into(),
            integration: "alb".into(),
            origin: String::new(),
            routes: BTreeMap::new(),
            throttling_burst_limit: 200,
            throttling_rate_limit: 100,
            log_retention_days: None,
            domain_name: None,
            certificate_stack: "certificate".into(),
            disable_default_endpoint: None,
            cognito_stack: String::new(),
            cognito_client: "web".into(),
        }
    }
}

/// One route: `ANY {path}/{proxy+}`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RouteConfig {
    /// Path prefix of the route. Defaults to `/{key}`.
    pub path: Option<String>,
    /// Forward `/{proxy}` instead of the full path (drop the prefix).
    pub strip_prefix: bool,
    /// Require a valid JWT of the Cognito user pool. Defaults to true with
    /// `cognito_stack`.
    pub authorize: Option<bool>,
}

/// A validated route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The key, e.g. `orders`.
    pub key: String,
    /// Prefix of its logical ids, e.g. `Orders`.
    pub id: String,
    /// The path prefix, e.g. `/orders`.
    pub path: String,
    /// Drop the prefix when forwarding.
    pub strip_prefix: bool,
    /// JWT required.
    pub authorize: bool,
}

/// The Cognito user pool and client tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cognito {
    /// The stack.
    pub stack: String,
    /// The app client's name.
    pub client: String,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack of the load balancer.
    pub compute_stack: String,
    /// Stack of the network.
    pub networking_stack: String,
    /// Through a VPC link (else over the internet).
    pub vpc_link: bool,
    /// Host of the load balancer's certificate.
    pub origin: String,
    /// Routes, in key order.
    pub routes: Vec<Route>,
    /// Burst limit.
    pub burst: u32,
    /// Rate limit.
    pub rate: u32,
    /// Access log retention, days.
    pub log_retention_days: u32,
    /// Custom domain, with the certificate's stack.
    pub domain: Option<(String, String)>,
    /// `DisableExecuteApiEndpoint`.
    pub disable_default_endpoint: bool,
    /// JWT authorizer.
    pub cognito: Option<Cognito>,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("compute_stack", &self.compute_stack, &mut diagnostics);
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        if !INTEGRATIONS.contains(&self.integration.as_str()) {
            let help = match check::did_you_mean(&self.integration, &INTEGRATIONS) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => "use `alb` (over the internet) or `vpc-link` (private, through the VPC)"
                    .to_owned(),
            };
            diagnostics
                .error(
                    "integration",
                    format!("`{}` is not an integration", self.integration),
                )
                .help(help);
        }
        let wording = check::DomainWording {
            single_label: "it is a single label",
            misplaced_wildcard: " (a host has no wildcard)",
            help: "write the host name the load balancer's certificate covers, e.g. `alb.dev.example.com`",
        };
        if self.origin.is_empty() {
            diagnostics
                .error("origin", "`origin` is empty")
                .help("name the host the load balancer's certificate covers (an alias record of the load balancer), e.g. `alb.dev.example.com`");
        } else if self.origin.contains('*') {
            diagnostics
                .error(
                    "origin",
                    format!("`{}` is not a host name: it has a wildcard", self.origin),
                )
                .help(wording.help);
        } else {
            check::domain_name("origin", &self.origin, &wording, &mut diagnostics);
        }
        let cognito = (!self.cognito_stack.is_empty()).then(|| Cognito {
            stack: self.cognito_stack.clone(),
            client: self.cognito_client.clone(),
        });
        if let Some(cognito) = &cognito {
            check::stack_name("cognito_stack", &cognito.stack, &mut diagnostics);
            check::resource_name(
                "cognito_client",
                "app client",
                &cognito.client,
                64,
                "web",
                &mut diagnostics,
            );
        }
        let routes = self.check_routes(cognito.is_some(), &mut diagnostics);
        if !BURST.contains(&self.throttling_burst_limit) {
            diagnostics
                .error(
                    "throttling_burst_limit",
                    format!("`{}` is outside 1 to 5000", self.throttling_burst_limit),
                )
                .help("use e.g. `200`; API Gateway's account burst limit is 5000");
        }
        if !RATE.contains(&self.throttling_rate_limit) {
            diagnostics
                .error(
                    "throttling_rate_limit",
                    format!("`{}` is outside 1 to 10000", self.throttling_rate_limit),
                )
                .help("use e.g. `100` requests per second; API Gateway's account limit is 10000");
        }
        let log_retention_days = self
            .log_retention_days
            .unwrap_or_else(|| check::default_log_retention_days(ctx));
        check::log_retention("log_retention_days", log_retention_days, &mut diagnostics);
        let domain = self.check_domain(&mut diagnostics);
        if self.disable_default_endpoint == Some(true) && domain.is_none() {
            diagnostics
                .error(
                    "disable_default_endpoint",
                    "`disable_default_endpoint = true` leaves no way in without `domain_name`",
                )
                .help("set `domain_name`, or remove `disable_default_endpoint`");
        }
        diagnostics.check()?;
        let warnings = diagnostics;
        Ok((
            Settings {
                compute_stack: self.compute_stack,
                networking_stack: self.networking_stack,
                vpc_link: self.integration == "vpc-link",
                origin: self.origin,
                routes,
                burst: self.throttling_burst_limit,
                rate: self.throttling_rate_limit,
                log_retention_days,
                disable_default_endpoint: self.disable_default_endpoint.unwrap_or(domain.is_some()),
                domain,
                cognito,
            },
            warnings,
        ))
    }

    fn check_routes(&self, cognito: bool, diagnostics: &mut Diagnostics) -> Vec<Route> {
        if self.routes.is_empty() {
            diagnostics
                .error("routes", "the API has no `routes`")
                .help("add a route per service, e.g. `[stacks.api-gateway.routes.orders]` for `ANY /orders/{proxy+}`");
        }
        let mut routes: Vec<Route> = Vec::new();
        for (key, config) in &self.routes {
            let at = |k: &str| format!("routes.{key}.{k}");
            check::resource_name(
                &format!("routes.{key}"),
                "route",
                key,
                64,
                "orders",
                diagnostics,
            );
            let path = config.path.clone().unwrap_or_else(|| format!("/{key}"));
            let valid = path.starts_with('/')
                && path.len() > 1
                && !path.ends_with('/')
                && !path.contains("//")
                && path
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
            if !valid {
                diagnostics
                    .error(at("path"), format!("`{path}` is not a route prefix"))
                    .help("write an absolute path without a trailing slash or parameters, e.g. `/orders` or `/v1/orders`");
            } else if let Some(other) = routes.iter().find(|r| r.path == path) {
                diagnostics
                    .error(
                        at("path"),
                        format!("`{path}` is the path of route `{}` already", other.key),
                    )
                    .help("give each route its own path");
            }
            if config.authorize == Some(true) && !cognito {
                diagnostics
                    .error(
                        at("authorize"),
                        "`authorize = true`, but `cognito_stack` is empty",
                    )
                    .help("name the Cognito stack whose tokens to accept, or remove `authorize`");
            }
            routes.push(Route {
                key: key.clone(),
                id: strata_sdk::cfn::logical_id(key),
                path,
                strip_prefix: config.strip_prefix,
                authorize: config.authorize.unwrap_or(cognito) && cognito,
            });
        }
        routes
    }

    fn check_domain(&self, diagnostics: &mut Diagnostics) -> Option<(String, String)> {
        let domain = self.domain_name.as_ref()?;
        let wording = check::DomainWording {
            single_label: "it is a single label",
            misplaced_wildcard: " (a wildcard is `*.` at the start only)",
            help: "write the API's host name, e.g. `api.example.com`",
        };
        let name = check::domain_name("domain_name", domain, &wording, diagnostics)?;
        if name == self.origin {
            diagnostics
                .error("domain_name", format!("`{name}` is also the `origin`: the API would call itself"))
                .help("point `origin` at the load balancer's own name (e.g. `alb.example.com`), and `domain_name` at the API's");
        }
        if self.certificate_stack.is_empty() {
            diagnostics
                .error("certificate_stack", "`domain_name` is set, but `certificate_stack` is empty")
                .help("name the certificate stack whose certificate covers the domain (e.g. `certificate`)");
            return None;
        }
        check::stack_name("certificate_stack", &self.certificate_stack, diagnostics);
        Some((name.to_owned(), self.certificate_stack.clone()))
    }
}
