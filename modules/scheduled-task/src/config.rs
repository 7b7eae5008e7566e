//! The `[stacks.<name>]` table of a scheduled-task stack, and its
//! validation into [`Settings`]: schedule expressions, time zones, event
//! patterns and retry limits checked against what EventBridge takes, every
//! problem reported at its key at once.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, Value, cfn, check};

/// EventBridge retries a failed invocation at most 185 times.
const RETRY_ATTEMPTS: std::ops::RangeInclusive<u32> = 0..=185;
/// How long EventBridge keeps retrying: 1 minute to 24 hours.
const EVENT_AGE_SECONDS: std::ops::RangeInclusive<u32> = 60..=86_400;
/// SQS keeps messages at most 14 days.
const DLQ_RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=14;
/// EventBridge Scheduler's flexible time window, minutes.
const WINDOW_MINUTES: std::ops::RangeInclusive<u32> = 0..=1440;
/// Tasks one invocation starts (ECS `RunTask` takes 1 to 10).
const TASK_COUNT: std::ops::RangeInclusive<u32> = 1..=10;
/// Schedule and rule names are at most 64 characters.
const MAX_NAME: usize = 64;
/// A compute service name (as compute allows).
const MAX_SERVICE: usize = 32;

/// ECS Fargate tasks run on a schedule (EventBridge Scheduler) or when an
/// event matches a pattern (EventBridge rules), on the compute stack's
/// cluster with one of its services' task definitions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import the cluster, the services' task families and roles
    /// from.
    pub compute_stack: String,
    /// Stack to import the private subnets the tasks run in from.
    pub networking_stack: String,
    /// Stack to import the tasks' security group (`ecs-security-group-id`)
    /// from.
    pub security_stack: String,
    /// Times EventBridge retries a task that failed to start (0 to 185).
    pub retry_attempts: u32,
    /// Seconds EventBridge keeps retrying an invocation (60 to 86400).
    pub maximum_event_age_seconds: u32,
    /// Days the dead-letter queue keeps invocations that failed every retry
    /// (1 to 14).
    pub dead_letter_retention_days: u32,
    /// Tasks run on a schedule, keyed by name (lowercase letters, digits and
    /// single hyphens).
    pub schedules: BTreeMap<String, ScheduleConfig>,
    /// Tasks run when an event matches, keyed by name.
    pub rules: BTreeMap<String, RuleConfig>,
    /// Stack whose `critical-topic-arn` an alarm on the dead-letter queue
    /// pages (a task that failed every retry waits there); `""` for no
    /// alarm, which a warning points out.
    pub monitoring_stack: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            compute_stack: "compute".into(),
            networking_stack: "networking".into(),
            security_stack: "security".into(),
            retry_attempts: 3,
            maximum_event_age_seconds: 3600,
            dead_letter_retention_days: 14,
            schedules: BTreeMap::new(),
            rules: BTreeMap::new(),
            monitoring_stack: "monitoring".into(),
        }
    }
}

/// A task run on a schedule.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// The compute service whose task definition runs (its latest
    /// revision), e.g. `worker`.
    pub service: String,
    /// When: `rate(1 day)`, `cron(0 3 * * ? *)` or `at(2030-01-01T00:00:00)`.
    pub schedule: String,
    /// IANA time zone `cron` and `at` are read in, e.g. `Europe/Berlin`.
    pub timezone: String,
    /// Minutes the start may be delayed to spread load (1 to 1440); `0`
    /// starts on time.
    pub flexible_window_minutes: u32,
    /// Command of the service's main container instead of its own, e.g.
    /// `["node", "cleanup.js"]`.
    pub command: Option<Vec<String>>,
    /// Tasks each run starts (1 to 10).
    pub task_count: u32,
    /// Run the schedule; `false` keeps it, paused.
    pub enabled: bool,
    /// What the task does, shown in the console.
    pub description: Option<String>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            service: String::new(),
            schedule: String::new(),
            timezone: "UTC".into(),
            flexible_window_minutes: 0,
            command: None,
            task_count: 1,
            enabled: true,
            description: None,
        }
    }
}

