//! The `[stacks.<name>]` table of a cache stack, and its validation into
//! [`Settings`]: every environment-dependent default resolved, every value
//! checked.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::did_you_mean;
use strata_sdk::{Context, Diagnostics, check};

/// The engines ElastiCache replication groups run.
pub const ENGINES: [&str; 2] = ["redis", "valkey"];
/// Nodes of a replication group: a primary and up to 5 replicas.
const CACHE_CLUSTERS: std::ops::RangeInclusive<u32> = 1..=6;
/// Daily snapshots kept: none to ElastiCache's 35 days.
const SNAPSHOT_DAYS: std::ops::RangeInclusive<u32> = 0..=35;
/// Production keeps a week of snapshots at least.
const PRODUCTION_SNAPSHOT_DAYS: u32 = 7;
/// ElastiCache's limit on replication group ids.
const MAX_ID_LENGTH: usize = 40;
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// An ElastiCache replication group (Redis OSS or Valkey) in the private
/// subnets, reachable from the ECS tasks only, encrypted at rest with its own
/// KMS key and in transit with TLS.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the networking stack whose VPC and private subnets to use.
    pub networking_stack: String,
    /// Name of the security stack whose ECS tasks' group may connect.
    pub security_stack: String,
    /// Node type, `cache.<family>.<size>`, e.g. `cache.t4g.micro` (dev) or
    /// `cache.r7g.large` (production).
    pub node_type: String,
    /// `redis` (Redis OSS) or `valkey`.
    #[schemars(extend("enum" = ENGINES))]
    pub engine: String,
    /// Engine version, `major.minor`: Redis OSS 6.2, 7.0 or 7.1; Valkey 7.2,
    /// 8.0 or later. Defaults to `7.1` (redis) or `8.0` (valkey).
    pub engine_version: Option<String>,
    /// Nodes: a primary and replicas (1 to 6). Defaults to 2 when multi-AZ
    /// (production), else 1.
    pub num_cache_clusters: Option<u32>,
    /// Fail over to a replica in another availability zone. Needs
    /// `num_cache_clusters` of at least 2. Defaults to true in production,
    /// where it cannot be turned off.
    pub multi_az: Option<bool>,
    /// Days of daily snapshots to keep (0 to 35; 0 takes none). Defaults to 7
    /// in production (where it must be at least 7), else 1.
    pub snapshot_retention_days: Option<u32>,
    /// Port clients connect to.
    pub port: u32,
    /// Require TLS between clients and the cache. `false` in production is an
    /// error.
    pub transit_encryption: bool,
    /// Engine parameters for a parameter group of the version's family (e.g.
    /// `maxmemory-policy = "allkeys-lru"`). Empty: the default group.
    pub parameters: BTreeMap<String, String>,
    /// Weekly maintenance window in UTC, `ddd:hh:mm-ddd:hh:mm` (e.g.
    /// `sun:05:00-sun:06:00`), at least an hour. ElastiCache picks one when
    /// absent.
    pub maintenance_window: Option<String>,
    /// Daily snapshot window in UTC, `hh:mm-hh:mm` (e.g. `03:00-04:00`).
    /// ElastiCache picks one when absent.
    pub snapshot_window: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            security_stack: "security".into(),
            node_type: "cache.t4g.micro".into(),
            engine: "redis".into(),
            engine_version: None,
            num_cache_clusters: None,
            multi_az: None,
            snapshot_retention_days: None,
            port: 6379,
            transit_encryption: true,
            parameters: BTreeMap::new(),
            maintenance_window: None,
            snapshot_window: None,
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack to import the VPC and private subnets from.
    pub networking_stack: String,
    /// Stack to import the ECS tasks' security group from.
    pub security_stack: String,
    /// Node type.
    pub node_type: String,
    /// `redis` or `valkey`.
    pub engine: String,
    /// Engine version.
    pub engine_version: String,
    /// Parameter group family, e.g. `redis7`, `valkey8`.
    pub family: String,
    /// Nodes.
    pub num_cache_clusters: u32,
    /// Multi-AZ with automatic failover.
    pub multi_az: bool,
    /// Snapshot retention, days.
    pub snapshot_retention_days: u32,
    /// Port.
    pub port: u32,
    /// TLS in transit.
    pub transit_encryption: bool,
    /// Parameter group parameters (none: the default group).
    pub parameters: BTreeMap<String, String>,
    /// Maintenance window.
    pub maintenance_window: Option<String>,
    /// Snapshot window.
    pub snapshot_window: Option<String>,
    /// The replication group id, `{project}-{environment}-cache`.
    pub identifier: String,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let production = ctx.is_production();
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        check::stack_name("security_stack", &self.security_stack, &mut diagnostics);
        check_node_type(ctx, &self.node_type, &mut diagnostics);
        let engine_ok = self.check_engine(&mut diagnostics);
        let engine_version = self
            .engine_version
            .clone()
            .unwrap_or_else(|| default_version(&self.engine).to_owned());
        let family = if engine_ok {
            check_version(&self.engine, &engine_version, &mut diagnostics)
        } else {
            None
        };
        let multi_az = self.multi_az.unwrap_or(production);
        let num_cache_clusters = self.check_cache_clusters(ctx, multi_az, &mut diagnostics);
        let snapshot_retention_days = self.check_snapshots(ctx, &mut diagnostics);
        self.check_port(&mut diagnostics);
        self.check_transit_encryption(ctx, &mut diagnostics);
        self.check_parameters(&mut diagnostics);
        if let Some(window) = &self.maintenance_window {
            check_maintenance_window(window, &mut diagnostics);
        }
        if let Some(window) = &self.snapshot_window {
            check_snapshot_window(window, &mut diagnostics);
        }
        let identifier = check_identifier(ctx, &mut diagnostics);
        diagnostics.check()?;

        let settings = Settings {
            networking_stack: self.networking_stack,
            security_stack: self.security_stack,
            node_type: self.node_type,
            engine: self.engine,
            engine_version,
            // No error was recorded, so the version parsed.
            family: family.unwrap_or_default(),
            num_cache_clusters,
            multi_az,
            snapshot_retention_days,
            port: self.port,
            transit_encryption: self.transit_encryption,
            parameters: self.parameters,
            maintenance_window: self.maintenance_window,
            snapshot_window: self.snapshot_window,
            identifier,
        };
        Ok((settings, diagnostics))
    }

    fn check_engine(&self, diagnostics: &mut Diagnostics) -> bool {
        let engine = &self.engine;
        if ENGINES.contains(&engine.as_str()) {
            return true;
        }
        let help = match did_you_mean(engine, &ENGINES) {
            Some(known) => format!("did you mean `{known}`?"),
            None => "use `redis` (Redis OSS) or `valkey`".to_owned(),
        };
        diagnostics
            .error("engine", format!("unknown engine `{engine}`"))
            .help(help);
        false
    }

    /// Multi-AZ fails over to a replica, so it needs one.
    fn check_cache_clusters(
        &self,
        ctx: &Context,
        multi_az: bool,
        diagnostics: &mut Diagnostics,
    ) -> u32 {
        if ctx.is_production() && self.multi_az == Some(false) {
            diagnostics
                .error(
                    "multi_az",
                    format!("`multi_az = false` in production environment `{}`", ctx.environment),
                )
                .help("prod caches must fail over when a zone fails; remove `multi_az` (it defaults to `true`)");
        }
        let count = self
            .num_cache_clusters
            .unwrap_or(if multi_az { 2 } else { 1 });
        if !CACHE_CLUSTERS.contains(&count) {
            diagnostics
                .error(
                    "num_cache_clusters",
                    format!("`{count}` cache clusters, expected 1 to 6"),
                )
                .help("a replication group has a primary and up to 5 replicas");
        } else if multi_az && count < 2 {
            let help = if ctx.is_production() {
                "use `num_cache_clusters = 2`: a primary and a replica in another zone to fail over to"
            } else {
                "use `num_cache_clusters = 2` (a primary and a replica in another zone), or `multi_az = false`"
            };
            diagnostics
                .error(
                    "num_cache_clusters",
                    format!("multi-AZ needs at least 2 cache clusters, got `{count}`"),
                )
                .help(help);
        }
        count
    }

    fn check_snapshots(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> u32 {
        let production = ctx.is_production();
        let days = self.snapshot_retention_days.unwrap_or(if production {
            PRODUCTION_SNAPSHOT_DAYS
        } else {
            1
        });
        if !SNAPSHOT_DAYS.contains(&days) {
            diagnostics
                .error(
                    "snapshot_retention_days",
                    format!("ElastiCache keeps snapshots at most 35 days, got `{days}`"),
                )
                .help("use `35` at most, and export snapshots to S3 for longer retention");
        } else if production && days < PRODUCTION_SNAPSHOT_DAYS {
            diagnostics
                .error(
                    "snapshot_retention_days",
                    format!(
                        "`{days}` days of snapshots in production environment `{}`",
                        ctx.environment
                    ),
                )
                .help("prod caches keep a week of snapshots at least; use `7` or more, or remove the key");
        }
        days
    }

    fn check_port(&self, diagnostics: &mut Diagnostics) {
        let port = self.port;
        if !(1..=65_535).contains(&port) {
            diagnostics
                .error("port", format!("port `{port}` is outside 1 to 65535"))
                .help("use `6379`, the Redis and Valkey port");
        }
    }

    fn check_transit_encryption(&self, ctx: &Context, diagnostics: &mut Diagnostics) {
        if self.transit_encryption {
            return;
        }
        if ctx.is_production() {
            diagnostics
                .error(
                    "transit_encryption",
                    format!(
                        "`transit_encryption = false` in production environment `{}`",
                        ctx.environment
                    ),
                )
                .help("prod caches require TLS; remove `transit_encryption` (it defaults to `true`) and connect with TLS");
        } else {
            diagnostics
                .warning(
                    "transit_encryption",
                    "`transit_encryption = false`: clients talk to the cache in plain text",
                )
                .help("remove it (it defaults to `true`) and connect with TLS, as production must");
        }
    }

    /// Names as ElastiCache writes them (`maxmemory-policy`); cluster mode
    /// is this module's decision, not a parameter's.
    fn check_parameters(&self, diagnostics: &mut Diagnostics) {
        for (name, value) in &self.parameters {
            let path = format!("parameters.{name}");
            let valid_name = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
            if !valid_name {
                diagnostics
                    .error(path, format!("`{name}` is not a parameter name"))
                    .help("parameter names are lowercase words joined by hyphens, e.g. `maxmemory-policy`");
            } else if name == "cluster-enabled" {
                diagnostics
                    .error(path, "`cluster-enabled` is not configurable here")
                    .help("this module renders a replication group with cluster mode disabled; remove the parameter");
            } else if value.trim().is_empty() {
                diagnostics
                    .error(path, format!("parameter `{name}` has an empty value"))
                    .help("give a value, or remove the parameter to keep the engine's default");
            }
        }
    }
}

