//! The `[stacks.<name>]` table of a compute stack, and its validation into
//! [`Settings`]: every environment-dependent default resolved (sizes, task
//! counts, log retention, deletion protection), every value checked, every
//! problem reported at its key at once.
//!
//! The per-service tables (`[stacks.compute.services.<name>]`) are checked
//! in [`service`].

pub mod service;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, StringOrImport, check};

use crate::fargate;
pub use service::{
    Access, ContainerConfig, Listener, Rule, Scaling, Service, ServiceConfig, Volume, VolumeConfig,
};

/// CPU architectures of Fargate tasks, as `RuntimePlatform` spells them.
pub const ARCHITECTURES: [&str; 2] = ["X86_64", "ARM64"];
/// Target tracking targets we accept: below 10% a service never scales
/// in, above 95% it saturates before it scales out.
const TARGET_PERCENT: std::ops::RangeInclusive<u32> = 10..=95;
/// ALB idle timeout, seconds.
const IDLE_TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 1..=4000;
/// ALB names are at most 32 characters.
const ALB_NAME_MAX: usize = 32;

/// ECS Fargate services behind an Application Load Balancer, with their
/// task definitions, log groups, IAM roles and autoscaling.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import the VPC and subnets from.
    pub networking_stack: String,
    /// Stack to import the ALB and ECS security groups from.
    pub security_stack: String,
    /// Stack to import the HTTPS listener's ACM certificate from. Required
    /// when a service is public (HTTPS is enforced); `""` only without one.
    pub certificate_stack: String,
    /// Stack to import the database endpoint from (as `DB_HOST` and
    /// `DB_PORT`), and by default the application user's secret (as the
    /// secret `DB_SECRET`, its `app-secret-arn` export); `""` for none.
    pub database_stack: String,
    /// The secret injected as `DB_SECRET`: the application user's
    /// credentials, never the RDS-managed master secret. Defaults to
    /// `database_stack`'s `app-secret-arn` export; `{ import =
    /// "STACK.OUTPUT" }` or an ARN takes another, `""` injects none.
    pub database_secret: Option<StringOrImport>,
    /// Stack to import the Redis cache endpoint from (its
    /// `primary-endpoint-address` and `primary-endpoint-port`, as
    /// `CACHE_ENDPOINT`, `CACHE_PORT` and `REDIS_URL`); `""` for none.
    pub cache_stack: String,
    /// Scheme of `REDIS_URL`: `rediss` (TLS, the cache stack's default) when
    /// true, else `redis`.
    pub cache_tls: bool,
    /// Register every service in a Cloud Map private DNS namespace, so
    /// services reach each other at `<service>.<namespace>`.
    pub service_discovery: bool,
    /// The private DNS namespace of `service_discovery`. Defaults to
    /// `{environment}.{project}.internal`.
    pub namespace: Option<String>,
    /// Stack to import the queues from; `""` for none.
    pub sqs_stack: String,
    /// Queues of `sqs_stack` the services use: each URL becomes
    /// `QUEUE_<NAME>_URL` (e.g. `QUEUE_BACKGROUND_JOBS_URL`), and the task
    /// roles may send, receive and delete their messages. A service's own
    /// `queues` picks some of them.
    pub queues: Vec<String>,
    /// Stack to import the secrets from; `""` for none.
    pub secrets_stack: String,
    /// Secrets of `secrets_stack` injected into the services' main
    /// containers, as `<NAME>_SECRET` (e.g. `APP_CONFIG_SECRET`). A
    /// service's own `secrets` picks some of them.
    pub secrets: Vec<String>,
    /// Stack to import the buckets from: the assets bucket (read and write
    /// for the tasks, its name as `ASSETS_BUCKET`) and the logs bucket (ALB
    /// access logs); `""` for none.
    pub s3_stack: String,
    /// Write ALB access logs to `s3_stack`'s logs bucket, under `alb/`.
    pub alb_access_logs: bool,
    /// Stack to import the image repository from; `""` for none, and then
    /// every service needs its own `image`.
    pub ecr_stack: String,
    /// Repository of `ecr_stack` the services' images come from.
    pub repository: String,
    /// Tag of the image to run from the repository, e.g. `1.41.8-abc123d`.
    pub image_tag: String,
    /// CPU units of each task (1024 = 1 vCPU): 256, 512, 1024, 2048, 4096,
    /// 8192 or 16384. Defaults to 256 (dev), 512 (staging), 1024 (prod).
    pub cpu: Option<u32>,
    /// Memory of each task in MiB; must fit `cpu` (256: 512 to 2048, 512: 1024
    /// to 4096, 1024: 2048 to 8192, ...). Defaults to twice `cpu`.
    pub memory: Option<u32>,
    /// Fewest tasks of each autoscaled service. Defaults to 1 (dev), 2
    /// (staging), 3 (prod).
    pub min_tasks: Option<u32>,
    /// Most tasks of each autoscaled service. Defaults to 3 (dev), 6
    /// (staging), 20 (prod).
    pub max_tasks: Option<u32>,
    /// Average CPU utilisation (%) autoscaling keeps services at (10 to 95).
    pub cpu_target_percent: u32,
    /// Average memory utilisation (%) autoscaling keeps services at (10 to
    /// 95).
    pub memory_target_percent: u32,
    /// Days to keep container logs; a CloudWatch Logs period (1, 3, 5, 7, 14,
    /// 30, 60, 90, 120, 150, 180, 365, ...). Defaults to 7 (dev), 30
    /// (staging), 90 (prod).
    pub log_retention_days: Option<u32>,
    /// Turn on CloudWatch Container Insights for the cluster.
    pub container_insights: bool,
    /// Refuse to delete the load balancer until this is turned off. Defaults
    /// to true in production, where it cannot be turned off.
    pub alb_deletion_protection: Option<bool>,
    /// Seconds an idle connection to the load balancer stays open (1 to
    /// 4000).
    pub alb_idle_timeout_seconds: u32,
    /// Path the load balancer checks public services' health on (each may override it).
    pub health_check_path: String,
    /// Port public services' containers listen on (each may override it).
    pub app_port: u32,
    /// CPU architecture of the tasks: `X86_64` or `ARM64` (Graviton, about
    /// 20% cheaper; the image must be built for it).
    pub architecture: String,
    /// Environment variables added to every container: text, or another
    /// stack's output as `{ import = "STACK.OUTPUT" }`.
    pub environment_variables: BTreeMap<String, StringOrImport>,
    /// The services, keyed by name. Defaults to `api` (public, autoscaled),
    /// `worker` (private, autoscaled) and `scheduler` (private, one task).
    pub services: Option<BTreeMap<String, ServiceConfig>>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            security_stack: "security".into(),
            certificate_stack: "certificate".into(),
            database_stack: "database".into(),
            database_secret: None,
            cache_stack: String::new(),
            cache_tls: true,
            service_discovery: false,
            namespace: None,
            sqs_stack: "sqs".into(),
            queues: ["background-jobs", "data-refresh", "notifications"]
                .map(String::from)
                .to_vec(),
            secrets_stack: "secrets".into(),
            secrets: vec!["app-config".into()],
            s3_stack: "s3".into(),
            alb_access_logs: true,
            ecr_stack: "ecr".into(),
            repository: "api".into(),
            image_tag: "latest".into(),
            cpu: None,
            memory: None,
            min_tasks: None,
            max_tasks: None,
            cpu_target_percent: 70,
            memory_target_percent: 80,
            log_retention_days: None,
            container_insights: true,
            alb_deletion_protection: None,
            alb_idle_timeout_seconds: 60,
            health_check_path: "/health".into(),
            app_port: 8080,
            architecture: "X86_64".into(),
            environment_variables: BTreeMap::new(),
            services: None,
        }
    }
}