/// A task run when an event matches.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RuleConfig {
    /// The compute service whose task definition runs, e.g. `worker`.
    pub service: String,
    /// Command of the service's main container instead of its own.
    pub command: Option<Vec<String>>,
    /// Event sources to match, e.g. `["com.myapp.orders"]`.
    pub sources: Vec<String>,
    /// Detail types to match, e.g. `["Order Created"]`.
    pub detail_types: Vec<String>,
    /// The pattern's `detail` object, e.g. `{ status = ["paid"] }`.
    pub detail: Option<BTreeMap<String, Value>>,
    /// Event bus the rule listens on: `default`, or a bus name or ARN.
    pub event_bus: String,
    /// Tasks each event starts (1 to 10).
    pub task_count: u32,
    /// Run on matching events; `false` keeps the rule, disabled.
    pub enabled: bool,
    /// What the task does, shown in the console.
    pub description: Option<String>,
}

impl Default for RuleConfig {
    fn default() -> Self {
        Self {
            service: String::new(),
            command: None,
            sources: Vec::new(),
            detail_types: Vec::new(),
            detail: None,
            event_bus: "default".into(),
            task_count: 1,
            enabled: true,
            description: None,
        }
    }
}

/// What a schedule or a rule runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The key in the config, e.g. `daily-cleanup`.
    pub key: String,
    /// Prefix of its logical ids, e.g. `DailyCleanup`.
    pub id: String,
    /// `{project}-{environment}-{key}`.
    pub name: String,
    /// The compute service.
    pub service: String,
    /// The command override.
    pub command: Option<Vec<String>>,
    /// Tasks per run.
    pub task_count: u32,
    /// `ENABLED` or `DISABLED`.
    pub enabled: bool,
    /// Console description.
    pub description: String,
}

/// A validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// What runs.
    pub task: Task,
    /// The expression.
    pub expression: String,
    /// The time zone.
    pub timezone: String,
    /// Flexible window, minutes (0: off).
    pub window_minutes: u32,
}

/// A validated rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// What runs.
    pub task: Task,
    /// The event pattern.
    pub pattern: Value,
    /// The event bus.
    pub event_bus: String,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack of the cluster and task definitions.
    pub compute_stack: String,
    /// Stack of the subnets.
    pub networking_stack: String,
    /// Stack of the security group.
    pub security_stack: String,
    /// Retries.
    pub retry_attempts: u32,
    /// Maximum event age, seconds.
    pub maximum_event_age_seconds: u32,
    /// Dead-letter retention, days.
    pub dead_letter_retention_days: u32,
    /// Schedules, in name order.
    pub schedules: Vec<Schedule>,
    /// Rules, in name order.
    pub rules: Vec<Rule>,
    /// Stack of the critical topic the dead-letter alarm pages, if any.
    pub monitoring_stack: Option<String>,
}

impl Settings {
    /// The compute services that run, each once, in order of first use.
    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = Vec::new();
        let tasks = self
            .schedules
            .iter()
            .map(|s| &s.task)
            .chain(self.rules.iter().map(|r| &r.task));
        for task in tasks {
            if !services.contains(&task.service.as_str()) {
                services.push(&task.service);
            }
        }
        services
    }
}