/// The version rendered when `engine_version` is absent.
pub fn default_version(engine: &str) -> &'static str {
    if engine == "valkey" { "8.0" } else { "7.1" }
}

/// `major.minor`; returns the parameter group family (`redis6.x`, `redis7`,
/// `valkey7`, `valkey8`).
fn check_version(engine: &str, version: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    let is_number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let parsed = version
        .split_once('.')
        .filter(|(major, minor)| is_number(major) && is_number(minor))
        .and_then(|(major, minor)| Some((major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?)));
    let Some((major, minor)) = parsed else {
        diagnostics
            .error(
                "engine_version",
                format!("`{version}` is not an engine version"),
            )
            .help(format!(
                "write `major.minor`, e.g. `{}`",
                default_version(engine)
            ));
        return None;
    };
    let family = match (engine, major) {
        ("redis", 6) if minor == 2 => Some("redis6.x".to_owned()),
        ("redis", 7) if minor <= 1 => Some("redis7".to_owned()),
        ("valkey", 7) if minor == 2 => Some("valkey7".to_owned()),
        ("valkey", 8..) => Some(format!("valkey{major}")),
        _ => None,
    };
    if family.is_none() {
        let help = if engine == "valkey" {
            "use Valkey `7.2` or `8.0`"
        } else {
            "use Redis OSS `6.2`, `7.0` or `7.1` (or `engine = \"valkey\"` for newer versions)"
        };
        diagnostics
            .error(
                "engine_version",
                format!("{engine} `{version}` is not supported"),
            )
            .help(help);
    }
    family
}