/// The sizing an environment gets by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Any environment that is neither staging nor production.
    Development,
    /// The environment named `staging`.
    Staging,
    /// `prod`, `production` or `prd`.
    Production,
}

impl Tier {
    /// The tier of the stack's environment.
    pub fn of(ctx: &Context) -> Self {
        if ctx.is_production() {
            Self::Production
        } else if ctx.environment == "staging" {
            Self::Staging
        } else {
            Self::Development
        }
    }

    /// Default task size: (CPU units, memory MiB).
    pub fn size(self) -> (u32, u32) {
        match self {
            Self::Development => (256, 512),
            Self::Staging => (512, 1024),
            Self::Production => (1024, 2048),
        }
    }

    /// Default task counts of an autoscaled service: (min, max).
    pub fn tasks(self) -> (u32, u32) {
        match self {
            Self::Development => (1, 3),
            Self::Staging => (2, 6),
            Self::Production => (3, 20),
        }
    }

    /// Default log retention, days.
    pub fn log_retention_days(self) -> u32 {
        match self {
            Self::Development => 7,
            Self::Staging => 30,
            Self::Production => 90,
        }
    }
}

/// A stack to import from and the names of what to import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The stack.
    pub stack: String,
    /// Queue or secret names (each one an export prefix).
    pub names: Vec<String>,
}

