//! The database engines this module renders, and what differs between them:
//! versions and parameter group families, default ports, the parameters that
//! force TLS and log slow statements, the logs exported to CloudWatch, and
//! the names each engine reserves.

use strata_sdk::{Diagnostics, Value, json};

/// PostgreSQL majors RDS offers and this module renders.
const POSTGRES_MAJORS: std::ops::RangeInclusive<u32> = 13..=18;
/// Aurora PostgreSQL majors this module renders.
const AURORA_POSTGRES_MAJORS: std::ops::RangeInclusive<u32> = 13..=17;
/// The prefix of every Aurora MySQL 3 (MySQL 8.0 compatible) version.
const AURORA_MYSQL_PREFIX: &str = "8.0.mysql_aurora.3.";

/// A database engine: RDS (one instance, optionally with a standby) or
/// Aurora (a cluster with instances).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// RDS for PostgreSQL.
    Postgres,
    /// RDS for MySQL.
    Mysql,
    /// Aurora PostgreSQL-compatible.
    AuroraPostgresql,
    /// Aurora MySQL-compatible.
    AuroraMysql,
}

impl Engine {
    /// Every engine, as written in `engine`.
    pub const NAMES: [&str; 4] = ["postgres", "mysql", "aurora-postgresql", "aurora-mysql"];

