//! The `[stacks.<name>]` table of a database stack, and its validation into
//! [`Settings`]: every environment-dependent default resolved, every value
//! checked.

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, check};

/// PostgreSQL major versions RDS offers and this module renders.
const MAJOR_VERSIONS: std::ops::RangeInclusive<u32> = 13..=18;
/// gp3 volumes: 20 GiB to 64 TiB.
const STORAGE_GIB: std::ops::RangeInclusive<u32> = 20..=65_536;
/// Automated backups: at least a week (our floor), at most RDS's 35 days.
const BACKUP_DAYS: std::ops::RangeInclusive<u32> = 7..=35;
/// Names PostgreSQL or RDS already use, or SQL keywords RDS refuses.
const RESERVED_DATABASE_NAMES: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "rdsadmin",
    "user",
    "select",
    "table",
];
const RESERVED_USERNAMES: &[&str] = &[
    "postgres",
    "admin",
    "rdsadmin",
    "rdsrepladmin",
    "rds_superuser",
    "public",
    "user",
    "select",
    "table",
];

/// An RDS for PostgreSQL instance in the isolated subnets, encrypted with its
/// own KMS key, its master password kept by Secrets Manager.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the networking stack whose DB subnet group to use.
    pub networking_stack: String,
    /// Name of the security stack whose database security group to use.
    pub security_stack: String,
    /// PostgreSQL version: `major.minor` (e.g. `16.13`), or the major alone
    /// (e.g. `16`) to let RDS pick its default minor. Majors 13 to 18. The
    /// minor must be one RDS still offers for new instances; minors then
    /// upgrade automatically in the maintenance window.
    pub engine_version: String,
    /// RDS instance class, e.g. `db.t4g.micro` (dev) or `db.r6g.large`
    /// (production).
    pub instance_class: String,
    /// Initial storage in GiB (20 to 65536, gp3, encrypted).
    pub allocated_storage: u32,
    /// Storage autoscaling limit in GiB: at least 10% above
    /// `allocated_storage`, or equal to it to turn autoscaling off.
    pub max_allocated_storage: u32,
    /// Keep a synchronous standby in another availability zone. Defaults to
    /// true in production, where it cannot be turned off.
    pub multi_az: Option<bool>,
    /// Days of automated backups and point-in-time recovery (7 to 35).
    pub backup_retention_days: u32,
    /// Refuse to delete the instance until this is turned off. Defaults to true
    /// in production, where it cannot be turned off.
    pub deletion_protection: Option<bool>,
    /// Turn on Performance Insights (7 days of history, encrypted with the
    /// database's key). Defaults to true in production.
    pub performance_insights: Option<bool>,
    /// Name of the database created in the instance: letters, digits and
    /// underscores, starting with a letter, at most 63 characters.
    pub database_name: String,
    /// Name of the master user (same rules as `database_name`). Its password
    /// is generated and kept in Secrets Manager.
    pub master_username: String,
    /// Log statements slower than this many milliseconds (`-1` logs none,
    /// `0` logs all).
    pub log_min_duration_statement_ms: i64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            security_stack: "security".into(),
            engine_version: "16.13".into(),
            instance_class: "db.t4g.micro".into(),
            allocated_storage: 20,
            max_allocated_storage: 100,
            multi_az: None,
            backup_retention_days: 7,
            deletion_protection: None,
            performance_insights: None,
            database_name: "app".into(),
            master_username: "app".into(),
            log_min_duration_statement_ms: 1000,
        }
    }
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack to import the DB subnet group from.
    pub networking_stack: String,
    /// Stack to import the database security group from.
    pub security_stack: String,
    /// Version as written (`16.13` or `16`).
    pub engine_version: String,
    /// Parameter group family, e.g. `postgres16`.
    pub family: String,
    /// Instance class.
    pub instance_class: String,
    /// Initial storage, GiB.
    pub allocated_storage: u32,
    /// Autoscaling limit, GiB; `None` when autoscaling is off.
    pub max_allocated_storage: Option<u32>,
    /// Standby in a second zone.
    pub multi_az: bool,
    /// Backup retention, days.
    pub backup_retention_days: u32,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Performance Insights.
    pub performance_insights: bool,
    /// Database name.
    pub database_name: String,
    /// Master user name.
    pub master_username: String,
    /// `log_min_duration_statement`, ms.
    pub log_min_duration_statement_ms: i64,
    /// The RDS instance identifier, `{project}-{environment}-database`.
    pub identifier: String,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        check::stack_name("security_stack", &self.security_stack, &mut diagnostics);
        let major = check_engine_version(&self.engine_version, &mut diagnostics);
        check_instance_class(ctx, &self.instance_class, &mut diagnostics);
        let max_allocated_storage = self.check_storage(&mut diagnostics);
        self.check_backup_retention(&mut diagnostics);
        self.check_production_guarantees(ctx, &mut diagnostics);
        check_identifier(
            "database_name",
            &self.database_name,
            RESERVED_DATABASE_NAMES,
            &mut diagnostics,
        );
        check_identifier(
            "master_username",
            &self.master_username,
            RESERVED_USERNAMES,
            &mut diagnostics,
        );
        self.check_log_min_duration(&mut diagnostics);
        let identifier = check_instance_identifier(ctx, &mut diagnostics);
        diagnostics.check()?;

        let production = ctx.is_production();
        let settings = Settings {
            // No error was recorded, so the version parsed.
            family: format!("postgres{}", major.unwrap_or_default()),
            networking_stack: self.networking_stack,
            security_stack: self.security_stack,
            engine_version: self.engine_version,
            instance_class: self.instance_class,
            allocated_storage: self.allocated_storage,
            max_allocated_storage,
            multi_az: self.multi_az.unwrap_or(production),
            backup_retention_days: self.backup_retention_days,
            deletion_protection: self.deletion_protection.unwrap_or(production),
            performance_insights: self.performance_insights.unwrap_or(production),
            database_name: self.database_name,
            master_username: self.master_username,
            log_min_duration_statement_ms: self.log_min_duration_statement_ms,
            identifier,
        };
        Ok((settings, diagnostics))
    }

    /// Returns the autoscaling limit to render (`None`: autoscaling off).
    fn check_storage(&self, diagnostics: &mut Diagnostics) -> Option<u32> {
        let (allocated, max) = (self.allocated_storage, self.max_allocated_storage);
        let allocated_ok = STORAGE_GIB.contains(&allocated);
        if !allocated_ok {
            diagnostics
                .error(
                    "allocated_storage",
                    format!("`{allocated}` GiB is outside 20 to 65536"),
                )
                .help("gp3 volumes hold 20 GiB to 64 TiB; use `20` and let storage autoscale");
        }
        // RDS wants the limit at least 10% above the current size.
        let least = allocated.saturating_add(allocated.div_ceil(10));
        if max > *STORAGE_GIB.end() {
            diagnostics
                .error(
                    "max_allocated_storage",
                    format!("`{max}` GiB is above the gp3 limit of 65536"),
                )
                .help("use at most `65536`");
        } else if !allocated_ok {
            // The limit is judged against a valid size only.
        } else if max < allocated {
            diagnostics
                .error("max_allocated_storage", format!("`{max}` GiB is below `allocated_storage` (`{allocated}` GiB)"))
                .help(format!("use at least `{least}` to let storage grow, or `{allocated}` to turn autoscaling off"));
        } else if max != allocated && max < least {
            diagnostics
                .error(
                    "max_allocated_storage",
                    format!(
                        "`{max}` GiB is less than 10% above `allocated_storage` (`{allocated}` GiB)"
                    ),
                )
                .help(format!(
                    "use at least `{least}`, or `{allocated}` to turn autoscaling off"
                ));
        }
        (max != allocated).then_some(max)
    }

    fn check_backup_retention(&self, diagnostics: &mut Diagnostics) {
        let days = self.backup_retention_days;
        if days < *BACKUP_DAYS.start() {
            diagnostics
                .error(
                    "backup_retention_days",
                    format!("backups must be kept at least 7 days, got `{days}`"),
                )
                .help("use `7` (or `30` in production) for a week of point-in-time recovery");
        } else if days > *BACKUP_DAYS.end() {
            diagnostics
                .error(
                    "backup_retention_days",
                    format!("RDS keeps automated backups at most 35 days, got `{days}`"),
                )
                .help("use `35`, and AWS Backup or manual snapshots for longer retention");
        }
    }

    /// Production databases survive a zone outage and a stray delete: those
    /// defaults may not be turned off there.
    fn check_production_guarantees(&self, ctx: &Context, diagnostics: &mut Diagnostics) {
        if !ctx.is_production() {
            return;
        }
        let environment = &ctx.environment;
        if self.multi_az == Some(false) {
            diagnostics
                .error("multi_az", format!("`multi_az = false` in production environment `{environment}`"))
                .help("prod databases must be multi-AZ to survive a zone outage; remove `multi_az` (it defaults to `true`)");
        }
        if self.deletion_protection == Some(false) {
            diagnostics
                .error(
                    "deletion_protection",
                    format!("`deletion_protection = false` in production environment `{environment}`"),
                )
                .help(
                    "prod databases must be protected from deletion; remove `deletion_protection` (it defaults to \
                     `true`), or turn it off in the console for a deliberate teardown",
                );
        }
    }

    fn check_log_min_duration(&self, diagnostics: &mut Diagnostics) {
        let ms = self.log_min_duration_statement_ms;
        if !(-1..=i64::from(i32::MAX)).contains(&ms) {
            diagnostics
                .error(
                    "log_min_duration_statement_ms",
                    format!("`{ms}` is outside -1 to 2147483647"),
                )
                .help(
                    "use `-1` to log no statements, `0` to log all, or a threshold such as `1000`",
                );
        }
    }
}

