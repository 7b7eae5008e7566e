//! The `[stacks.<name>]` table of an s3 stack, and its validation into
//! [`Settings`]: the environment's retention defaults resolved, every value
//! checked against S3's lifecycle rules and bucket naming rules.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, Value, cfn};

/// The buckets every s3 stack creates, in the order they are rendered.
pub const BUCKETS: [&str; 3] = ["logs", "assets", "backups"];

/// S3 bucket names are 3 to 63 characters.
const MAX_BUCKET_NAME: usize = 63;
/// An AWS account id, the default suffix, is 12 digits.
const ACCOUNT_ID_DIGITS: usize = 12;
/// S3 moves objects to STANDARD_IA no earlier than 30 days after creation.
const IA_MINIMUM_DAYS: u32 = 30;
/// S3 keeps an object in STANDARD_IA at least 30 days before GLACIER.
const IA_MINIMUM_STAY_DAYS: u32 = 30;
/// Backups are kept at least a week (the catalogue's floor for backups).
const BACKUP_MINIMUM_DAYS: u32 = 7;

/// Three private, encrypted buckets (logs, assets, backups) with lifecycle
/// rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Suffix appended to every bucket name (`{project}-{environment}-logs-{suffix}`),
    /// since bucket names are global across all AWS accounts. Empty (the
    /// default) appends the account id the stack deploys to. Lowercase
    /// letters, digits and hyphens.
    pub name_suffix: String,
    /// Encrypt the assets and backups buckets with a customer-managed KMS key
    /// (rotation on) instead of S3-managed keys. The logs bucket keeps
    /// S3-managed keys: load balancers deliver access logs only to those.
    pub kms: bool,
    /// Keep every version of every object (all three buckets). Overwritten
    /// and deleted objects stay recoverable for
    /// `noncurrent_version_expiration_days`.
    pub versioning: bool,
    /// Days after creation that logs move to STANDARD_IA (at least 30, S3's
    /// minimum).
    pub transition_to_ia_days: u32,
    /// Days after creation that logs and backups move to GLACIER: at least 30
    /// days after `transition_to_ia_days` (S3 keeps objects in STANDARD_IA 30
    /// days first).
    pub transition_to_glacier_days: u32,
    /// Days after creation that logs are deleted. Defaults to 365 in
    /// production, 90 elsewhere. Transitions on or after this day are left
    /// out.
    pub log_retention_days: Option<u32>,
    /// Days an overwritten or deleted object's previous version is kept
    /// (every bucket), when versioning is on.
    pub noncurrent_version_expiration_days: u32,
    /// Days after creation that backups are deleted (at least 7). Defaults to
    /// 2555 (7 years) in production, 365 elsewhere.
    pub backup_retention_days: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name_suffix: String::new(),
            kms: false,
            versioning: true,
            transition_to_ia_days: 30,
            transition_to_glacier_days: 90,
            log_retention_days: None,
            noncurrent_version_expiration_days: 90,
            backup_retention_days: None,
        }
    }
}

/// What makes bucket names unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Suffix {
    /// The deploying account's id (`${AWS::AccountId}`).
    AccountId,
    /// A literal suffix from `name_suffix`.
    Literal(String),
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Bucket name suffix.
    pub suffix: Suffix,
    /// SSE-KMS with the stack's key on assets and backups.
    pub kms: bool,
    /// Versioning on every bucket.
    pub versioning: bool,
    /// Logs: STANDARD_IA after this many days.
    pub transition_to_ia_days: u32,
    /// Logs and backups: GLACIER after this many days.
    pub transition_to_glacier_days: u32,
    /// Logs: deleted after this many days.
    pub log_retention_days: u32,
    /// Previous versions: deleted this many days after being replaced.
    pub noncurrent_version_expiration_days: u32,
    /// Backups: deleted after this many days.
    pub backup_retention_days: u32,
}

impl Settings {
    /// The physical name of `bucket` (one of [`BUCKETS`]): a string, or an
    /// `Fn::Sub` adding the account id.
    pub fn bucket_name(&self, ctx: &Context, bucket: &str) -> Value {
        match &self.suffix {
            Suffix::AccountId => cfn::sub(&format!("{}-${{AWS::AccountId}}", ctx.name(bucket))),
            Suffix::Literal(suffix) => Value::String(format!("{}-{suffix}", ctx.name(bucket))),
        }
    }
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let production = ctx.is_production();
        let log_retention_days =
            self.log_retention_days
                .unwrap_or(if production { 365 } else { 90 });
        let backup_retention_days =
            self.backup_retention_days
                .unwrap_or(if production { 2555 } else { 365 });

