//! The `[stacks.<name>]` table of a database stack, and its validation into
//! [`Settings`]: every environment-dependent default resolved, every value
//! checked. What differs between engines lives in [`crate::engine`].

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::did_you_mean;
use strata_sdk::{Context, Diagnostics, check};

use crate::engine::Engine;

/// gp3 volumes: 20 GiB to 64 TiB.
const STORAGE_GIB: std::ops::RangeInclusive<u32> = 20..=65_536;
/// Automated backups: at least a week (our floor), at most RDS's 35 days.
const BACKUP_DAYS: std::ops::RangeInclusive<u32> = 7..=35;
/// Ports RDS and Aurora accept.
const PORTS: std::ops::RangeInclusive<u32> = 1150..=65_535;
/// Aurora clusters hold a writer and up to 15 readers.
const INSTANCES: std::ops::RangeInclusive<u32> = 1..=16;
/// Aurora Serverless v2 capacity, in ACUs (steps of 0.5).
const MIN_ACU: f64 = 0.5;
const MAX_ACU: f64 = 256.0;
const DEFAULT_INSTANCE_CLASS: &str = "db.t4g.micro";
const DEFAULT_AURORA_INSTANCE_CLASS: &str = "db.t4g.medium";
const DEFAULT_ALLOCATED_STORAGE: u32 = 20;
const DEFAULT_MAX_ALLOCATED_STORAGE: u32 = 100;

/// An RDS instance (PostgreSQL or MySQL) or an Aurora cluster (PostgreSQL or
/// MySQL compatible, Serverless v2 by default) in the isolated subnets,
/// encrypted with its own KMS key, its master password kept by Secrets
/// Manager.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Name of the networking stack whose DB subnet group to use.
    pub networking_stack: String,
    /// Name of the security stack whose database security group to use.
    pub security_stack: String,
    /// Database engine: `postgres` (RDS for PostgreSQL), `mysql` (RDS for
    /// MySQL), `aurora-postgresql` or `aurora-mysql` (an Aurora cluster).
    #[schemars(extend("enum" = Engine::NAMES))]
    pub engine: String,
    /// Engine version. `postgres`: `major.minor` (e.g. `16.13`) or the major
    /// alone (e.g. `16`), majors 13 to 18; `mysql`: `8.0.x` or `8.4.x`;
    /// `aurora-postgresql`: like `postgres`, majors 13 to 17;
    /// `aurora-mysql`: `8.0.mysql_aurora.3.x.y`. Defaults to `16.13`,
    /// `8.0.46`, `16.13` and `8.0.mysql_aurora.3.12.0`. Pinned minors must be
    /// ones RDS still offers for new databases; minors then upgrade
    /// automatically in the maintenance window.
    pub engine_version: Option<String>,
    /// Port the database listens on (1150 to 65535). Defaults to 5432
    /// (`postgres`, `aurora-postgresql`) or 3306 (`mysql`, `aurora-mysql`).
    /// The security stack's `database_port` must match it.
    pub port: Option<u32>,
    /// Instance class, e.g. `db.t4g.micro` (dev) or `db.r6g.large`
    /// (production). Defaults to `db.t4g.micro` (RDS) or `db.t4g.medium`
    /// (provisioned Aurora); not with Aurora Serverless v2, whose instances
    /// are `db.serverless`.
    pub instance_class: Option<String>,
    /// Initial storage in GiB (20 to 65536, gp3, encrypted). RDS engines
    /// only: Aurora storage grows by itself.
    #[schemars(extend("default" = DEFAULT_ALLOCATED_STORAGE))]
    pub allocated_storage: Option<u32>,
    /// Storage autoscaling limit in GiB: at least 10% above
    /// `allocated_storage`, or equal to it to turn autoscaling off. RDS
    /// engines only.
    #[schemars(extend("default" = DEFAULT_MAX_ALLOCATED_STORAGE))]
    pub max_allocated_storage: Option<u32>,
    /// Survive the loss of an availability zone: a synchronous standby (RDS),
    /// or at least 2 instances (Aurora). Defaults to true in production,
    /// where it cannot be turned off.
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
    /// underscores, starting with a letter, at most 63 characters (64 for
    /// MySQL engines).
    pub database_name: String,
    /// Name of the master user (same rules as `database_name`; at most 16
    /// characters for MySQL engines). Its password is generated and kept in
    /// Secrets Manager.
    pub master_username: String,
    /// Log statements slower than this many milliseconds (`-1` logs none,
    /// `0` logs all). MySQL engines: the slow query log's `long_query_time`.
    pub log_min_duration_statement_ms: i64,
    /// Aurora only: run Aurora Serverless v2 (`db.serverless` instances
    /// scaling between `min_capacity` and `max_capacity`) instead of
    /// provisioned instances of `instance_class`. Defaults to true for
    /// Aurora engines.
    pub serverless_v2: Option<bool>,
    /// Aurora Serverless v2: the least capacity, in ACUs (0.5 to 256, steps
    /// of 0.5). Defaults to 0.5.
    pub min_capacity: Option<f64>,
    /// Aurora Serverless v2: the most capacity, in ACUs (`min_capacity` to
    /// 256, steps of 0.5). Defaults to 16 in production, 4 in staging, 2
    /// otherwise.
    pub max_capacity: Option<f64>,
    /// Aurora only: instances in the cluster, a writer and readers (1 to
    /// 16). Defaults to 2 when multi-AZ (production), else 1.
    pub instances: Option<u32>,
    /// The application user, whose credentials the `app-secret-arn` secret
    /// holds (separate from the master user's, which RDS rotates itself):
    /// same rules as `master_username`, and not the master user.
    pub app_username: String,
    /// Days between rotations of the application user's password (1 to
    /// 365), by Secrets Manager's multi-user rotation.
    pub app_secret_rotation_days: u32,
    /// Let CloudFormation apply a change of `engine_version`'s major.
    /// Defaults to false in production (a major upgrade there is a
    /// deliberate, separate change) and true elsewhere.
    pub allow_major_version_upgrade: Option<bool>,
    /// Seconds between enhanced monitoring (OS) samples: 0 (off), 1, 5, 10,
    /// 15, 30 or 60. Defaults to 60 in production, else 0.
    pub enhanced_monitoring_seconds: Option<u32>,
    /// Days to keep the exported database logs (a CloudWatch Logs
    /// retention). Defaults to 90 in production, 30 in staging, else 7.
    pub log_retention_days: Option<u32>,
}