impl Config {
    /// Check every key, reporting all problems at once.
    pub fn validate(self, ctx: &Context) -> Result<Settings, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        for (key, stack) in [
            ("compute_stack", &self.compute_stack),
            ("networking_stack", &self.networking_stack),
            ("security_stack", &self.security_stack),
        ] {
            check::stack_name(key, stack, &mut diagnostics);
        }
        if !self.monitoring_stack.is_empty() {
            check::stack_name("monitoring_stack", &self.monitoring_stack, &mut diagnostics);
        }
        if self.schedules.is_empty() && self.rules.is_empty() {
            diagnostics
                .error("schedules", "the stack has no `schedules` and no `rules`")
                .help("add e.g. `[stacks.jobs.schedules.daily-cleanup]` with `service = \"worker\"` and `schedule = \"rate(1 day)\"`");
        }
        if !RETRY_ATTEMPTS.contains(&self.retry_attempts) {
            diagnostics
                .error(
                    "retry_attempts",
                    format!("`{}` is outside 0 to 185", self.retry_attempts),
                )
                .help("use e.g. `3`");
        }
        if !EVENT_AGE_SECONDS.contains(&self.maximum_event_age_seconds) {
            diagnostics
                .error(
                    "maximum_event_age_seconds",
                    format!(
                        "`{}` is outside 60 to 86400 seconds",
                        self.maximum_event_age_seconds
                    ),
                )
                .help("use e.g. `3600` (an hour)");
        }
        if !DLQ_RETENTION_DAYS.contains(&self.dead_letter_retention_days) {
            diagnostics
                .error(
                    "dead_letter_retention_days",
                    format!(
                        "`{}` is outside 1 to 14 days",
                        self.dead_letter_retention_days
                    ),
                )
                .help("SQS keeps messages at most 14 days; use e.g. `14`");
        }
        let mut ids: Vec<(String, String)> = Vec::new();
        let schedules: Vec<Schedule> = self
            .schedules
            .iter()
            .map(|(key, config)| {
                let task = check_task(
                    ctx,
                    &format!("schedules.{key}"),
                    key,
                    TaskKeys {
                        service: &config.service,
                        command: config.command.as_deref(),
                        task_count: config.task_count,
                        enabled: config.enabled,
                        description: config.description.as_deref(),
                    },
                    &mut ids,
                    &mut diagnostics,
                );
                check_expression(
                    &format!("schedules.{key}.schedule"),
                    &config.schedule,
                    &mut diagnostics,
                );
                check_timezone(
                    &format!("schedules.{key}.timezone"),
                    &config.timezone,
                    &mut diagnostics,
                );
                if !WINDOW_MINUTES.contains(&config.flexible_window_minutes) {
                    diagnostics
                        .error(
                            format!("schedules.{key}.flexible_window_minutes"),
                            format!(
                                "`{}` is outside 0 to 1440 minutes",
                                config.flexible_window_minutes
                            ),
                        )
                        .help("use `0` to start on time, or up to `1440` (a day)");
                }
                Schedule {
                    task,
                    expression: config.schedule.clone(),
                    timezone: config.timezone.clone(),
                    window_minutes: config.flexible_window_minutes,
                }
            })
            .collect();
        let rules: Vec<Rule> = self
            .rules
            .iter()
            .map(|(key, config)| {
                let at = |k: &str| format!("rules.{key}.{k}");
                let task = check_task(
                    ctx,
                    &format!("rules.{key}"),
                    key,
                    TaskKeys {
                        service: &config.service,
                        command: config.command.as_deref(),
                        task_count: config.task_count,
                        enabled: config.enabled,
                        description: config.description.as_deref(),
                    },
                    &mut ids,
                    &mut diagnostics,
                );
                if config.sources.is_empty() && config.detail_types.is_empty() {
                    diagnostics
                        .error(format!("rules.{key}"), format!("rule `{key}` matches no `sources` and no `detail_types`"))
                        .help("match at least the event source, e.g. `sources = [\"com.myapp.orders\"]`");
                }
                for (field, values) in [("sources", &config.sources), ("detail_types", &config.detail_types)] {
                    for (i, value) in values.iter().enumerate() {
                        if value.trim().is_empty() || value.len() > 256 {
                            diagnostics
                                .error(format!("{}.{i}", at(field)), format!("`{value}` is not a value an event pattern can match"))
                                .help("write the event's exact value, 1 to 256 characters, e.g. `com.myapp.orders`");
                        }
                    }
                }
                let bus_ok = config.event_bus.len() <= 1600
                    && !config.event_bus.is_empty()
                    && config
                        .event_bus
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "/._-:".contains(c));
                if !bus_ok {
                    diagnostics
                        .error(at("event_bus"), format!("`{}` is not an event bus name or ARN", config.event_bus))
                        .help("use `default`, a bus name such as `orders`, or its ARN");
                }
                let mut pattern = strata_sdk::serde_json::Map::new();
                if !config.sources.is_empty() {
                    pattern.insert("source".into(), Value::from(config.sources.clone()));
                }
                if !config.detail_types.is_empty() {
                    pattern.insert("detail-type".into(), Value::from(config.detail_types.clone()));
                }
                if let Some(detail) = &config.detail {
                    pattern.insert(
                        "detail".into(),
                        Value::Object(detail.clone().into_iter().collect()),
                    );
                }
                Rule {
                    task,
                    pattern: Value::Object(pattern),
                    event_bus: config.event_bus.clone(),
                }
            })
            .collect();
        diagnostics.check()?;
        Ok(Settings {
            compute_stack: self.compute_stack,
            networking_stack: self.networking_stack,
            security_stack: self.security_stack,
            retry_attempts: self.retry_attempts,
            maximum_event_age_seconds: self.maximum_event_age_seconds,
            dead_letter_retention_days: self.dead_letter_retention_days,
            schedules,
            rules,
            monitoring_stack: (!self.monitoring_stack.is_empty()).then_some(self.monitoring_stack),
        })
    }
}