/// Returns the major version of `16.13` or `16`.
fn check_engine_version(version: &str, diagnostics: &mut Diagnostics) -> Option<u32> {
    let is_number = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    let major = match version.split_once('.') {
        None => Some(version),
        Some((major, minor)) => Some(major).filter(|_| is_number(minor)),
    };
    let Some(major) = major
        .filter(|major| is_number(major))
        .and_then(|major| major.parse::<u32>().ok())
    else {
        diagnostics
            .error(
                "engine_version",
                format!("`{version}` is not a PostgreSQL version"),
            )
            .help("write `major.minor` such as `16.13`, or the major alone such as `16`");
        return None;
    };
    if !MAJOR_VERSIONS.contains(&major) {
        diagnostics
            .error(
                "engine_version",
                format!("PostgreSQL `{major}` is not supported, expected 13 to 18"),
            )
            .help("use `16.13`, or a newer version RDS offers");
        return None;
    }
    Some(major)
}

/// `db.<family>.<size>`, e.g. `db.t4g.micro`, `db.r6gd.2xlarge`.
fn check_instance_class(ctx: &Context, class: &str, diagnostics: &mut Diagnostics) {
    let help =
        "use an RDS instance class such as `db.t4g.micro` (dev) or `db.r6g.large` (production)";
    if class == "db.serverless" {
        diagnostics
            .error(
                "instance_class",
                "`db.serverless` is Aurora Serverless v2, which this module does not create",
            )
            .help(help);
        return;
    }
    let parts: Vec<&str> = class.split('.').collect();
    let valid =
        matches!(parts.as_slice(), ["db", family, size] if is_family(family) && is_size(size));
    if !valid {
        diagnostics
            .error(
                "instance_class",
                format!("`{class}` is not an RDS instance class"),
            )
            .help(help);
        return;
    }
    if ctx.is_production() && class.starts_with("db.t") {
        diagnostics
            .warning("instance_class", format!("burstable instance class `{class}` in production"))
            .help("burstable classes slow down once their CPU credits run out; use e.g. `db.m7g.large` or `db.r6g.large`");
    }
}