/// The intervals enhanced monitoring accepts, seconds (0: off).
const MONITORING_INTERVALS: [u32; 7] = [0, 1, 5, 10, 15, 30, 60];
/// Secrets Manager rotates at most every day, at least every year here.
const ROTATION_DAYS: std::ops::RangeInclusive<u32> = 1..=365;

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            security_stack: "security".into(),
            engine: "postgres".into(),
            engine_version: None,
            port: None,
            instance_class: None,
            allocated_storage: None,
            max_allocated_storage: None,
            multi_az: None,
            backup_retention_days: 7,
            deletion_protection: None,
            performance_insights: None,
            database_name: "app".into(),
            master_username: "app".into(),
            log_min_duration_statement_ms: 1000,
            serverless_v2: None,
            min_capacity: None,
            max_capacity: None,
            instances: None,
            app_username: "app_user".into(),
            app_secret_rotation_days: 30,
            allow_major_version_upgrade: None,
            enhanced_monitoring_seconds: None,
            log_retention_days: None,
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
    /// The engine.
    pub engine: Engine,
    /// Version as written (or the engine's default).
    pub engine_version: String,
    /// Parameter group family, e.g. `postgres16`, `aurora-mysql8.0`.
    pub family: String,
    /// Port, when set explicitly (otherwise the engine's own).
    pub port: Option<u32>,
    /// Instance class (`db.serverless` for Aurora Serverless v2).
    pub instance_class: String,
    /// Initial storage, GiB (RDS engines).
    pub allocated_storage: u32,
    /// Autoscaling limit, GiB; `None` when autoscaling is off (RDS engines).
    pub max_allocated_storage: Option<u32>,
    /// Standby in a second zone (RDS); at least 2 instances (Aurora).
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
    /// The RDS instance (or Aurora cluster) identifier,
    /// `{project}-{environment}-database`.
    pub identifier: String,
    /// Aurora Serverless v2 capacity range, in ACUs.
    pub capacity: Option<(f64, f64)>,
    /// Aurora instances.
    pub instances: u32,
    /// The application user.
    pub app_username: String,
    /// Days between rotations of its password.
    pub app_secret_rotation_days: u32,
    /// `AllowMajorVersionUpgrade`.
    pub allow_major_version_upgrade: bool,
    /// Enhanced monitoring interval, seconds (0: off).
    pub enhanced_monitoring_seconds: u32,
    /// Retention of the exported logs, days.
    pub log_retention_days: u32,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        check::stack_name("security_stack", &self.security_stack, &mut diagnostics);
        let engine = self.check_engine(&mut diagnostics);
        // With an unknown engine, the engine-specific checks have nothing to
        // go by; PostgreSQL's stand in so the other keys are still checked.
        let known = engine.unwrap_or(Engine::Postgres);
        let serverless = known.is_aurora() && self.serverless_v2.unwrap_or(true);
        let engine_version = self
            .engine_version
            .clone()
            .unwrap_or_else(|| known.default_version().to_owned());
        let family = match engine {
            Some(engine) => engine.check_version(&engine_version, &mut diagnostics),
            None => None,
        };
        if serverless && family.is_some() && !known.supports_serverless_v2(&engine_version) {
            diagnostics
                .error(
                    "engine_version",
                    format!("{} `{engine_version}` cannot run Aurora Serverless v2", known.title()),
                )
                .help("Serverless v2 needs Aurora MySQL 3.02.0, Aurora PostgreSQL 13.6, 14.3, 15.2 or later");
        }
        self.check_port(&mut diagnostics);
        let instance_class = self.check_instance_class(ctx, known, serverless, &mut diagnostics);
        let max_allocated_storage = self.check_storage(known, serverless, &mut diagnostics);
        self.check_backup_retention(&mut diagnostics);
        self.check_production_guarantees(ctx, &mut diagnostics);
        let production = ctx.is_production();
        let multi_az = self.multi_az.unwrap_or(production);
        // Whether Aurora's keys apply depends on a known engine.
        let (instances, capacity) = match engine {
            Some(engine) => (
                self.check_instances(ctx, engine, multi_az, &mut diagnostics),
                self.check_serverless(ctx, engine, serverless, &mut diagnostics),
            ),
            None => (1, None),
        };
        check_name(
            "database_name",
            &self.database_name,
            known,
            known.max_database_name(),
            known.reserved_database_names(),
            &mut diagnostics,
        );
        check_name(
            "master_username",
            &self.master_username,
            known,
            known.max_username(),
            known.reserved_usernames(),
            &mut diagnostics,
        );
        self.check_log_min_duration(&mut diagnostics);
        check_name(
            "app_username",
            &self.app_username,
            known,
            known.max_username(),
            known.reserved_usernames(),
            &mut diagnostics,
        );
        if known.is_mysql() && self.app_username.len() + "_clone".len() > known.max_username() {
            diagnostics
                .error(
                    "app_username",
                    format!(
                        "`{}` is too long for MySQL's multi-user rotation, which adds `_clone`",
                        self.app_username
                    ),
                )
                .help("use at most 10 characters, such as `app_user`");
        }
        if self.app_username == self.master_username {
            diagnostics
                .error(
                    "app_username",
                    format!("`{}` is the master user", self.app_username),
                )
                .help(
                    "the application logs in as its own user: use another name, such as `app_user`",
                );
        }
        if !ROTATION_DAYS.contains(&self.app_secret_rotation_days) {
            diagnostics
                .error(
                    "app_secret_rotation_days",
                    format!(
                        "`{}` is outside 1 to 365 days",
                        self.app_secret_rotation_days
                    ),
                )
                .help("use `30`");
        }
        let enhanced_monitoring_seconds = self
            .enhanced_monitoring_seconds
            .unwrap_or(if production { 60 } else { 0 });
        if !MONITORING_INTERVALS.contains(&enhanced_monitoring_seconds) {
            diagnostics
                .error(
                    "enhanced_monitoring_seconds",
                    format!("enhanced monitoring samples every 1, 5, 10, 15, 30 or 60 seconds, got `{enhanced_monitoring_seconds}`"),
                )
                .help("use `60`, or `0` to turn it off");
        }
        let log_retention_days = self
            .log_retention_days
            .unwrap_or_else(|| check::default_log_retention_days(ctx));
        check::log_retention("log_retention_days", log_retention_days, &mut diagnostics);
        let identifier = check_db_identifier(ctx, known, instances, &mut diagnostics);
        diagnostics.check()?;

        let settings = Settings {
            // No error was recorded, so the engine and version parsed.
            engine: known,
            family: family.unwrap_or_default(),
            networking_stack: self.networking_stack,
            security_stack: self.security_stack,
            engine_version,
            port: self.port,
            instance_class,
            allocated_storage: self.allocated_storage.unwrap_or(DEFAULT_ALLOCATED_STORAGE),
            max_allocated_storage,
            multi_az,
            backup_retention_days: self.backup_retention_days,
            deletion_protection: self.deletion_protection.unwrap_or(production),
            performance_insights: self.performance_insights.unwrap_or(production),
            database_name: self.database_name,
            master_username: self.master_username,
            log_min_duration_statement_ms: self.log_min_duration_statement_ms,
            identifier,
            capacity,
            instances,
            app_username: self.app_username,
            app_secret_rotation_days: self.app_secret_rotation_days,
            allow_major_version_upgrade: self.allow_major_version_upgrade.unwrap_or(!production),
            enhanced_monitoring_seconds,
            log_retention_days,
        };
        Ok((settings, diagnostics))
    }

    fn check_engine(&self, diagnostics: &mut Diagnostics) -> Option<Engine> {
        let engine = Engine::parse(&self.engine);
        if engine.is_none() {
            let name = &self.engine;
            let help = match did_you_mean(name, &Engine::NAMES) {
                Some(known) => format!("did you mean `{known}`?"),
                None => "use `postgres`, `mysql`, `aurora-postgresql` or `aurora-mysql`".to_owned(),
            };
            diagnostics
                .error("engine", format!("unknown engine `{name}`"))
                .help(help);
        }
        engine
    }

    fn check_port(&self, diagnostics: &mut Diagnostics) {
        if let Some(port) = self.port.filter(|port| !PORTS.contains(port)) {
            diagnostics
                .error("port", format!("port `{port}` is outside 1150 to 65535"))
                .help("RDS accepts ports 1150 to 65535; remove `port` for the engine's own (5432 or 3306)");
        }
    }

    /// Returns the class to render: `db.serverless` for Aurora Serverless v2.
    fn check_instance_class(
        &self,
        ctx: &Context,
        engine: Engine,
        serverless: bool,
        diagnostics: &mut Diagnostics,
    ) -> String {
        if serverless {
            if self.instance_class.is_some() {
                diagnostics
                    .error("instance_class", "`instance_class` does not apply to Aurora Serverless v2")
                    .help(
                        "remove it: instances are `db.serverless`, sized by `min_capacity` and `max_capacity`; or set \
                         `serverless_v2 = false` for provisioned instances",
                    );
            }
            return "db.serverless".to_owned();
        }
        let class = self.instance_class.clone().unwrap_or_else(|| {
            if engine.is_aurora() {
                DEFAULT_AURORA_INSTANCE_CLASS
            } else {
                DEFAULT_INSTANCE_CLASS
            }
            .to_owned()
        });
        check_instance_class(ctx, engine, &class, diagnostics);
        class
    }

    /// Returns the autoscaling limit to render (`None`: autoscaling off).
    fn check_storage(
        &self,
        engine: Engine,
        serverless: bool,
        diagnostics: &mut Diagnostics,
    ) -> Option<u32> {
        if engine.is_aurora() {
            let aurora = if serverless {
                "Aurora Serverless v2"
            } else {
                "Aurora"
            };
            for (key, set) in [
                ("allocated_storage", self.allocated_storage.is_some()),
                (
                    "max_allocated_storage",
                    self.max_allocated_storage.is_some(),
                ),
            ] {
                if set {
                    diagnostics
                        .error(key, format!("`{key}` does not apply to {aurora}"))
                        .help(
                            "remove it: Aurora storage grows and shrinks by itself, up to 128 TiB",
                        );
                }
            }
            return None;
        }
        let allocated = self.allocated_storage.unwrap_or(DEFAULT_ALLOCATED_STORAGE);
        let max = self
            .max_allocated_storage
            .unwrap_or(DEFAULT_MAX_ALLOCATED_STORAGE);
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

    /// Aurora's multi-AZ is a reader in another zone: at least 2 instances.
    fn check_instances(
        &self,
        ctx: &Context,
        engine: Engine,
        multi_az: bool,
        diagnostics: &mut Diagnostics,
    ) -> u32 {
        if !engine.is_aurora() {
            if self.instances.is_some() {
                diagnostics
                    .error("instances", "`instances` applies to Aurora engines only")
                    .help("an RDS database is one instance; `multi_az = true` adds a standby in another zone");
            }
            return 1;
        }
        let instances = self.instances.unwrap_or(if multi_az { 2 } else { 1 });
        if !INSTANCES.contains(&instances) {
            diagnostics
                .error(
                    "instances",
                    format!("`{instances}` instances, expected 1 to 16"),
                )
                .help("an Aurora cluster has a writer and up to 15 readers");
        } else if multi_az && instances < 2 {
            let help = if ctx.is_production() {
                "use `instances = 2`: a writer and a reader in another zone, which takes over if the writer's zone fails"
            } else {
                "use `instances = 2` (a writer and a reader in another zone), or `multi_az = false`"
            };
            diagnostics
                .error(
                    "instances",
                    format!("`{instances}` instance is not multi-AZ"),
                )
                .help(help);
        }
        instances
    }

    /// Returns the capacity range of Aurora Serverless v2.
    fn check_serverless(
        &self,
        ctx: &Context,
        engine: Engine,
        serverless: bool,
        diagnostics: &mut Diagnostics,
    ) -> Option<(f64, f64)> {
        let set = [
            ("serverless_v2", self.serverless_v2.is_some()),
            ("min_capacity", self.min_capacity.is_some()),
            ("max_capacity", self.max_capacity.is_some()),
        ];
        if !engine.is_aurora() {
            for (key, _) in set.iter().filter(|(_, set)| *set) {
                diagnostics
                    .error(*key, format!("`{key}` applies to Aurora engines only"))
                    .help("use `engine = \"aurora-postgresql\"` or `\"aurora-mysql\"` for Aurora Serverless v2, or remove it");
            }
            return None;
        }
        if !serverless {
            for (key, _) in set[1..].iter().filter(|(_, set)| *set) {
                diagnostics
                    .error(
                        *key,
                        format!("`{key}` applies to Aurora Serverless v2 only"),
                    )
                    .help("remove it, or set `serverless_v2 = true` (the default)");
            }
            return None;
        }
        let min = self.min_capacity.unwrap_or(MIN_ACU);
        let max = self
            .max_capacity
            .unwrap_or_else(|| default_max_capacity(ctx));
        let min_ok = check_acu("min_capacity", min, diagnostics);
        let max_ok = check_acu("max_capacity", max, diagnostics);
        if min_ok && max_ok && min > max {
            if self.max_capacity.is_some() {
                diagnostics
                    .error(
                        "max_capacity",
                        format!("`{max}` ACU is below `min_capacity` (`{min}` ACU)"),
                    )
                    .help(format!("use at least `{min}`"));
            } else {
                diagnostics
                    .error(
                        "min_capacity",
                        format!(
                            "`{min}` ACU is above the default `max_capacity` of `{max}` ACU here"
                        ),
                    )
                    .help(format!(
                        "lower `min_capacity`, or set `max_capacity` to at least `{min}`"
                    ));
            }
        }
        Some((min, max))
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

/// The capacity Aurora Serverless v2 may grow to by default: 16 ACUs in
/// production, 4 in staging, 2 elsewhere.
fn default_max_capacity(ctx: &Context) -> f64 {
    if ctx.is_production() {
        16.0
    } else if matches!(ctx.environment.as_str(), "staging" | "stage" | "stg") {
        4.0
    } else {
        2.0
    }
}

/// 0.5 to 256 ACUs in steps of 0.5.
fn check_acu(key: &str, acu: f64, diagnostics: &mut Diagnostics) -> bool {
    if !(MIN_ACU..=MAX_ACU).contains(&acu) {
        diagnostics
            .error(key, format!("`{acu}` ACU is outside 0.5 to 256"))
            .help("Aurora Serverless v2 scales between 0.5 and 256 ACUs (1 ACU is about 2 GiB of memory)");
        false
    } else if (acu * 2.0).fract() != 0.0 {
        let lower = (acu * 2.0).floor() / 2.0;
        let upper = lower + 0.5;
        diagnostics
            .error(key, format!("`{acu}` ACU is not a multiple of 0.5"))
            .help(format!(
                "capacity grows in steps of 0.5 ACU; use `{lower}` or `{upper}`"
            ));
        false
    } else {
        true
    }
}

/// `db.<family>.<size>`, e.g. `db.t4g.micro`, `db.r6gd.2xlarge`.
fn check_instance_class(ctx: &Context, engine: Engine, class: &str, diagnostics: &mut Diagnostics) {
    let help = if engine.is_aurora() {
        "use an Aurora instance class such as `db.t4g.medium` (dev) or `db.r6g.large` (production)"
    } else {
        "use an RDS instance class such as `db.t4g.micro` (dev) or `db.r6g.large` (production)"
    };
    if class == "db.serverless" {
        let message = if engine.is_aurora() {
            "`db.serverless` is Aurora Serverless v2, which `serverless_v2 = false` turns off"
                .to_owned()
        } else {
            format!(
                "`db.serverless` is Aurora Serverless v2, which engine `{}` does not run",
                engine.name()
            )
        };
        let help = if engine.is_aurora() {
            "remove `serverless_v2 = false` and `instance_class` for Serverless v2, or use a provisioned class such \
             as `db.r6g.large`"
                .to_owned()
        } else {
            let aurora = if engine.is_mysql() {
                "aurora-mysql"
            } else {
                "aurora-postgresql"
            };
            format!(
                "use `engine = \"{aurora}\"` (without `instance_class`) for Serverless v2, or an RDS instance class such \
                 as `db.t4g.micro`"
            )
        };
        diagnostics.error("instance_class", message).help(help);
        return;
    }
    let parts: Vec<&str> = class.split('.').collect();
    let valid = matches!(parts.as_slice(), ["db", family, size] if check::is_instance_family(family) && is_size(size));
    if !valid {
        diagnostics
            .error(
                "instance_class",
                format!("`{class}` is not an RDS instance class"),
            )
            .help(help);
        return;
    }
    if engine.is_aurora() && matches!(parts.as_slice(), [_, _, "micro" | "small"]) {
        diagnostics
            .error(
                "instance_class",
                format!("`{class}` is too small for Aurora"),
            )
            .help("the smallest Aurora classes are `db.t4g.medium` and `db.t3.medium`; or use Serverless v2 from 0.5 ACU");
        return;
    }
    if ctx.is_production() && class.starts_with("db.t") {
        diagnostics
            .warning("instance_class", format!("burstable instance class `{class}` in production"))
            .help("burstable classes slow down once their CPU credits run out; use e.g. `db.m7g.large` or `db.r6g.large`");
    }
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

/// Identifiers as RDS accepts them for the database name and master user.
fn check_name(
    path: &str,
    name: &str,
    engine: Engine,
    max_len: usize,
    reserved: &[&str],
    diagnostics: &mut Diagnostics,
) {
    let starts_with_letter = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !starts_with_letter || !valid_chars || name.len() > max_len {
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
            .take(max_len)
            .collect();
        let suggestion = if suggestion.is_empty() {
            "app".to_owned()
        } else {
            suggestion
        };
        diagnostics
            .error(path, format!("`{name}` is not a valid name"))
            .help(format!(
                "use letters, digits and underscores, starting with a letter, at most {max_len} characters, e.g. `{suggestion}`"
            ));
    } else if reserved.contains(&name.to_ascii_lowercase().as_str()) {
        let title = if engine.is_mysql() {
            "MySQL"
        } else {
            "PostgreSQL"
        };
        diagnostics
            .error(path, format!("`{name}` is reserved by {title} or RDS"))
            .help("use a name of your application, e.g. `app`");
    }
}

/// RDS instance and Aurora cluster identifiers: 1 to 63 lowercase letters,
/// digits and hyphens, starting with a letter, without `--` or a trailing
/// hyphen; Aurora instances add `-1`, `-2`, ... The name comes from the
/// project and environment, so problems point at the stack.
fn check_db_identifier(
    ctx: &Context,
    engine: Engine,
    instances: u32,
    diagnostics: &mut Diagnostics,
) -> String {
    let identifier = ctx.name("database").to_ascii_lowercase();
    let longest = if engine.is_aurora() {
        identifier.len() + 1 + instances.to_string().len()
    } else {
        identifier.len()
    };
    let valid = longest <= 63
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
        let what = if engine.is_aurora() {
            "Aurora cluster identifier"
        } else {
            "RDS instance identifier"
        };
        diagnostics
            .error("", format!("`{identifier}` is not a valid {what}"))
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
            assert!(check::is_instance_family(family), "{family}");
        }
        for family in ["", "t", "4g", "t4G", "r6-g"] {
            assert!(!check::is_instance_family(family), "{family}");
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