        let suffix = self.check_name_suffix(ctx, &mut diagnostics);
        self.check_transitions(&mut diagnostics);
        if log_retention_days == 0 {
            diagnostics
                .error(
                    "log_retention_days",
                    "logs must be kept at least 1 day, got `0`",
                )
                .help("use e.g. `90`, or `365` to keep a year of logs");
        }
        if backup_retention_days < BACKUP_MINIMUM_DAYS {
            diagnostics
                .error(
                    "backup_retention_days",
                    format!("backups must be kept at least 7 days, got `{backup_retention_days}`"),
                )
                .help("use e.g. `365`, or `2555` (7 years) for production");
        }
        if self.noncurrent_version_expiration_days == 0 {
            diagnostics
                .error(
                    "noncurrent_version_expiration_days",
                    "previous versions must be kept at least 1 day, got `0`",
                )
                .help("use e.g. `90`; turn `versioning` off to keep no previous versions");
        }
        if production && !self.versioning {
            diagnostics
                .warning(
                    "versioning",
                    format!("`versioning = false` in production environment `{}`", ctx.environment),
                )
                .help("without versioning an overwrite or delete of a backup cannot be undone; remove `versioning` (it defaults to `true`)");
        }
        diagnostics.check()?;

        let settings = Settings {
            suffix,
            kms: self.kms,
            versioning: self.versioning,
            transition_to_ia_days: self.transition_to_ia_days,
            transition_to_glacier_days: self.transition_to_glacier_days,
            log_retention_days,
            noncurrent_version_expiration_days: self.noncurrent_version_expiration_days,
            backup_retention_days,
        };
        Ok((settings, diagnostics))
    }

    /// Bucket names: 3 to 63 lowercase letters, digits and hyphens, starting
    /// and ending with a letter or digit. The longest is the backups bucket's.
    fn check_name_suffix(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> Suffix {
        let longest = ctx.name("backups");
        let is_name_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if !longest.chars().all(is_name_char)
            || !longest.starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            diagnostics
                .error("", format!("`{longest}` is not a valid start of an S3 bucket name"))
                .help("bucket names take lowercase letters, digits and hyphens; use a lowercase project and environment name");
            return Suffix::AccountId;
        }
        let suffix = self.name_suffix.as_str();
        if suffix.is_empty() {
            let length = longest.len() + 1 + ACCOUNT_ID_DIGITS;
            if length > MAX_BUCKET_NAME {
                diagnostics
                    .error(
                        "",
                        format!("bucket name `{longest}-<account id>` is {length} characters, S3 allows 63"),
                    )
                    .help("set a shorter `name_suffix` than the 12-digit account id, or shorten the project or environment name");
            }
            return Suffix::AccountId;
        }
        let valid = suffix.chars().all(is_name_char)
            && suffix.starts_with(|c: char| c.is_ascii_alphanumeric())
            && suffix.ends_with(|c: char| c.is_ascii_alphanumeric())
            && !suffix.contains("--");
        if !valid {
            diagnostics
                .error("name_suffix", format!("`{suffix}` is not a valid bucket name suffix"))
                .help(format!(
                    "use lowercase letters, digits and single hyphens, starting and ending with a letter or digit, e.g. `{}`",
                    suggestion(suffix)
                ));
        } else {
            let length = longest.len() + 1 + suffix.len();
            if length > MAX_BUCKET_NAME {
                let room = MAX_BUCKET_NAME.saturating_sub(longest.len() + 1);
                diagnostics
                    .error(
                        "name_suffix",
                        format!(
                            "bucket name `{longest}-{suffix}` is {length} characters, S3 allows 63"
                        ),
                    )
                    .help(format!("use a suffix of at most {room} characters"));
            }
        }
        Suffix::Literal(suffix.to_owned())
    }

    /// S3's rules for a rule's transitions, in the order objects go through
    /// them.
    fn check_transitions(&self, diagnostics: &mut Diagnostics) {
        let (ia, glacier) = (self.transition_to_ia_days, self.transition_to_glacier_days);
        if ia < IA_MINIMUM_DAYS {
            diagnostics
                .error(
                    "transition_to_ia_days",
                    format!("S3 moves objects to STANDARD_IA no earlier than 30 days after creation, got `{ia}`"),
                )
                .help("use `30` or more");
        } else if glacier < ia.saturating_add(IA_MINIMUM_STAY_DAYS) {
            let least = ia.saturating_add(IA_MINIMUM_STAY_DAYS);
            diagnostics
                .error(
                    "transition_to_glacier_days",
                    format!(
                        "GLACIER (`{glacier}` days) must come at least 30 days after STANDARD_IA (`transition_to_ia_days = {ia}`)"
                    ),
                )
                .help(format!(
                    "S3 keeps objects in STANDARD_IA 30 days before moving them on; use at least `{least}`"
                ));
        }
    }
}

/// A valid suffix close to `suffix`: lowercase, other characters as single
/// hyphens, trimmed.
fn suggestion(suffix: &str) -> String {
    let mut out = String::new();
    for c in suffix.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-');
    if out.is_empty() {
        "prod1".to_owned()
    } else {
        out.to_owned()
    }
}