/// `cache.<family>.<size>`, e.g. `cache.t4g.micro`, `cache.r7g.xlarge`.
fn check_node_type(ctx: &Context, node_type: &str, diagnostics: &mut Diagnostics) {
    let parts: Vec<&str> = node_type.split('.').collect();
    let valid = matches!(parts.as_slice(), ["cache", family, size] if check::is_instance_family(family) && is_size(size));
    if !valid {
        diagnostics
            .error(
                "node_type",
                format!("`{node_type}` is not an ElastiCache node type"),
            )
            .help(
                "use a node type such as `cache.t4g.micro` (dev) or `cache.r7g.large` (production)",
            );
        return;
    }
    if ctx.is_production() && node_type.starts_with("cache.t") {
        diagnostics
            .warning(
                "node_type",
                format!("burstable node type `{node_type}` in production"),
            )
            .help("burstable nodes slow down once their CPU credits run out; use e.g. `cache.m7g.large` or `cache.r7g.large`");
    }
}

/// `micro`, `small`, `medium`, `large`, `xlarge`, `12xlarge`.
fn is_size(size: &str) -> bool {
    match size {
        "micro" | "small" | "medium" | "large" | "xlarge" => true,
        _ => size.strip_suffix("xlarge").is_some_and(|count| {
            !count.is_empty()
                && count.bytes().all(|b| b.is_ascii_digit())
                && !count.starts_with('0')
        }),
    }
}