/// The keys schedules and rules share.
struct TaskKeys<'a> {
    service: &'a str,
    command: Option<&'a [String]>,
    task_count: u32,
    enabled: bool,
    description: Option<&'a str>,
}

fn check_task(
    ctx: &Context,
    path: &str,
    key: &str,
    keys: TaskKeys<'_>,
    ids: &mut Vec<(String, String)>,
    diagnostics: &mut Diagnostics,
) -> Task {
    let name = ctx.name(key);
    let id = cfn::logical_id(key);
    if check::resource_name(
        path,
        "schedule or rule",
        key,
        MAX_NAME,
        "daily-cleanup",
        diagnostics,
    ) {
        if name.len() > MAX_NAME {
            diagnostics
                .error(
                    path,
                    format!("`{name}` is longer than the 64 characters of a schedule or rule name"),
                )
                .help("shorten the key");
        }
        if let Some((other, _)) = ids.iter().find(|(_, other_id)| *other_id == id) {
            diagnostics
                .error(
                    path,
                    format!("`{key}` and `{other}` give the same CloudFormation logical id `{id}`"),
                )
                .help("rename one of them");
        }
        ids.push((key.to_owned(), id.clone()));
    }
    if keys.service.is_empty() {
        diagnostics
            .error(format!("{path}.service"), "no `service` to run")
            .help(
                "name the compute service whose task definition runs, e.g. `service = \"worker\"`",
            );
    } else {
        check::resource_name(
            &format!("{path}.service"),
            "compute service",
            keys.service,
            MAX_SERVICE,
            "worker",
            diagnostics,
        );
    }
    if keys.command.is_some_and(<[String]>::is_empty) {
        diagnostics
            .error(format!("{path}.command"), "`command` is empty")
            .help("remove `command` to run the service's own command");
    }
    if !TASK_COUNT.contains(&keys.task_count) {
        diagnostics
            .error(
                format!("{path}.task_count"),
                format!("`{}` is outside 1 to 10", keys.task_count),
            )
            .help("ECS starts 1 to 10 tasks per call; use e.g. `1`");
    }
    let description = keys.description.map_or_else(
        || format!("Runs the {} task of {}", keys.service, ctx.name(&ctx.stack)),
        str::to_owned,
    );
    if description.len() > 512 {
        diagnostics
            .error(
                format!("{path}.description"),
                "the description is longer than 512 characters",
            )
            .help("shorten it");
    }
    Task {
        key: key.to_owned(),
        id,
        name,
        service: keys.service.to_owned(),
        command: keys.command.map(<[String]>::to_vec),
        task_count: keys.task_count,
        enabled: keys.enabled,
        description,
    }
}