/// The load balancer's own settings.
#[derive(Debug, Clone)]
pub struct Alb {
    /// `{project}-{environment}-alb`, shortened to 32 characters if needed.
    pub name: String,
    /// Deletion protection.
    pub deletion_protection: bool,
    /// Idle timeout, seconds.
    pub idle_timeout_seconds: u32,
}

/// A validated config with the environment's defaults applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack to import the VPC and subnets from.
    pub networking_stack: String,
    /// Stack to import the security groups from.
    pub security_stack: String,
    /// Stack to import the certificate from (only read with a public service).
    pub certificate_stack: String,
    /// Stack to import the database from, if any.
    pub database_stack: Option<String>,
    /// The app's database secret (`DB_SECRET`), if any.
    pub database_secret: Option<StringOrImport>,
    /// Stack to import the cache endpoint from, if any.
    pub cache_stack: Option<String>,
    /// `rediss://` rather than `redis://`.
    pub cache_tls: bool,
    /// The Cloud Map namespace, when services register in one.
    pub namespace: Option<String>,
    /// Queues to import, if any.
    pub sqs: Option<Imported>,
    /// Secrets to import, if any.
    pub secrets: Option<Imported>,
    /// Stack to import the buckets from, if any.
    pub s3_stack: Option<String>,
    /// ALB access logs to the logs bucket (with `s3_stack` only).
    pub alb_access_logs: bool,
    /// ECR stack and repository the images come from, if any.
    pub ecr: Option<(String, String)>,
    /// Image tag for images from the repository.
    pub image_tag: String,
    /// Target tracking CPU target, %.
    pub cpu_target_percent: u32,
    /// Target tracking memory target, %.
    pub memory_target_percent: u32,
    /// Log retention, days.
    pub log_retention_days: u32,
    /// Keep log groups when the stack goes (production).
    pub retain_logs: bool,
    /// Container Insights on the cluster.
    pub container_insights: bool,
    /// Load balancer settings (used when a service is public).
    pub alb: Alb,
    /// `X86_64` or `ARM64`.
    pub architecture: String,
    /// Variables for every container (text or imports).
    pub environment_variables: BTreeMap<String, StringOrImport>,
    /// The services, by name.
    pub services: Vec<Service>,
}

impl Settings {
    /// The first service behind the load balancer, if any: the default
    /// target when there is one, else the first routed service.
    pub fn public_service(&self) -> Option<&Service> {
        self.default_target()
            .or_else(|| self.public_services().next())
    }

    /// The public service without routing: the listener's default target.
    pub fn default_target(&self) -> Option<&Service> {
        self.public_services()
            .find(|s| s.listener.as_ref().is_some_and(|l| l.rule.is_none()))
    }

    /// Every service behind the load balancer, in name order.
    pub fn public_services(&self) -> impl Iterator<Item = &Service> {
        self.services.iter().filter(|s| s.listener.is_some())
    }
}

/// What a service inherits from the top level of the table.
pub struct Inherited<'a> {
    /// Task size (CPU units, MiB).
    pub size: (u32, u32),
    /// Autoscaling range (min, max).
    pub tasks: (u32, u32),
    /// The top-level key that decided the autoscaling minimum, for error
    /// paths: `min_tasks`, or `max_tasks` when it lowered the default.
    pub tasks_path: &'static str,
    /// Port of the public service.
    pub port: u32,
    /// Health check path of the public service.
    pub health_check_path: &'a str,
    /// Whether images come from the ECR stack by default.
    pub ecr: bool,
    /// Production environment.
    pub production: bool,
    /// The top-level queues (with `sqs_stack` set, else none).
    pub queues: &'a [String],
    /// The top-level secrets (with `secrets_stack` set, else none).
    pub secrets: &'a [String],
    /// Variables the module sets, with the key that causes each.
    pub generated: Vec<(String, String)>,
    /// Names of the top-level `environment_variables`.
    pub variables: Vec<&'a str>,
    /// `database_stack` is set.
    pub database: bool,
    /// `s3_stack` is set.
    pub assets_bucket: bool,
    /// `cache_stack` is set.
    pub cache: bool,
}