/// Letters, a generation digit, then attribute letters: `t4g`, `r6gd`,
/// `x2iedn`, `m5`.
fn is_family(family: &str) -> bool {
    let rest = family.trim_start_matches(|c: char| c.is_ascii_lowercase());
    let attributes = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    rest.len() < family.len()
        && attributes.len() < rest.len()
        && attributes.bytes().all(|b| b.is_ascii_lowercase())
}

/// `micro`, `small`, `medium`, `large`, `xlarge`, `12xlarge`, `metal`,
/// `metal-24xl`.
fn is_size(size: &str) -> bool {
    match size {
        "micro" | "small" | "medium" | "large" | "xlarge" | "metal" => true,
        _ => {
            if let Some(count) = size.strip_suffix("xlarge") {
                count.bytes().all(|b| b.is_ascii_digit()) && !count.starts_with('0')
            } else if let Some(count) = size
                .strip_prefix("metal-")
                .and_then(|s| s.strip_suffix("xl"))
            {
                !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit())
            } else {
                false
            }
        }
    }
}

/// PostgreSQL identifiers as RDS accepts them for `DBName` and
/// `MasterUsername`.
fn check_identifier(path: &str, name: &str, reserved: &[&str], diagnostics: &mut Diagnostics) {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !starts_with_letter || !valid_chars || name.len() > 63 {
        let suggestion: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .skip_while(|c| !c.is_ascii_alphabetic())
            .take(63)
            .collect();
        let suggestion = if suggestion.is_empty() {
            "app".to_owned()
        } else {
            suggestion
        };
        diagnostics
            .error(path, format!("`{name}` is not a valid name"))
            .help(format!(
                "use letters, digits and underscores, starting with a letter, at most 63 characters, e.g. `{suggestion}`"
            ));
    } else if reserved.contains(&name.to_ascii_lowercase().as_str()) {
        diagnostics
            .error(path, format!("`{name}` is reserved by PostgreSQL or RDS"))
            .help("use a name of your application, e.g. `app`");
    }
}

/// RDS instance identifiers: 1 to 63 lowercase letters, digits and hyphens,
/// starting with a letter, without `--` or a trailing hyphen. The name
/// comes from the project and environment, so problems point at the stack.
fn check_instance_identifier(ctx: &Context, diagnostics: &mut Diagnostics) -> String {
    let identifier = ctx.name("database").to_ascii_lowercase();
    let valid = identifier.len() <= 63
        && identifier
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
        && identifier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !identifier.contains("--")
        && !identifier.ends_with('-');
    if !valid {
        diagnostics
            .error("", format!("`{identifier}` is not a valid RDS instance identifier"))
            .help(
                "RDS needs at most 63 letters, digits and single hyphens, starting with a letter; shorten the \
                 project or environment name",
            );
    }
    identifier
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_instance_families_and_sizes() {
        for family in ["t4g", "r6gd", "x2iedn", "m5", "z1d"] {
            assert!(is_family(family), "{family}");
        }
        for family in ["", "t", "4g", "t4G", "r6-g"] {
            assert!(!is_family(family), "{family}");
        }
        for size in [
            "micro",
            "large",
            "xlarge",
            "2xlarge",
            "24xlarge",
            "metal",
            "metal-48xl",
        ] {
            assert!(is_size(size), "{size}");
        }
        for size in ["", "huge", "0xlarge", "x2large", "metal-xl"] {
            assert!(!is_size(size), "{size}");
        }
    }
}
