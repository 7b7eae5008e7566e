//! The `[stacks.<name>]` table of a log-forwarder stack, and its validation
//! into [`Settings`]: the log retention resolved for the environment, every
//! value checked, every problem reported at its key at once.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// Lambda memory, MiB.
const MEMORY_MB: std::ops::RangeInclusive<u32> = 128..=10_240;
/// Lambda timeout, seconds.
const TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 1..=900;
/// A subscription filter pattern is at most this long.
const FILTER_PATTERN_MAX: usize = 1024;

/// A Lambda function that copies the compute services' logs to the logs
/// bucket, subscribed to each service's log group.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import the services' log group names from.
    pub compute_stack: String,
    /// Services of the compute stack whose logs to forward.
    pub services: Vec<String>,
    /// Stack to import the logs bucket (the destination) from.
    pub s3_stack: String,
    /// CloudWatch Logs filter pattern selecting the events to forward; `""`
    /// forwards every event (e.g. `"?ERROR ?WARN"` forwards only those).
    pub filter_pattern: String,
    /// Memory of the function, MiB (128 to 10240).
    pub memory_mb: u32,
    /// Seconds the function may run per batch (1 to 900).
    pub timeout_seconds: u32,
    /// Days to keep the function's own logs; a CloudWatch Logs period.
    /// Defaults to 7 (dev), 30 (staging), 90 (prod).
    pub log_retention_days: Option<u32>,
    /// Concurrent executions reserved for (and capping) the function; unset
    /// shares the account's pool.
    pub reserved_concurrency: Option<u32>,
    /// Key prefix of the forwarded objects in the logs bucket: letters,
    /// digits, `-`, `_`, `.` and single `/` between segments.
    pub prefix: String,
    /// Stack whose `critical-topic-arn` the function's alarms (errors, and
    /// a batch in its failure queue) notify; `""` for no alarms (a
    /// warning).
    pub monitoring_stack: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            compute_stack: "compute".into(),
            services: ["api", "worker", "scheduler"].map(String::from).to_vec(),
            s3_stack: "s3".into(),
            filter_pattern: String::new(),
            memory_mb: 256,
            timeout_seconds: 60,
            log_retention_days: None,
            reserved_concurrency: None,
            prefix: "forwarded".into(),
            monitoring_stack: "monitoring".into(),
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack of the source log groups.
    pub compute_stack: String,
    /// Services whose log groups are subscribed.
    pub services: Vec<String>,
    /// Stack of the logs bucket.
    pub s3_stack: String,
    /// Filter pattern.
    pub filter_pattern: String,
    /// Memory, MiB.
    pub memory_mb: u32,
    /// Timeout, seconds.
    pub timeout_seconds: u32,
    /// Retention of the function's logs, days.
    pub log_retention_days: u32,
    /// Keep the function's log group when the stack goes (production).
    pub retain_logs: bool,
    /// Reserved concurrency, if any.
    pub reserved_concurrency: Option<u32>,
    /// Key prefix, without surrounding slashes.
    pub prefix: String,
    /// Stack of the critical topic, if alarms are on.
    pub monitoring_stack: Option<String>,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("compute_stack", &self.compute_stack, &mut diagnostics);
        check::stack_name("s3_stack", &self.s3_stack, &mut diagnostics);
        if self.services.is_empty() {
            diagnostics
                .error("services", "`services` is empty, so nothing is forwarded")
                .help(
                    "list the compute services whose logs to forward, e.g. `[\"api\", \"worker\"]`",
                );
        }
        check::compute_services("services", &self.services, &mut diagnostics);
        if self.filter_pattern.len() > FILTER_PATTERN_MAX {
            diagnostics
                .error(
                    "filter_pattern",
                    format!(
                        "the pattern is {} characters, more than CloudWatch Logs' 1024",
                        self.filter_pattern.len()
                    ),
                )
                .help("shorten it, or forward everything with `\"\"` and filter downstream");
        }
        if !MEMORY_MB.contains(&self.memory_mb) {
            diagnostics
                .error(
                    "memory_mb",
                    format!("`{}` MiB is outside Lambda's 128 to 10240", self.memory_mb),
                )
                .help("use `256`; forwarding is I/O-bound");
        }
        if !TIMEOUT_SECONDS.contains(&self.timeout_seconds) {
            diagnostics
                .error(
                    "timeout_seconds",
                    format!(
                        "`{}` seconds is outside Lambda's 1 to 900",
                        self.timeout_seconds
                    ),
                )
                .help("use `60`; a batch takes well under a second");
        }
        let log_retention_days = self
            .log_retention_days
            .unwrap_or_else(|| check::default_log_retention_days(ctx));
        check::log_retention("log_retention_days", log_retention_days, &mut diagnostics);
        if self.reserved_concurrency == Some(0) {
            diagnostics
                .error(
                    "reserved_concurrency",
                    "`0` reserves no executions, so the function never runs",
                )
                .help("use at least `1`, or remove the key to share the account's pool");
        }
        check_prefix(&self.prefix, &mut diagnostics);
        let monitoring_stack = if self.monitoring_stack.is_empty() {
            diagnostics
                .warning(
                    "monitoring_stack",
                    "no alarms: failing batches of the function page no one",
                )
                .help("name the monitoring stack, e.g. `monitoring_stack = \"monitoring\"`, so errors reach its critical topic");
            None
        } else {
            check::stack_name("monitoring_stack", &self.monitoring_stack, &mut diagnostics);
            Some(self.monitoring_stack)
        };
        diagnostics.check()?;

        let settings = Settings {
            compute_stack: self.compute_stack,
            services: self.services,
            s3_stack: self.s3_stack,
            filter_pattern: self.filter_pattern,
            memory_mb: self.memory_mb,
            timeout_seconds: self.timeout_seconds,
            log_retention_days,
            retain_logs: ctx.is_production(),
            reserved_concurrency: self.reserved_concurrency,
            prefix: self.prefix,
            monitoring_stack,
        };
        Ok((settings, diagnostics))
    }
}

/// Segments of letters, digits, `-`, `_` and `.` (not `.` or `..`) joined
/// by single `/`: it ends up in an IAM resource ARN, where `*` or `?` would
/// widen the grant.
fn check_prefix(prefix: &str, diagnostics: &mut Diagnostics) {
    let valid = (1..=256).contains(&prefix.len())
        && prefix.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        });
    if !valid {
        diagnostics
            .error("prefix", format!("`{prefix}` is not a key prefix this module writes under"))
            .help("use letters, digits, `-`, `_` and `.` in segments joined by single `/`, without leading or trailing `/`, e.g. `forwarded` or `logs/ecs`");
    }
}