    /// The engine named `name` in the config.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "postgres" => Some(Self::Postgres),
            "mysql" => Some(Self::Mysql),
            "aurora-postgresql" => Some(Self::AuroraPostgresql),
            "aurora-mysql" => Some(Self::AuroraMysql),
            _ => None,
        }
    }

    /// The name RDS and CloudFormation use (`Engine`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::AuroraPostgresql => "aurora-postgresql",
            Self::AuroraMysql => "aurora-mysql",
        }
    }

    /// The engine's name for people.
    pub fn title(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Mysql => "MySQL",
            Self::AuroraPostgresql => "Aurora PostgreSQL",
            Self::AuroraMysql => "Aurora MySQL",
        }
    }

    /// Aurora engines render a cluster and its instances.
    pub fn is_aurora(self) -> bool {
        matches!(self, Self::AuroraPostgresql | Self::AuroraMysql)
    }

    /// MySQL-compatible engines.
    pub fn is_mysql(self) -> bool {
        matches!(self, Self::Mysql | Self::AuroraMysql)
    }

    /// The version rendered when `engine_version` is absent.
    pub fn default_version(self) -> &'static str {
        match self {
            Self::Postgres => "16.13",
            Self::Mysql => "8.0.46",
            Self::AuroraPostgresql => "16.13",
            Self::AuroraMysql => "8.0.mysql_aurora.3.12.0",
        }
    }

    /// The port the engine listens on unless `port` says otherwise.
    pub fn default_port(self) -> u32 {
        if self.is_mysql() { 3306 } else { 5432 }
    }

    /// The logs exported to CloudWatch Logs.
    pub fn log_exports(self) -> Value {
        json!(self.log_names())
    }

    /// The logs exported to CloudWatch Logs (each into
    /// `/aws/rds/{instance|cluster}/<id>/<log>`).
    pub fn log_names(self) -> &'static [&'static str] {
        if self.is_mysql() {
            &["error", "slowquery"]
        } else {
            &["postgresql"]
        }
    }

    /// Database names the engine or RDS keeps for itself (or SQL keywords
    /// RDS refuses).
    pub fn reserved_database_names(self) -> &'static [&'static str] {
        if self.is_mysql() {
            &[
                "mysql",
                "information_schema",
                "performance_schema",
                "sys",
                "rdsadmin",
                "user",
                "select",
                "table",
            ]
        } else {
            &[
                "postgres",
                "template0",
                "template1",
                "rdsadmin",
                "user",
                "select",
                "table",
            ]
        }
    }

    /// User names the engine or RDS keeps for itself.
    pub fn reserved_usernames(self) -> &'static [&'static str] {
        if self.is_mysql() {
            &[
                "root",
                "rdsadmin",
                "rdsrepladmin",
                "mysql",
                "user",
                "select",
                "table",
            ]
        } else {
            &[
                "postgres",
                "admin",
                "rdsadmin",
                "rdsrepladmin",
                "rds_superuser",
                "public",
                "user",
                "select",
                "table",
            ]
        }
    }

    /// Longest database name the engine accepts.
    pub fn max_database_name(self) -> usize {
        if self.is_mysql() { 64 } else { 63 }
    }

    /// Longest master user name the engine accepts.
    pub fn max_username(self) -> usize {
        if self.is_mysql() { 16 } else { 63 }
    }

    /// The parameters of the (cluster) parameter group: TLS only, and slow
    /// statements logged after `log_min_duration_statement_ms` (`-1`: none).
    pub fn parameters(self, log_min_duration_statement_ms: i64) -> Value {
        if self.is_mysql() {
            let mut parameters = json!({
                "require_secure_transport": "ON",
                // The slow query log goes to a file, which RDS publishes to
                // CloudWatch Logs (`slowquery`).
                "log_output": "FILE",
                "slow_query_log": if log_min_duration_statement_ms < 0 { "0" } else { "1" },
            });
            if log_min_duration_statement_ms >= 0 {
                parameters["long_query_time"] = seconds(log_min_duration_statement_ms).into();
            }
            parameters
        } else {
            json!({
                "rds.force_ssl": "1",
                "log_min_duration_statement": log_min_duration_statement_ms.to_string(),
            })
        }
    }

    /// Check `version` for this engine; returns the parameter group family
    /// (`postgres16`, `mysql8.0`, `aurora-postgresql16`, `aurora-mysql8.0`).
    pub fn check_version(self, version: &str, diagnostics: &mut Diagnostics) -> Option<String> {
        match self {
            Self::Postgres => check_postgres_version(version, POSTGRES_MAJORS, diagnostics)
                .map(|major| format!("postgres{major}")),
            Self::AuroraPostgresql => {
                check_postgres_version(version, AURORA_POSTGRES_MAJORS, diagnostics)
                    .map(|major| format!("aurora-postgresql{major}"))
            }
            Self::Mysql => check_mysql_version(version, diagnostics),
            Self::AuroraMysql => check_aurora_mysql_version(version, diagnostics)
                .map(|_| "aurora-mysql8.0".to_owned()),
        }
    }

    /// Whether `version` (already checked) can run Aurora Serverless v2:
    /// Aurora MySQL 3.02.0, Aurora PostgreSQL 13.6, 14.3, 15.2 and later.
    pub fn supports_serverless_v2(self, version: &str) -> bool {
        let number = |part: Option<&str>| part.and_then(|p| p.parse::<u32>().ok());
        match self {
            Self::AuroraMysql => {
                let release = version.strip_prefix(AURORA_MYSQL_PREFIX);
                number(release.and_then(|r| r.split('.').next())).is_none_or(|minor| minor >= 2)
            }
            Self::AuroraPostgresql => {
                let mut parts = version.split('.');
                let major = number(parts.next());
                let minor = number(parts.next());
                match (major, minor) {
                    (Some(13), Some(minor)) => minor >= 6,
                    (Some(14), Some(minor)) => minor >= 3,
                    (Some(15), Some(minor)) => minor >= 2,
                    _ => true,
                }
            }
            Self::Postgres | Self::Mysql => false,
        }
    }
}

