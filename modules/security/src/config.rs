//! The `[stacks.<name>]` table of a security stack, and its validation.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::cidr::{Cidr, CidrError};
use strata_sdk::{Diagnostics, check};

/// Security groups for the load balancer, the ECS tasks and the database,
/// each admitting traffic only from the tier in front of it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the networking stack (in this environment file) whose VPC and
    /// VPC endpoint security group to use.
    pub networking_stack: String,
    /// TCP port the ECS tasks listen on; the load balancer forwards to it
    /// (1 to 65535).
    pub app_port: u32,
    /// TCP port of the database; only the ECS tasks may connect to it
    /// (1 to 65535).
    pub database_port: u32,
    /// Admit HTTP (port 80) at the load balancer, only so it can redirect to
    /// HTTPS.
    pub allow_http_redirect: bool,
    /// IPv4 or IPv6 blocks allowed to reach the load balancer on 443 (and 80),
    /// e.g. `["0.0.0.0/0", "::/0"]` for the whole internet.
    pub alb_ingress_cidrs: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            app_port: 8080,
            database_port: 5432,
            allow_http_redirect: true,
            alb_ingress_cidrs: vec!["0.0.0.0/0".into()],
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The networking stack to import from.
    pub networking_stack: String,
    /// Port of the ECS tasks.
    pub app_port: u16,
    /// Port of the database.
    pub database_port: u16,
    /// Whether the load balancer admits port 80.
    pub allow_http_redirect: bool,
    /// Blocks admitted by the load balancer.
    pub alb_ingress_cidrs: Vec<Cidr>,
}

impl Config {
    /// Check every key, reporting all problems at once.
    pub fn validate(self) -> Result<Checked, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        let app_port = check_port("app_port", self.app_port, "8080", &mut diagnostics);
        let database_port = check_port(
            "database_port",
            self.database_port,
            "5432",
            &mut diagnostics,
        );
        let alb_ingress_cidrs = check_cidrs(&self.alb_ingress_cidrs, &mut diagnostics);
        diagnostics.check()?;
        // No error was recorded, so both ports are `Some`.
        Ok(Checked {
            networking_stack: self.networking_stack,
            app_port: app_port.unwrap_or_default(),
            database_port: database_port.unwrap_or_default(),
            allow_http_redirect: self.allow_http_redirect,
            alb_ingress_cidrs,
        })
    }
}

fn check_port(path: &str, port: u32, example: &str, diagnostics: &mut Diagnostics) -> Option<u16> {
    match u16::try_from(port) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            diagnostics
                .error(path, format!("port `{port}` is outside 1 to 65535"))
                .help(format!("use a TCP port such as `{example}`"));
            None
        }
    }
}

fn check_cidrs(cidrs: &[String], diagnostics: &mut Diagnostics) -> Vec<Cidr> {
    if cidrs.is_empty() {
        diagnostics
            .error(
                "alb_ingress_cidrs",
                "no CIDR blocks: the load balancer would admit no one",
            )
            .help(
                "use `[\"0.0.0.0/0\"]` for a public load balancer, or the blocks of your clients",
            );
    }
    let mut valid = Vec::new();
    for (index, text) in cidrs.iter().enumerate() {
        let path = format!("alb_ingress_cidrs.{index}");
        match Cidr::parse(text) {
            Ok(cidr) if valid.contains(&cidr) => {
                diagnostics
                    .error(path, format!("`{text}` is listed twice"))
                    .help("remove the duplicate");
            }
            Ok(cidr) => valid.push(cidr),
            Err(CidrError::HostBitsSet(network)) => {
                diagnostics
                    .error(path, format!("`{text}` has bits set after the prefix"))
                    .help(format!("did you mean `{network}`?"));
            }
            Err(CidrError::Syntax) => {
                diagnostics
                    .error(path, format!("`{text}` is not a CIDR block"))
                    .help("write an address and a prefix length, e.g. `0.0.0.0/0`, `203.0.113.0/24` or `::/0`");
            }
        }
    }
    valid
}
