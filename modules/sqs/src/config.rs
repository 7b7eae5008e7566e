//! The `[stacks.<name>]` table of an sqs stack, and its validation into
//! [`Settings`]: queue names checked (each becomes a physical name, logical
//! ids and export names), limits checked against SQS's.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, cfn, check};

/// SQS keeps messages 1 minute to 14 days; this module counts whole days.
const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=14;
/// SQS visibility timeouts: 0 to 12 hours.
const VISIBILITY_SECONDS: std::ops::RangeInclusive<u32> = 0..=43_200;
/// Receives before a message moves to its dead-letter queue.
const RECEIVE_COUNT: std::ops::RangeInclusive<u32> = 1..=1000;
/// A queue's name in the config: it is part of export names.
const MAX_QUEUE_NAME: usize = 40;
/// SQS queue names, including `-dlq` and `.fifo`.
const MAX_SQS_NAME: usize = 80;

/// Work queues, each with a dead-letter queue, encrypted with the stack's
/// KMS key.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Queues to create, by short name (lowercase letters, digits and single
    /// hyphens, starting with a letter, at most 40 characters). Queue `jobs`
    /// is named `{project}-{environment}-jobs`, its dead-letter queue
    /// `{project}-{environment}-jobs-dlq`.
    pub queues: Vec<String>,
    /// Seconds a received message stays hidden from other consumers (0 to
    /// 43200). Set it above the longest time a consumer takes per message.
    pub visibility_timeout_seconds: u32,
    /// Days a queue keeps a message nobody deleted (1 to 14).
    pub message_retention_days: u32,
    /// Days a dead-letter queue keeps a message (1 to 14), at least
    /// `message_retention_days`: a message keeps its original enqueue time
    /// when it moves to the dead-letter queue.
    pub dlq_retention_days: u32,
    /// Receives after which a message moves to the dead-letter queue (1 to
    /// 1000).
    pub max_receive_count: u32,
    /// Create FIFO queues (exactly-once, ordered; names end in `.fifo`, with
    /// content-based deduplication).
    pub fifo: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            queues: ["background-jobs", "data-refresh", "notifications"]
                .map(String::from)
                .to_vec(),
            visibility_timeout_seconds: 300,
            message_retention_days: 4,
            dlq_retention_days: 14,
            max_receive_count: 3,
            fifo: false,
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The queues, in config order.
    pub queues: Vec<Queue>,
    /// Visibility timeout, seconds.
    pub visibility_timeout_seconds: u32,
    /// Queue retention, seconds.
    pub message_retention_seconds: u32,
    /// Dead-letter queue retention, seconds.
    pub dlq_retention_seconds: u32,
    /// Receives before dead-lettering.
    pub max_receive_count: u32,
    /// FIFO queues.
    pub fifo: bool,
}

/// One queue and the names that follow from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// The short name from the config, used in export names.
    pub key: String,
    /// `QueueName` of the queue.
    pub name: String,
    /// `QueueName` of its dead-letter queue.
    pub dlq_name: String,
    /// Logical id of the queue; the dead-letter queue's adds `DeadLetter`.
    pub logical_id: String,
}

impl Queue {
    /// Logical id of the dead-letter queue.
    pub fn dlq_logical_id(&self) -> String {
        format!("{}DeadLetter", self.logical_id)
    }
}

impl Config {
    /// Check every key, reporting all problems at once.
    pub fn validate(self, ctx: &Context) -> Result<Settings, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let queues = self.check_queues(ctx, &mut diagnostics);
        let visibility = self.visibility_timeout_seconds;
        if !VISIBILITY_SECONDS.contains(&visibility) {
            diagnostics
                .error(
                    "visibility_timeout_seconds",
                    format!("`{visibility}` is above SQS's limit of 43200 seconds (12 hours)"),
                )
                .help("use at most `43200`, and split longer jobs into steps");
        }
        check_days(
            "message_retention_days",
            self.message_retention_days,
            &mut diagnostics,
        );
        check_days(
            "dlq_retention_days",
            self.dlq_retention_days,
            &mut diagnostics,
        );
        let (kept, dead) = (self.message_retention_days, self.dlq_retention_days);
        if RETENTION_DAYS.contains(&kept) && RETENTION_DAYS.contains(&dead) && dead < kept {
            diagnostics
                .error(
                    "dlq_retention_days",
                    format!("dead-letter queues keep messages `{dead}` days, less than the queues' `{kept}`"),
                )
                .help(format!(
                    "a message keeps its enqueue time when it is dead-lettered, so it could expire on arrival; use at least `{kept}` (`14` is usual)"
                ));
        }
        let count = self.max_receive_count;
        if !RECEIVE_COUNT.contains(&count) {
            diagnostics
                .error(
                    "max_receive_count",
                    format!("`{count}` is outside 1 to 1000"),
                )
                .help("use e.g. `3`: a message failing three times is unlikely to succeed later");
        }
        diagnostics.check()?;
        Ok(Settings {
            queues,
            visibility_timeout_seconds: visibility,
            message_retention_seconds: kept * 86_400,
            dlq_retention_seconds: dead * 86_400,
            max_receive_count: count,
            fifo: self.fifo,
        })
    }

    fn check_queues(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> Vec<Queue> {
        if self.queues.is_empty() {
            diagnostics
                .error("queues", "no queues to create")
                .help("list at least one, e.g. `queues = [\"background-jobs\"]`");
        }
        let suffix = if self.fifo { ".fifo" } else { "" };
        let mut queues: Vec<Queue> = Vec::new();
        for (index, key) in self.queues.iter().enumerate() {
            let path = format!("queues.{index}");
            if !check::resource_name(&path, "queue", key, MAX_QUEUE_NAME, "jobs", diagnostics) {
                continue;
            }
            let logical_id = format!("{}Queue", cfn::logical_id(key));
            let earlier = queues
                .iter()
                .map(|q| (q.key.as_str(), q.logical_id.as_str()));
            if !check::unique_name(&path, "queue", key, &logical_id, earlier, diagnostics) {
                continue;
            }
            let dlq_name = format!("{}-dlq{suffix}", ctx.name(key));
            if dlq_name.len() > MAX_SQS_NAME {
                diagnostics
                    .error(
                        &path,
                        format!(
                            "queue name `{dlq_name}` is {} characters, SQS allows 80",
                            dlq_name.len()
                        ),
                    )
                    .help("use a shorter queue name");
                continue;
            }
            queues.push(Queue {
                key: key.clone(),
                name: format!("{}{suffix}", ctx.name(key)),
                dlq_name,
                logical_id,
            });
        }
        queues
    }
}

fn check_days(path: &str, days: u32, diagnostics: &mut Diagnostics) {
    if !RETENTION_DAYS.contains(&days) {
        diagnostics
            .error(path, format!("`{days}` days is outside SQS's 1 to 14"))
            .help("use `4` (SQS's default) up to `14`");
    }
}