impl Config {
    /// Check every key, reporting all problems at once, and apply the
    /// environment's defaults. On success, also returns the warnings.
    pub fn validate(self, ctx: &Context) -> Result<(Settings, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        let tier = Tier::of(ctx);
        self.check_stacks(&mut diagnostics);
        check_names("queues", &self.queues, &mut diagnostics);
        check_names("secrets", &self.secrets, &mut diagnostics);
        if !self.ecr_stack.is_empty() && !check::is_name(&self.repository, 64) {
            diagnostics
                .error("repository", format!("`{}` is not a repository name this module can import", self.repository))
                .help(format!(
                    "use the repository's key in the ECR stack: lowercase letters, digits and single hyphens, e.g. `{}`",
                    check::suggest_name(&self.repository, usize::MAX, "api")
                ));
        }
        check_image_tag(&self.image_tag, &mut diagnostics);
        let size = self.check_size(tier, &mut diagnostics);
        let tasks = self.check_tasks(tier, &mut diagnostics);
        check_percent(
            "cpu_target_percent",
            self.cpu_target_percent,
            &mut diagnostics,
        );
        check_percent(
            "memory_target_percent",
            self.memory_target_percent,
            &mut diagnostics,
        );
        let log_retention_days = self.check_log_retention(tier, &mut diagnostics);
        let deletion_protection = self.check_deletion_protection(ctx, &mut diagnostics);
        if !IDLE_TIMEOUT_SECONDS.contains(&self.alb_idle_timeout_seconds) {
            diagnostics
                .error(
                    "alb_idle_timeout_seconds",
                    format!(
                        "`{}` is outside 1 to 4000 seconds",
                        self.alb_idle_timeout_seconds
                    ),
                )
                .help("use `60` (the ALB default), or more for long polling and uploads");
        }
        service::check_health_check_path(
            "health_check_path",
            &self.health_check_path,
            &mut diagnostics,
        );
        service::check_port("app_port", self.app_port, &mut diagnostics);
        self.check_architecture(&mut diagnostics);
        self.check_environment_variables(&mut diagnostics);

        let inherited = Inherited {
            size,
            tasks,
            tasks_path: if self.min_tasks.is_some() {
                "min_tasks"
            } else {
                "max_tasks"
            },
            port: self.app_port,
            health_check_path: &self.health_check_path,
            ecr: !self.ecr_stack.is_empty(),
            production: ctx.is_production(),
            queues: if self.sqs_stack.is_empty() {
                &[]
            } else {
                &self.queues
            },
            secrets: if self.secrets_stack.is_empty() {
                &[]
            } else {
                &self.secrets
            },
            generated: self.generated_variables(),
            variables: self
                .environment_variables
                .keys()
                .map(String::as_str)
                .collect(),
            database: !self.database_stack.is_empty(),
            assets_bucket: !self.s3_stack.is_empty(),
            cache: !self.cache_stack.is_empty(),
        };
        let services = match &self.services {
            Some(services) => service::validate_all(services, &inherited, true, &mut diagnostics),
            None => {
                service::validate_all(&service::defaults(), &inherited, false, &mut diagnostics)
            }
        };
        if let Some(public) = services.iter().find(|s| s.listener.is_some())
            && self.certificate_stack.is_empty()
        {
            diagnostics
                .error(
                    "certificate_stack",
                    format!(
                        "service `{}` is public, but `certificate_stack` is empty",
                        public.name
                    ),
                )
                .help(
                    "HTTPS is enforced: name the certificate stack (e.g. `certificate`) for the HTTPS \
                     listener, or make every service private",
                );
        }
        let alb_name = alb_name(ctx, &mut diagnostics);
        let namespace = self.check_namespace(ctx, &mut diagnostics);
        let database_secret = self.check_database_secret(&mut diagnostics);
        diagnostics.check()?;

        let optional = |stack: &str| (!stack.is_empty()).then(|| stack.to_owned());
        let imported = |stack: &str, names: &[String]| {
            (!stack.is_empty() && !names.is_empty()).then(|| Imported {
                stack: stack.to_owned(),
                names: names.to_vec(),
            })
        };
        let settings = Settings {
            database_stack: optional(&self.database_stack),
            database_secret,
            cache_stack: optional(&self.cache_stack),
            cache_tls: self.cache_tls,
            namespace,
            sqs: imported(&self.sqs_stack, &self.queues),
            secrets: imported(&self.secrets_stack, &self.secrets),
            s3_stack: optional(&self.s3_stack),
            ecr: optional(&self.ecr_stack).map(|stack| (stack, self.repository.clone())),
            networking_stack: self.networking_stack,
            security_stack: self.security_stack,
            certificate_stack: self.certificate_stack,
            alb_access_logs: self.alb_access_logs,
            image_tag: self.image_tag,
            cpu_target_percent: self.cpu_target_percent,
            memory_target_percent: self.memory_target_percent,
            log_retention_days,
            retain_logs: ctx.is_production(),
            container_insights: self.container_insights,
            alb: Alb {
                name: alb_name,
                deletion_protection,
                idle_timeout_seconds: self.alb_idle_timeout_seconds,
            },
            architecture: self.architecture,
            environment_variables: self.environment_variables,
            services,
        };
        Ok((settings, diagnostics))
    }

