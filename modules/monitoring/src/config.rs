//! The `[stacks.<name>]` table of a monitoring stack, and its validation
//! into [`Settings`]: thresholds checked, the database engine's metric
//! dimension chosen, the alarm period resolved for the environment.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// Database engines whose metrics the alarms read.
pub const ENGINES: [&str; 2] = ["rds", "aurora"];
/// CloudWatch evaluates at most a day of periods.
const EVALUATION_RANGE_SECONDS: u32 = 86_400;
/// S3 bucket names are at most 63 characters; the CloudTrail bucket's is
/// `{project}-{environment}-cloudtrail-<12-digit account>`.
const BUCKET_NAME_MAX: usize = 63;

/// CloudWatch alarms to SNS topics, a dashboard, and optionally a
/// CloudTrail trail.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import the load balancer, cluster and service names from.
    pub compute_stack: String,
    /// Alarm on (and chart) the compute stack's load balancer: latency,
    /// 5xx rate, unhealthy hosts. Turn off when the compute stack has no
    /// public service (it then exports no `alb-*` names).
    pub load_balancer: bool,
    /// Services of the compute stack to alarm on when their running tasks
    /// fall below the desired count.
    pub services: Vec<String>,
    /// Stack to import the database identifier from; `""` for no database
    /// alarms.
    pub database_stack: String,
    /// The database stack's engine: `rds` (alarms on the instance,
    /// `instance-id`) or `aurora` (on the cluster, `cluster-id`).
    pub database_engine: String,
    /// Addresses the critical topic emails (each must confirm its
    /// subscription).
    pub critical_emails: Vec<String>,
    /// Addresses the warning topic emails.
    pub warning_emails: Vec<String>,
    /// Alarm (critical) when the load balancer's p95 target response time
    /// exceeds this many seconds.
    pub latency_p95_seconds: f64,
    /// Alarm (critical) when this percentage of requests gets a 5xx from the
    /// targets.
    pub error_rate_percent: f64,
    /// Alarm (warning) above this many database connections.
    pub db_connections_max: u32,
    /// Alarm (warning) above this database CPU utilisation, %.
    pub db_cpu_percent: u32,
    /// Alarm (warning) above this Aurora Serverless v2 capacity utilisation
    /// (ACUs used of the maximum), %. Aurora only; defaults to 90.
    #[schemars(extend("default" = 90))]
    pub aurora_capacity_percent: Option<u32>,
    /// Consecutive periods a threshold must be crossed before an alarm
    /// fires.
    pub evaluation_periods: u32,
    /// Seconds per evaluated period: a multiple of 60. Defaults to 60 in
    /// production, 300 elsewhere.
    pub period_seconds: Option<u32>,
    /// Create the `{project}-{environment}-overview` dashboard.
    pub dashboard: bool,
    /// Record API calls of every region in a CloudTrail trail, into its own
    /// encrypted bucket.
    pub cloudtrail: bool,
    /// Days to keep CloudTrail logs in their bucket.
    pub cloudtrail_retention_days: u32,
    /// Also send the trail's events to a CloudWatch Logs group (kept
    /// `cloudtrail_log_retention_days`), for metric filters and queries.
    pub cloudtrail_cloudwatch_logs: bool,
    /// Days the trail's CloudWatch Logs group keeps events. Defaults to 90
    /// in production, 30 in staging, else 7.
    pub cloudtrail_log_retention_days: Option<u32>,
    /// Record S3 object-level (data) events of every bucket too (billed
    /// per event).
    pub cloudtrail_s3_data_events: bool,
    /// Alarm (critical) when the database's free storage falls below this
    /// many GiB (RDS instances; Aurora storage grows by itself).
    pub db_free_storage_gib: u32,
    /// Alarm (critical) when the database's freeable memory falls below
    /// this many MiB.
    pub db_freeable_memory_mib: u32,
    /// Dead-letter queues to alarm (critical) on as soon as they hold a
    /// message, each `STACK.QUEUE`: an `sqs` stack and one of its
    /// `queues` (whose `QUEUE-dlq-arn` export is imported).
    pub dead_letter_queues: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            compute_stack: "compute".into(),
            load_balancer: true,
            services: ["api", "worker", "scheduler"].map(String::from).to_vec(),
            database_stack: "database".into(),
            database_engine: "rds".into(),
            critical_emails: Vec::new(),
            warning_emails: Vec::new(),
            latency_p95_seconds: 2.0,
            error_rate_percent: 5.0,
            db_connections_max: 100,
            db_cpu_percent: 80,
            aurora_capacity_percent: None,
            evaluation_periods: 2,
            period_seconds: None,
            dashboard: true,
            cloudtrail: false,
            cloudtrail_retention_days: 365,
            cloudtrail_cloudwatch_logs: true,
            cloudtrail_log_retention_days: None,
            cloudtrail_s3_data_events: false,
            db_free_storage_gib: 5,
            db_freeable_memory_mib: 128,
            dead_letter_queues: Vec::new(),
        }
    }
}