/// Minutes since midnight of `hh:mm`.
fn minutes(time: &str) -> Option<u32> {
    let (hours, minutes) = time.split_once(':')?;
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(hours) || !two_digits(minutes) {
        return None;
    }
    let (hours, minutes) = (hours.parse::<u32>().ok()?, minutes.parse::<u32>().ok()?);
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Minutes since Monday 00:00 of `ddd:hh:mm`.
fn weekly_minutes(time: &str) -> Option<u32> {
    let (day, time) = time.split_once(':')?;
    let day = DAYS.iter().position(|d| *d == day)?;
    Some(u32::try_from(day).ok()? * 24 * 60 + minutes(time)?)
}

fn check_maintenance_window(window: &str, diagnostics: &mut Diagnostics) {
    let bounds = window
        .split_once('-')
        .and_then(|(start, end)| Some((weekly_minutes(start)?, weekly_minutes(end)?)));
    let Some((start, end)) = bounds else {
        diagnostics
            .error(
                "maintenance_window",
                format!("`{window}` is not a weekly window"),
            )
            .help("write `ddd:hh:mm-ddd:hh:mm` in UTC with days `mon` to `sun`, e.g. `sun:05:00-sun:06:00`");
        return;
    };
    let week = 7 * 24 * 60;
    let length = (end + week - start) % week;
    if length < 60 {
        diagnostics
            .error(
                "maintenance_window",
                format!("maintenance window `{window}` is shorter than an hour"),
            )
            .help("ElastiCache needs at least 60 minutes, e.g. `sun:05:00-sun:06:00`");
    }
}

fn check_snapshot_window(window: &str, diagnostics: &mut Diagnostics) {
    let bounds = window
        .split_once('-')
        .and_then(|(start, end)| Some((minutes(start)?, minutes(end)?)));
    let Some((start, end)) = bounds else {
        diagnostics
            .error(
                "snapshot_window",
                format!("`{window}` is not a daily window"),
            )
            .help("write `hh:mm-hh:mm` in UTC, e.g. `03:00-04:00`");
        return;
    };
    let length = (end + 24 * 60 - start) % (24 * 60);
    if length < 60 {
        diagnostics
            .error(
                "snapshot_window",
                format!("snapshot window `{window}` is shorter than an hour"),
            )
            .help("ElastiCache needs at least 60 minutes, e.g. `03:00-04:00`");
    }
}

/// Replication group ids: at most 40 lowercase letters, digits and hyphens,
/// starting with a letter, without `--` or a trailing hyphen. The name
/// comes from the project and environment, so problems point at the stack.
fn check_identifier(ctx: &Context, diagnostics: &mut Diagnostics) -> String {
    let identifier = ctx.name("cache").to_ascii_lowercase();
    let well_formed = identifier
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !identifier.contains("--")
        && !identifier.ends_with('-');
    if identifier.len() > MAX_ID_LENGTH {
        diagnostics
            .error(
                "",
                format!(
                    "replication group id `{identifier}` is {} characters, ElastiCache allows {MAX_ID_LENGTH}",
                    identifier.len()
                ),
            )
            .help(format!(
                "the id is `{{project}}-{{environment}}-cache`; shorten the project or environment name by {} characters",
                identifier.len() - MAX_ID_LENGTH
            ));
    } else if !well_formed {
        diagnostics
            .error(
                "",
                format!("`{identifier}` is not a valid replication group id"),
            )
            .help("ElastiCache needs letters, digits and single hyphens, starting with a letter; rename the project or environment");
    }
    identifier
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_daily_and_weekly_times() {
        assert_eq!(minutes("00:00"), Some(0));
        assert_eq!(minutes("23:59"), Some(1439));
        for bad in ["24:00", "12:60", "1:00", "12:5", "ab:cd", "1200"] {
            assert_eq!(minutes(bad), None, "{bad}");
        }
        assert_eq!(weekly_minutes("mon:00:00"), Some(0));
        assert_eq!(weekly_minutes("sun:01:00"), Some(6 * 1440 + 60));
        assert_eq!(weekly_minutes("Sun:01:00"), None);
        assert_eq!(weekly_minutes("sunday:01:00"), None);
    }

    #[test]
    fn measures_windows_across_midnight_and_the_week() {
        let mut diagnostics = Diagnostics::new();
        check_maintenance_window("sun:23:30-mon:00:30", &mut diagnostics);
        check_snapshot_window("23:30-00:30", &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        check_maintenance_window("sun:23:30-mon:00:00", &mut diagnostics);
        check_snapshot_window("01:00-01:30", &mut diagnostics);
        assert_eq!(diagnostics.len(), 2);
    }

    #[test]
    fn recognises_node_types() {
        for size in ["micro", "large", "xlarge", "12xlarge"] {
            assert!(is_size(size), "{size}");
        }
        for size in ["", "huge", "0xlarge", "xlarge2", "metal"] {
            assert!(!is_size(size), "{size}");
        }
        for family in ["t4g", "r7g", "m5", "r6gd"] {
            assert!(check::is_instance_family(family), "{family}");
        }
    }
}