    /// The two required stacks must be named; the optional ones are off
    /// when `""`.
    fn check_stacks(&self, diagnostics: &mut Diagnostics) {
        check::stack_name("networking_stack", &self.networking_stack, diagnostics);
        check::stack_name("security_stack", &self.security_stack, diagnostics);
        for (key, stack) in [
            ("certificate_stack", &self.certificate_stack),
            ("database_stack", &self.database_stack),
            ("cache_stack", &self.cache_stack),
            ("sqs_stack", &self.sqs_stack),
            ("secrets_stack", &self.secrets_stack),
            ("s3_stack", &self.s3_stack),
            ("ecr_stack", &self.ecr_stack),
        ] {
            if !stack.is_empty() {
                check::stack_name(key, stack, diagnostics);
            }
        }
    }

    /// The top-level task size: the environment's default, `cpu` alone
    /// with twice its memory, or both as written.
    fn check_size(&self, tier: Tier, diagnostics: &mut Diagnostics) -> (u32, u32) {
        let size = resolve_size(self.cpu, self.memory, tier.size());
        check_size(
            size,
            (self.cpu.is_some(), self.memory.is_some()),
            ("cpu", "memory"),
            diagnostics,
        );
        size
    }

    fn check_tasks(&self, tier: Tier, diagnostics: &mut Diagnostics) -> (u32, u32) {
        let tasks = resolve_tasks(self.min_tasks, self.max_tasks, tier.tasks());
        check_tasks(
            tasks,
            self.min_tasks.is_some(),
            ("min_tasks", "max_tasks"),
            diagnostics,
        );
        tasks
    }

    fn check_log_retention(&self, tier: Tier, diagnostics: &mut Diagnostics) -> u32 {
        let days = self
            .log_retention_days
            .unwrap_or_else(|| tier.log_retention_days());
        check::log_retention("log_retention_days", days, diagnostics);
        days
    }

    fn check_deletion_protection(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> bool {
        if ctx.is_production() && self.alb_deletion_protection == Some(false) {
            diagnostics
                .error(
                    "alb_deletion_protection",
                    format!(
                        "`alb_deletion_protection = false` in production environment `{}`",
                        ctx.environment
                    ),
                )
                .help(
                    "the production load balancer must be protected from deletion; remove \
                     `alb_deletion_protection` (it defaults to `true`)",
                );
        }
        self.alb_deletion_protection
            .unwrap_or_else(|| ctx.is_production())
    }

    fn check_architecture(&self, diagnostics: &mut Diagnostics) {
        let architecture = self.architecture.as_str();
        if ARCHITECTURES.contains(&architecture) {
            return;
        }
        let help = match check::did_you_mean(architecture, &ARCHITECTURES) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => "use `X86_64`, or `ARM64` for Graviton".to_owned(),
        };
        diagnostics
            .error(
                "architecture",
                format!("`{architecture}` is not a Fargate CPU architecture"),
            )
            .help(help);
    }