/// The database the alarms watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// Stack to import the identifier from.
    pub stack: String,
    /// Aurora (cluster metrics) rather than an RDS instance.
    pub aurora: bool,
}

impl Database {
    /// The output naming the database: `instance-id` or `cluster-id`.
    pub fn output(&self) -> &'static str {
        if self.aurora {
            "cluster-id"
        } else {
            "instance-id"
        }
    }

    /// The CloudWatch dimension of that identifier.
    pub fn dimension(&self) -> &'static str {
        if self.aurora {
            "DBClusterIdentifier"
        } else {
            "DBInstanceIdentifier"
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack to import the compute names from.
    pub compute_stack: String,
    /// Load balancer alarms and widgets.
    pub load_balancer: bool,
    /// Services to watch.
    pub services: Vec<String>,
    /// The database, if any.
    pub database: Option<Database>,
    /// Critical addresses.
    pub critical_emails: Vec<String>,
    /// Warning addresses.
    pub warning_emails: Vec<String>,
    /// p95 latency threshold, seconds.
    pub latency_p95_seconds: f64,
    /// 5xx rate threshold, %.
    pub error_rate_percent: f64,
    /// Connection threshold.
    pub db_connections_max: u32,
    /// Database CPU threshold, %.
    pub db_cpu_percent: u32,
    /// Aurora capacity threshold, %.
    pub aurora_capacity_percent: u32,
    /// Periods to evaluate.
    pub evaluation_periods: u32,
    /// Period, seconds.
    pub period_seconds: u32,
    /// Dashboard on.
    pub dashboard: bool,
    /// Trail on.
    pub cloudtrail: bool,
    /// Trail log retention, days.
    pub cloudtrail_retention_days: u32,
    /// Retention of the trail's CloudWatch Logs group, when it has one.
    pub cloudtrail_log_retention_days: Option<u32>,
    /// Trail records S3 data events.
    pub cloudtrail_s3_data_events: bool,
    /// Free storage threshold, GiB.
    pub db_free_storage_gib: u32,
    /// Freeable memory threshold, MiB.
    pub db_freeable_memory_mib: u32,
    /// Dead-letter queues watched: `(stack, queue)`.
    pub dead_letter_queues: Vec<(String, String)>,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let needs_compute = self.load_balancer || !self.services.is_empty();
        if needs_compute || !self.compute_stack.is_empty() {
            check::stack_name("compute_stack", &self.compute_stack, &mut diagnostics);
        }
        check::compute_services("services", &self.services, &mut diagnostics);
        let database = self.check_database(&mut diagnostics);
        check_emails("critical_emails", &self.critical_emails, &mut diagnostics);
        check_emails("warning_emails", &self.warning_emails, &mut diagnostics);
        if self.critical_emails.is_empty() {
            diagnostics
                .warning(
                    "critical_emails",
                    format!("no one is emailed about critical alarms in environment `{}`", ctx.environment),
                )
                .help("add the on-call address, e.g. `critical_emails = [\"oncall@example.com\"]`, or subscribe a pager to the `critical-topic-arn` export");
        }
        let dead_letter_queues =
            check_dead_letter_queues(&self.dead_letter_queues, &mut diagnostics);
        let cloudtrail_log_retention_days = self.cloudtrail_cloudwatch_logs.then(|| {
            self.cloudtrail_log_retention_days
                .unwrap_or_else(|| check::default_log_retention_days(ctx))
        });
        if let Some(days) = cloudtrail_log_retention_days {
            check::log_retention("cloudtrail_log_retention_days", days, &mut diagnostics);
        }
        if self.db_free_storage_gib == 0 {
            diagnostics
                .error(
                    "db_free_storage_gib",
                    "`0` GiB would alarm only when the disk is full",
                )
                .help("use e.g. `5`, or 10% of `allocated_storage`");
        }
        if self.db_freeable_memory_mib == 0 {
            diagnostics
                .error("db_freeable_memory_mib", "`0` MiB would never alarm")
                .help("use e.g. `128`");
        }
        self.check_thresholds(&mut diagnostics);
        let period_seconds = self.check_period(ctx, &mut diagnostics);
        if self.cloudtrail {
            self.check_cloudtrail(ctx, &mut diagnostics);
        }
        diagnostics.check()?;

        let settings = Settings {
            compute_stack: self.compute_stack,
            load_balancer: self.load_balancer,
            services: self.services,
            database,
            critical_emails: self.critical_emails,
            warning_emails: self.warning_emails,
            latency_p95_seconds: self.latency_p95_seconds,
            error_rate_percent: self.error_rate_percent,
            db_connections_max: self.db_connections_max,
            db_cpu_percent: self.db_cpu_percent,
            aurora_capacity_percent: self.aurora_capacity_percent.unwrap_or(90),
            evaluation_periods: self.evaluation_periods,
            period_seconds,
            dashboard: self.dashboard,
            cloudtrail: self.cloudtrail,
            cloudtrail_retention_days: self.cloudtrail_retention_days,
            cloudtrail_log_retention_days,
            cloudtrail_s3_data_events: self.cloudtrail_s3_data_events,
            db_free_storage_gib: self.db_free_storage_gib,
            db_freeable_memory_mib: self.db_freeable_memory_mib,
            dead_letter_queues,
        };
        Ok((settings, diagnostics))
    }

    fn check_database(&self, diagnostics: &mut Diagnostics) -> Option<Database> {
        let engine = self.database_engine.as_str();
        if !ENGINES.contains(&engine) {
            let help = match check::did_you_mean(engine, &ENGINES) {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => "use `rds` for an RDS instance, `aurora` for an Aurora cluster".to_owned(),
            };
            diagnostics
                .error(
                    "database_engine",
                    format!("`{engine}` is not a database engine"),
                )
                .help(help);
        }
        let aurora = engine == "aurora";
        if self.aurora_capacity_percent.is_some() && !aurora {
            diagnostics
                .error(
                    "aurora_capacity_percent",
                    format!("`aurora_capacity_percent` applies to Aurora, and `database_engine` is `{engine}`"),
                )
                .help("remove it, or set `database_engine = \"aurora\"`");
        }
        if self.database_stack.is_empty() {
            return None;
        }
        check::stack_name("database_stack", &self.database_stack, diagnostics);
        Some(Database {
            stack: self.database_stack.clone(),
            aurora,
        })
    }

    fn check_thresholds(&self, diagnostics: &mut Diagnostics) {
        let latency = self.latency_p95_seconds;
        if !(latency > 0.0 && latency <= 4000.0) {
            diagnostics
                .error(
                    "latency_p95_seconds",
                    format!("`{latency}` is outside 0 to 4000 seconds"),
                )
                .help("use a positive number of seconds, e.g. `2` or `0.5`");
        }
        let rate = self.error_rate_percent;
        if !(rate > 0.0 && rate <= 100.0) {
            diagnostics
                .error(
                    "error_rate_percent",
                    format!("`{rate}` is outside 0 to 100 percent"),
                )
                .help("use a percentage above 0, e.g. `5`");
        }
        if self.db_connections_max == 0 {
            diagnostics
                .error("db_connections_max", "`0` would alarm on every connection")
                .help("use the connection count that worries you, e.g. 80% of `max_connections`");
        }
        for (key, percent) in [
            ("db_cpu_percent", Some(self.db_cpu_percent)),
            ("aurora_capacity_percent", self.aurora_capacity_percent),
        ] {
            if let Some(percent) = percent
                && !(1..=100).contains(&percent)
            {
                diagnostics
                    .error(key, format!("`{percent}` is outside 1 to 100 percent"))
                    .help("use e.g. `80`");
            }
        }
    }

    /// Returns the period to use.
    fn check_period(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> u32 {
        let period = self
            .period_seconds
            .unwrap_or(if ctx.is_production() { 60 } else { 300 });
        let periods = self.evaluation_periods;
        if period == 0 || !period.is_multiple_of(60) || period > EVALUATION_RANGE_SECONDS {
            diagnostics
                .error(
                    "period_seconds",
                    format!("`{period}` is not a whole number of minutes up to a day"),
                )
                .help(
                    "standard metrics come every minute: use `60`, `300` or another multiple of 60",
                );
        } else if periods == 0 {
            diagnostics
                .error("evaluation_periods", "`0` periods would never alarm")
                .help("use at least `1`; `2` rides out a single spike");
        } else if u64::from(periods) * u64::from(period) > u64::from(EVALUATION_RANGE_SECONDS) {
            diagnostics
                .error(
                    "evaluation_periods",
                    format!("`{periods}` periods of `{period}` seconds is more than a day"),
                )
                .help(format!(
                    "CloudWatch evaluates at most a day: use at most `{}` periods",
                    EVALUATION_RANGE_SECONDS / period
                ));
        }
        period
    }

    fn check_cloudtrail(&self, ctx: &Context, diagnostics: &mut Diagnostics) {
        if self.cloudtrail_retention_days == 0 {
            diagnostics
                .error(
                    "cloudtrail_retention_days",
                    "`0` days would delete every log at once",
                )
                .help("use e.g. `365`; auditors often ask for a year or more");
        }
        let bucket = cloudtrail_bucket_prefix(ctx);
        if bucket.len() + 13 > BUCKET_NAME_MAX {
            diagnostics
                .error(
                    "cloudtrail",
                    format!("the trail's bucket name `{bucket}-<account id>` is longer than S3's 63 characters"),
                )
                .help("shorten the project or environment name");
        }
    }
}