/// `rate(N unit)`, `cron(six fields)` or `at(yyyy-mm-ddThh:mm:ss)`.
pub fn expression_problem(expression: &str) -> Option<String> {
    if let Some(inner) = expression
        .strip_prefix("rate(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let mut parts = inner.split(' ');
        let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Some("a rate is `rate(<number> <unit>)`".into());
        };
        let Ok(value) = value.parse::<u32>() else {
            return Some(format!("`{value}` is not a whole number"));
        };
        if value == 0 {
            return Some("a rate of `0` never runs".into());
        }
        let singular = matches!(unit, "minute" | "hour" | "day");
        let plural = matches!(unit, "minutes" | "hours" | "days");
        return match (singular, plural) {
            (false, false) => Some(format!(
                "`{unit}` is not `minute(s)`, `hour(s)` or `day(s)`"
            )),
            (true, _) if value != 1 => Some(format!("write `{value} {unit}s`")),
            (_, true) if value == 1 => Some(format!("write `1 {}`", unit.trim_end_matches('s'))),
            _ => None,
        };
    }
    if let Some(inner) = expression
        .strip_prefix("cron(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let fields: Vec<&str> = inner.split(' ').collect();
        if fields.len() != 6 {
            return Some(format!(
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this has {}",
                fields.len()
            ));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Some("one of day-of-month and day-of-week must be `?`".into());
        }
        let valid = fields.iter().all(|f| {
            !f.is_empty()
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ",-*?/#L".contains(c))
        });
        return (!valid).then(|| "a field has characters cron does not take".into());
    }
    if let Some(inner) = expression
        .strip_prefix("at(")
        .and_then(|e| e.strip_suffix(')'))
    {
        let bytes = inner.as_bytes();
        let shape = bytes.len() == 19
            && bytes.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b'T',
                13 | 16 => *b == b':',
                _ => b.is_ascii_digit(),
            });
        return (!shape).then(|| "a one-time schedule is `at(yyyy-mm-ddThh:mm:ss)`".into());
    }
    Some("it is not `rate(...)`, `cron(...)` or `at(...)`".into())
}

fn check_expression(path: &str, expression: &str, diagnostics: &mut Diagnostics) {
    if let Some(problem) = expression_problem(expression) {
        diagnostics
            .error(path, format!("`{expression}` is not a schedule expression: {problem}"))
            .help("write e.g. `rate(1 day)`, `rate(15 minutes)`, `cron(0 3 * * ? *)` or `at(2030-01-01T00:00:00)`");
    }
}

/// `UTC`, or an IANA name such as `Europe/Berlin`.
fn check_timezone(path: &str, timezone: &str, diagnostics: &mut Diagnostics) {
    let shaped = timezone == "UTC"
        || (timezone.contains('/')
            && timezone.starts_with(|c: char| c.is_ascii_uppercase())
            && !timezone.ends_with('/')
            && timezone.len() <= 50
            && timezone
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c)));
    if !shaped {
        diagnostics
            .error(path, format!("`{timezone}` is not an IANA time zone"))
            .help("write `UTC` or a name such as `Europe/Berlin` or `America/New_York`");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_expressions_eventbridge_scheduler_takes() {
        for good in [
            "rate(1 day)",
            "rate(15 minutes)",
            "rate(2 hours)",
            "cron(0 3 * * ? *)",
            "cron(0/15 8-17 ? * MON-FRI *)",
            "at(2030-01-01T00:00:00)",
        ] {
            assert_eq!(expression_problem(good), None, "{good}");
        }
        for (bad, problem) in [
            ("rate(1 days)", "write `1 day`"),
            ("rate(5 minute)", "write `5 minutes`"),
            ("rate(0 hours)", "a rate of `0` never runs"),
            (
                "rate(1 week)",
                "`week` is not `minute(s)`, `hour(s)` or `day(s)`",
            ),
            (
                "cron(0 3 * * *)",
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this has 5",
            ),
            (
                "cron(0 3 * * * *)",
                "one of day-of-month and day-of-week must be `?`",
            ),
            (
                "at(2030-01-01)",
                "a one-time schedule is `at(yyyy-mm-ddThh:mm:ss)`",
            ),
            ("daily", "it is not `rate(...)`, `cron(...)` or `at(...)`"),
        ] {
            assert_eq!(expression_problem(bad).as_deref(), Some(problem), "{bad}");
        }
    }
}