    /// The `{environment}.{project}.internal` default, or the name given,
    /// when `service_discovery` is on.
    fn check_namespace(&self, ctx: &Context, diagnostics: &mut Diagnostics) -> Option<String> {
        if !self.service_discovery {
            if self.namespace.is_some() {
                diagnostics
                    .error(
                        "namespace",
                        "`namespace` is set, but `service_discovery` is off",
                    )
                    .help("set `service_discovery = true`, or remove `namespace`");
            }
            return None;
        }
        let name = self.namespace.clone().unwrap_or_else(|| {
            format!("{}.{}.internal", ctx.environment, ctx.project)
                .to_ascii_lowercase()
                .replace('_', "-")
        });
        let wording = check::DomainWording {
            single_label: "it is a single label",
            misplaced_wildcard: " (a namespace has no wildcard)",
            help: "write a private DNS name such as `dev.myapp.internal`",
        };
        if name.contains('*') {
            diagnostics
                .error(
                    "namespace",
                    format!("`{name}` is not a valid namespace: it has a wildcard"),
                )
                .help(wording.help);
            return None;
        }
        check::domain_name("namespace", &name, &wording, diagnostics).map(str::to_owned)
    }

    /// The app's database secret: the setting, or the database stack's
    /// `app-secret-arn`; `None` when there is none to inject.
    fn check_database_secret(&self, diagnostics: &mut Diagnostics) -> Option<StringOrImport> {
        match &self.database_secret {
            Some(StringOrImport::Text(text)) if text.is_empty() => None,
            Some(value) => {
                value.check("database_secret", diagnostics);
                if let StringOrImport::Text(arn) = value
                    && !arn.starts_with("arn:")
                {
                    diagnostics
                        .error("database_secret", format!("`{arn}` is not a secret ARN"))
                        .help("write the secret's ARN, `{ import = \"STACK.OUTPUT\" }`, or `\"\"` for no `DB_SECRET`");
                }
                if value
                    .imported()
                    .is_some_and(|(_, output)| output == "secret-arn")
                {
                    diagnostics
                        .warning("database_secret", "`secret-arn` is the RDS-managed master secret")
                        .help("RDS rotates it every 7 days and tasks read secrets only at start; give the application its own user (`app-secret-arn`)");
                }
                Some(value.clone())
            }
            None if self.database_stack.is_empty() => None,
            None => Some(StringOrImport::Import(strata_sdk::setting::Import {
                import: format!("{}.{DATABASE_APP_SECRET}", self.database_stack),
            })),
        }
    }

    /// The variables this module sets itself, with the key that causes each.
    pub fn generated_variables(&self) -> Vec<(String, String)> {
        let mut generated = Vec::new();
        if !self.database_stack.is_empty() {
            for name in ["DB_HOST", "DB_PORT"] {
                generated.push((name.to_owned(), "database_stack".to_owned()));
            }
        }
        match &self.database_secret {
            Some(StringOrImport::Text(text)) if text.is_empty() => {}
            Some(_) => generated.push(("DB_SECRET".to_owned(), "database_secret".to_owned())),
            None if !self.database_stack.is_empty() => {
                generated.push(("DB_SECRET".to_owned(), "database_stack".to_owned()));
            }
            None => {}
        }
        if !self.cache_stack.is_empty() {
            for name in CACHE_VARIABLES {
                generated.push((name.to_owned(), "cache_stack".to_owned()));
            }
        }
        if self.service_discovery {
            generated.push((
                NAMESPACE_VARIABLE.to_owned(),
                "service_discovery".to_owned(),
            ));
        }
        if !self.s3_stack.is_empty() {
            generated.push(("ASSETS_BUCKET".to_owned(), "s3_stack".to_owned()));
        }
        if !self.sqs_stack.is_empty() {
            for (i, queue) in self.queues.iter().enumerate() {
                generated.push((queue_variable(queue), format!("queues.{i}")));
            }
        }
        if !self.secrets_stack.is_empty() {
            for (i, secret) in self.secrets.iter().enumerate() {
                generated.push((secret_variable(secret), format!("secrets.{i}")));
            }
        }
        generated
    }