/// Milliseconds as MySQL's `long_query_time` seconds: `1000` → `1`,
/// `250` → `0.25`, `1500` → `1.5`.
fn seconds(ms: i64) -> String {
    let (whole, fraction) = (ms / 1000, ms % 1000);
    if fraction == 0 {
        whole.to_string()
    } else {
        let fraction = format!("{fraction:03}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
}

fn is_number(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// Returns the major version of `16.13` or `16`.
fn check_postgres_version(
    version: &str,
    majors: std::ops::RangeInclusive<u32>,
    diagnostics: &mut Diagnostics,
) -> Option<u32> {
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
    if !majors.contains(&major) {
        let (first, last) = (majors.start(), majors.end());
        diagnostics
            .error(
                "engine_version",
                format!("PostgreSQL `{major}` is not supported, expected {first} to {last}"),
            )
            .help("use `16.13`, or a newer version RDS offers");
        return None;
    }
    Some(major)
}

/// `8.0.40`, `8.4.6`, or `8.0`/`8.4` alone; returns the family.
fn check_mysql_version(version: &str, diagnostics: &mut Diagnostics) -> Option<String> {
    let parts: Vec<&str> = version.split('.').collect();
    let well_formed = matches!(parts.len(), 2 | 3) && parts.iter().all(|part| is_number(part));
    if !well_formed {
        diagnostics
            .error(
                "engine_version",
                format!("`{version}` is not a MySQL version"),
            )
            .help("write `major.minor.patch` such as `8.0.40` or `8.4.6`");
        return None;
    }
    let major = format!("{}.{}", parts[0], parts[1]);
    if !matches!(major.as_str(), "8.0" | "8.4") {
        diagnostics
            .error(
                "engine_version",
                format!("MySQL `{major}` is not supported, expected 8.0 or 8.4"),
            )
            .help("use `8.0.40`, or an 8.4 version such as `8.4.6`");
        return None;
    }
    Some(format!("mysql{major}"))
}

/// `8.0.mysql_aurora.3.08.0` (Aurora MySQL 3, MySQL 8.0 compatible).
fn check_aurora_mysql_version(version: &str, diagnostics: &mut Diagnostics) -> Option<()> {
    let release = version.strip_prefix(AURORA_MYSQL_PREFIX);
    let well_formed = release.is_some_and(|release| {
        let parts: Vec<&str> = release.split('.').collect();
        matches!(parts.len(), 2 | 3) && parts.iter().all(|part| is_number(part))
    });
    if well_formed {
        return Some(());
    }
    let help = if version.starts_with("5.7") {
        "Aurora MySQL 2 (MySQL 5.7) has reached end of life; use an Aurora MySQL 3 version such as `8.0.mysql_aurora.3.08.0`"
    } else {
        "write the full Aurora MySQL 3 version, e.g. `8.0.mysql_aurora.3.08.0`"
    };
    diagnostics
        .error(
            "engine_version",
            format!("`{version}` is not an Aurora MySQL 3 version"),
        )
        .help(help);
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_milliseconds_to_long_query_time_seconds() {
        assert_eq!(seconds(0), "0");
        assert_eq!(seconds(1000), "1");
        assert_eq!(seconds(250), "0.25");
        assert_eq!(seconds(1500), "1.5");
        assert_eq!(seconds(1), "0.001");
        assert_eq!(seconds(60_010), "60.01");
    }

    #[test]
    fn knows_which_versions_run_serverless_v2() {
        let aurora_mysql = Engine::AuroraMysql;
        assert!(aurora_mysql.supports_serverless_v2("8.0.mysql_aurora.3.08.0"));
        assert!(aurora_mysql.supports_serverless_v2("8.0.mysql_aurora.3.02.0"));
        assert!(!aurora_mysql.supports_serverless_v2("8.0.mysql_aurora.3.01.1"));
        let aurora_postgres = Engine::AuroraPostgresql;
        assert!(aurora_postgres.supports_serverless_v2("16.6"));
        assert!(aurora_postgres.supports_serverless_v2("16"));
        assert!(aurora_postgres.supports_serverless_v2("13.6"));
        assert!(!aurora_postgres.supports_serverless_v2("13.5"));
        assert!(!aurora_postgres.supports_serverless_v2("14.2"));
        assert!(!aurora_postgres.supports_serverless_v2("15.1"));
    }

    #[test]
    fn derives_families_from_versions() {
        let mut diagnostics = Diagnostics::new();
        let family =
            |engine: Engine, version: &str, d: &mut Diagnostics| engine.check_version(version, d);
        assert_eq!(
            family(Engine::Mysql, "8.4.6", &mut diagnostics).as_deref(),
            Some("mysql8.4")
        );
        assert_eq!(
            family(Engine::Mysql, "8.0", &mut diagnostics).as_deref(),
            Some("mysql8.0")
        );
        assert_eq!(
            family(Engine::AuroraPostgresql, "15.4", &mut diagnostics).as_deref(),
            Some("aurora-postgresql15")
        );
        assert_eq!(
            family(
                Engine::AuroraMysql,
                "8.0.mysql_aurora.3.05.0.1",
                &mut diagnostics
            )
            .as_deref(),
            Some("aurora-mysql8.0")
        );
        assert_eq!(
            family(
                Engine::AuroraMysql,
                "5.7.mysql_aurora.2.11.2",
                &mut diagnostics
            )
            .as_deref(),
            None
        );
        assert_eq!(diagnostics.len(), 1);
    }
}