/// `{project}-{environment}-cloudtrail`, lowercase (S3 bucket names are).
pub fn cloudtrail_bucket_prefix(ctx: &Context) -> String {
    ctx.name("cloudtrail").to_ascii_lowercase()
}

/// `local@domain.tld`, at most 254 characters, no whitespace, none twice.
fn check_emails(key: &str, emails: &[String], diagnostics: &mut Diagnostics) {
    for (i, email) in emails.iter().enumerate() {
        let path = format!("{key}.{i}");
        if !is_email(email) {
            diagnostics
                .error(path, format!("`{email}` is not an email address"))
                .help("write `name@example.com`");
        } else if emails[..i]
            .iter()
            .any(|other| other.eq_ignore_ascii_case(email))
        {
            diagnostics
                .error(path, format!("`{email}` is listed twice"))
                .help("remove the second one");
        }
    }
}

fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    email.len() <= 254
        && !local.is_empty()
        && local.len() <= 64
        && email
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | ',' | ';' | '<' | '>' | '\\'))
        && !domain.contains('@')
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Each entry `STACK.QUEUE`, split; errors at the entry's index.
fn check_dead_letter_queues(
    entries: &[String],
    diagnostics: &mut Diagnostics,
) -> Vec<(String, String)> {
    let mut queues = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let path = format!("dead_letter_queues.{index}");
        match entry.split_once('.') {
            Some((stack, queue)) if check::is_stack_name(stack) && check::is_stack_name(queue) => {
                let pair = (stack.to_owned(), queue.to_owned());
                if queues.contains(&pair) {
                    diagnostics
                        .error(path, format!("`{entry}` is listed twice"))
                        .help("remove the duplicate");
                } else {
                    queues.push(pair);
                }
            }
            _ => {
                diagnostics
                    .error(path, format!("`{entry}` is not `STACK.QUEUE`"))
                    .help("name the sqs stack and one of its queues, e.g. `sqs.background-jobs`");
            }
        }
    }
    queues
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_email_addresses() {
        for email in ["oncall@example.com", "first.last+alerts@mail.example.co.uk"] {
            assert!(is_email(email), "{email}");
        }
        for email in [
            "",
            "oncall",
            "@example.com",
            "oncall@",
            "oncall@example",
            "on call@example.com",
            "a@b@example.com",
            "oncall@example..com",
            "oncall@-example.com",
            "<oncall@example.com>",
        ] {
            assert!(!is_email(email), "{email}");
        }
    }
}