    /// Names must be variable names, and neither the user's nor the
    /// module's variables may shadow one another.
    fn check_environment_variables(&self, diagnostics: &mut Diagnostics) {
        let generated = self.generated_variables();
        // Within one list, distinct names give distinct variables (a name
        // listed twice is reported by `check_names`): compare across keys.
        let key = |path: &str| path.split('.').next().unwrap_or_default().to_owned();
        for (i, (name, path)) in generated.iter().enumerate() {
            let earlier = generated[..i]
                .iter()
                .find(|(other, first)| other == name && key(first) != key(path));
            if let Some((_, first)) = earlier {
                diagnostics
                    .error(
                        path,
                        format!("this gives the variable `{name}`, which `{first}` sets already"),
                    )
                    .help("rename the queue or secret");
            }
        }
        for (name, value) in &self.environment_variables {
            let path = format!("environment_variables.{name}");
            value.check(&path, diagnostics);
            if !is_variable_name(name) {
                diagnostics
                    .error(path, format!("`{name}` is not an environment variable name"))
                    .help("use letters, digits and underscores, not starting with a digit, e.g. `LOG_LEVEL`");
            } else if let Some((_, source)) = generated.iter().find(|(g, _)| g == name) {
                diagnostics
                    .error(
                        path,
                        format!("`{name}` is set by the module from `{source}`"),
                    )
                    .help("rename the variable; the module's value would be shadowed");
            }
        }
    }
}

/// The database stack's export of the application user's secret (not the
/// master secret), injected as `DB_SECRET` by default.
pub const DATABASE_APP_SECRET: &str = "app-secret-arn";
/// The variables a cache stack gives: host, port and a `redis(s)://` URL.
pub const CACHE_VARIABLES: [&str; 3] = ["CACHE_ENDPOINT", "CACHE_PORT", "REDIS_URL"];
/// The variable holding the Cloud Map namespace.
pub const NAMESPACE_VARIABLE: &str = "SERVICE_DISCOVERY_NAMESPACE";

/// `QUEUE_BACKGROUND_JOBS_URL` for `background-jobs`.
pub fn queue_variable(queue: &str) -> String {
    format!("QUEUE_{}_URL", upper_snake(queue))
}

/// `APP_CONFIG_SECRET` for `app-config`.
pub fn secret_variable(secret: &str) -> String {
    format!("{}_SECRET", upper_snake(secret))
}

fn upper_snake(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// Letters, digits and underscores, not starting with a digit.
pub(crate) fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Queue and secret names: each a name, none twice.
fn check_names(key: &str, names: &[String], diagnostics: &mut Diagnostics) {
    for (i, name) in names.iter().enumerate() {
        let path = format!("{key}.{i}");
        if !check::is_name(name, 64) {
            diagnostics
                .error(path, format!("`{name}` is not a name this module can import"))
                .help(format!(
                    "use the name as the stack exports it: lowercase letters, digits and single hyphens, e.g. `{}`",
                    check::suggest_name(name, usize::MAX, "app-config")
                ));
        } else if names[..i].contains(name) {
            diagnostics
                .error(path, format!("`{name}` is listed twice"))
                .help("remove the second one");
        }
    }
}

/// Docker tags: letters, digits, `_`, `.` and `-`, not starting with `.`
/// or `-`, at most 128 characters.
fn check_image_tag(tag: &str, diagnostics: &mut Diagnostics) {
    let valid = (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid {
        diagnostics
            .error("image_tag", format!("`{tag}` is not a Docker image tag"))
            .help("use letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128 characters, e.g. `1.41.8-abc123d`");
    }
}

fn check_percent(key: &str, percent: u32, diagnostics: &mut Diagnostics) {
    if !TARGET_PERCENT.contains(&percent) {
        diagnostics
            .error(key, format!("`{percent}` is outside 10 to 95 percent"))
            .help("below 10% a service never scales in, above 95% it saturates before scaling out; use e.g. `70`");
    }
}

/// A task size from the keys written at one level and the size of the level
/// above: both as written, `cpu` alone with twice its memory (which fits
/// every size), `memory` alone with the inherited `cpu`.
pub fn resolve_size(cpu: Option<u32>, memory: Option<u32>, inherited: (u32, u32)) -> (u32, u32) {
    match (cpu, memory) {
        (Some(cpu), Some(memory)) => (cpu, memory),
        (Some(cpu), None) => (cpu, cpu.saturating_mul(2)),
        (None, Some(memory)) => (inherited.0, memory),
        (None, None) => inherited,
    }
}

/// Check a size resolved by [`resolve_size`]; `set` says which of the two
/// keys were written at this level, `paths` where they are.
pub fn check_size(
    (cpu, memory): (u32, u32),
    set: (bool, bool),
    paths: (&str, &str),
    diagnostics: &mut Diagnostics,
) {
    if !fargate::CPU_UNITS.contains(&cpu) {
        // An inherited size was checked (and reported) where it was written.
        if set.0 {
            diagnostics
                .error(paths.0, format!("`{cpu}` is not a Fargate CPU size"))
                .help(format!(
                    "use {} CPU units (1024 = 1 vCPU)",
                    fargate::either(&fargate::CPU_UNITS)
                ));
        }
        return;
    }
    if fargate::fits(cpu, memory) {
        return;
    }
    let (path, help) = if set.1 {
        let cpus = fargate::cpus_for(memory);
        let other = if cpus.is_empty() {
            String::new()
        } else {
            format!(", or set `cpu` to {}", fargate::either(&cpus))
        };
        (
            paths.1,
            format!(
                "with `cpu = {cpu}` Fargate takes memory {}{other}",
                fargate::memory_choices(cpu)
            ),
        )
    } else {
        (
            paths.0,
            format!(
                "with `cpu = {cpu}` Fargate takes memory {}; set `memory` too",
                fargate::memory_choices(cpu)
            ),
        )
    };
    diagnostics
        .error(
            path,
            format!("`memory = {memory}` does not fit `cpu = {cpu}` on Fargate"),
        )
        .help(help);
}

/// An autoscaling range from the keys written at one level and the range
/// of the level above; a bound written alone moves the other if needed.
pub fn resolve_tasks(min: Option<u32>, max: Option<u32>, inherited: (u32, u32)) -> (u32, u32) {
    match (min, max) {
        (Some(min), Some(max)) => (min, max),
        (Some(min), None) => (min, inherited.1.max(min)),
        (None, Some(max)) => (inherited.0.min(max), max),
        (None, None) => inherited,
    }
}

/// ECS runs at most 5000 tasks per service.
pub const MAX_TASKS: u32 = 5000;

/// Check a range resolved by [`resolve_tasks`].
pub fn check_tasks(
    (min, max): (u32, u32),
    min_set: bool,
    paths: (&str, &str),
    diagnostics: &mut Diagnostics,
) {
    if max == 0 {
        diagnostics
            .error(paths.1, "`max_tasks = 0` never runs a task")
            .help("use at least `1`; to stop a service, set `autoscale = false` and `desired_count = 0`");
    } else if max > MAX_TASKS {
        diagnostics
            .error(
                paths.1,
                format!("`{max}` is above ECS's limit of 5000 tasks per service"),
            )
            .help("use at most `5000`");
    } else if min > max && min_set {
        diagnostics
            .error(
                paths.0,
                format!("`min_tasks = {min}` is above `max_tasks = {max}`"),
            )
            .help(format!("use at most `{max}`, or raise `max_tasks`"));
    }
}

/// `{project}-{environment}-alb`, or when that is longer than ALB names
/// may be, its first characters, a hash of it and `-alb` (with a warning).
fn alb_name(ctx: &Context, diagnostics: &mut Diagnostics) -> String {
    let sanitize = |name: String| -> String {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect()
    };
    let full = sanitize(ctx.name("alb"));
    if full.len() <= ALB_NAME_MAX {
        return full;
    }
    // FNV-1a: deterministic, so every render names the ALB alike.
    let hash = full.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    let suffix = format!("-{:04x}-alb", hash & 0xffff);
    let head: String = full.chars().take(ALB_NAME_MAX - suffix.len()).collect();
    let short = format!("{}{suffix}", head.trim_end_matches('-'));
    diagnostics
        .warning(
            "",
            format!("`{full}` is longer than the 32 characters of an ALB name"),
        )
        .help(format!(
            "the load balancer is named `{short}` (its start and a hash); shorten the project or \
             environment name to keep the full name"
        ));
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spells_generated_variables_in_upper_snake_case() {
        assert_eq!(
            queue_variable("background-jobs"),
            "QUEUE_BACKGROUND_JOBS_URL"
        );
        assert_eq!(secret_variable("app-config"), "APP_CONFIG_SECRET");
    }

    #[test]
    fn resolves_sizes_and_ranges_from_the_level_above() {
        assert_eq!(resolve_size(None, None, (256, 512)), (256, 512));
        assert_eq!(resolve_size(Some(1024), None, (256, 512)), (1024, 2048));
        assert_eq!(resolve_size(None, Some(1024), (256, 512)), (256, 1024));
        assert_eq!(resolve_tasks(Some(5), None, (1, 3)), (5, 5));
        assert_eq!(resolve_tasks(None, Some(2), (3, 20)), (2, 2));
        assert_eq!(resolve_tasks(Some(0), Some(4), (1, 3)), (0, 4));
    }
}
