//! The `services` table: one table per service, keyed by its name, each
//! checked against what it inherits from the top level ([`Inherited`]).
//!
//! A service runs one task definition: a main container named after the
//! service (the image from the ECR stack or `image`), plus any sidecars in
//! `containers`. Public services sit behind the one load balancer: at most
//! one without routing (the listener's default), the others routed by
//! `path_patterns` / `host_headers` with listener rules of unique
//! priorities. Each service names what its task role may use (queues,
//! secrets, the assets bucket, EFS volumes) and whether it is a
//! singleton.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Diagnostics, StringOrImport, cfn, check};

use super::{Inherited, MAX_TASKS, check_size, check_tasks, resolve_size, resolve_tasks};

/// The service that, by default, runs exactly one task and never scales.
pub const SCHEDULER: &str = "scheduler";
/// Service names are at most this long (they end up in ECS service, task
/// family, log group and scaling policy names).
const SERVICE_NAME_MAX: usize = 32;
/// ECS gives a container at least this much memory, MiB.
const CONTAINER_MEMORY_MIN: u32 = 6;

/// One ECS service: its main container and how many tasks run it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Put the service behind the load balancer (HTTPS on 443). At most one
    /// public service has no `path_patterns` or `host_headers`: the
    /// listener's default target.
    pub public: bool,
    /// URL paths the load balancer routes to this service, e.g.
    /// `["/api/*"]` (makes the service public). With `host_headers`, at most
    /// 5 values in all.
    pub path_patterns: Vec<String>,
    /// Host names the load balancer routes to this service, e.g.
    /// `["api.example.com"]` (makes the service public).
    pub host_headers: Vec<String>,
    /// Priority of the service's listener rule (1 to 50000, lower first),
    /// unique in the stack. Defaults to 10, 20, ... by the routed services'
    /// name order.
    pub priority: Option<u32>,
    /// Never run two tasks at once: deployments stop the old task before
    /// starting the new one (`MaximumPercent` 100, `MinimumHealthyPercent`
    /// 0), at most one task, no autoscaling. Defaults to true for
    /// `scheduler`.
    pub singleton: Option<bool>,
    /// Queues of the top-level `queues` this service uses (URL variables
    /// and task role grants). Defaults to all of them.
    pub queues: Option<Vec<String>>,
    /// Secrets of the top-level `secrets` injected into this service.
    /// Defaults to all of them.
    pub secrets: Option<Vec<String>>,
    /// More secrets for this service only: variable name → secret ARN, as
    /// text or `{ import = "STACK.OUTPUT" }`.
    pub secret_variables: BTreeMap<String, StringOrImport>,
    /// Give this service the database's host, port and app secret. Defaults
    /// to true when `database_stack` is set.
    pub database: Option<bool>,
    /// Give this service read and write access to the assets bucket.
    /// Defaults to true when `s3_stack` is set.
    pub assets_bucket: Option<bool>,
    /// Give this service the cache endpoint. Defaults to true when
    /// `cache_stack` is set.
    pub cache: Option<bool>,
    /// EFS volumes mounted into the main container.
    pub volumes: Vec<VolumeConfig>,
    /// Port the main container listens on; only for public services.
    /// Defaults to `app_port`.
    pub port: Option<u32>,
    /// Command to run instead of the image's default, e.g. `["node",
    /// "worker.js"]`.
    pub command: Option<Vec<String>>,
    /// CPU units of this service's tasks. Defaults to the top-level `cpu`.
    pub cpu: Option<u32>,
    /// Memory of this service's tasks, MiB. Defaults to twice this service's
    /// `cpu` when that is set, else to the top-level `memory`.
    pub memory: Option<u32>,
    /// Fewest tasks when autoscaled. Defaults to the top-level `min_tasks`.
    pub min_tasks: Option<u32>,
    /// Most tasks when autoscaled. Defaults to the top-level `max_tasks`.
    pub max_tasks: Option<u32>,
    /// Tasks to start with: within `min_tasks` to `max_tasks` when
    /// autoscaled (default: `min_tasks`); the fixed count otherwise (default:
    /// 1 for `scheduler`, else the top-level `min_tasks`).
    pub desired_count: Option<u32>,
    /// Scale on CPU and memory between `min_tasks` and `max_tasks`. Defaults
    /// to true, except for `scheduler`, which runs exactly one task.
    pub autoscale: Option<bool>,
    /// Image of the main container, instead of the ECR repository's
    /// `<uri>:<image_tag>`, e.g. `public.ecr.aws/nginx/nginx:1.27`.
    pub image: Option<String>,
    /// Path the load balancer checks; only for public services. Defaults
    /// to the top-level `health_check_path`.
    pub health_check_path: Option<String>,
    /// Sidecar containers in the same task (sharing its network and size).
    pub containers: Vec<ContainerConfig>,
}

/// An EFS file system (of an `efs` stack) mounted into a service's main
/// container, with TLS in transit and IAM authorization.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// Name of the volume in the task: lowercase letters, digits and
    /// hyphens, unique in the service.
    pub name: String,
    /// The `efs` stack whose `file-system-id` to mount.
    pub efs: String,
    /// Access point of that stack to mount through (its
    /// `access-point-<name>-id` export); none mounts the file system's root.
    pub access_point: Option<String>,
    /// Absolute path in the container, e.g. `/mnt/uploads`.
    pub path: String,
    /// Mount read-only (the task role gets `ClientMount` only, no
    /// `ClientWrite`).
    pub read_only: bool,
}

/// A sidecar container of a service's task.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ContainerConfig {
    /// Name of the container, unique in the task: lowercase letters, digits
    /// and hyphens.
    pub name: String,
    /// Image to run, e.g. `public.ecr.aws/aws-observability/aws-otel-collector:latest`.
    pub image: String,
    /// Port the container listens on (reachable from the other containers
    /// of the task on `localhost`).
    pub port: Option<u32>,
    /// Stop the task when this container stops.
    pub essential: bool,
    /// Command to run instead of the image's default.
    pub command: Option<Vec<String>>,
    /// CPU units reserved for the container, out of the task's.
    pub cpu: Option<u32>,
    /// Memory limit of the container, MiB, out of the task's (at least 6).
    pub memory: Option<u32>,
}

/// What the load balancer sends a public service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Port of the main container.
    pub port: u32,
    /// Health check path.
    pub health_check_path: String,
    /// The listener rule routing to the service; `None` for the default
    /// target.
    pub rule: Option<Rule>,
}

/// A listener rule's conditions and priority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Path patterns, e.g. `/api/*`.
    pub path_patterns: Vec<String>,
    /// Host headers, e.g. `api.example.com`.
    pub host_headers: Vec<String>,
    /// Priority, unique in the stack.
    pub priority: u32,
}

/// What a service's task role and main container get from the optional
/// stacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    /// Queues (of the top-level list).
    pub queues: Vec<String>,
    /// Secrets (of the top-level list).
    pub secrets: Vec<String>,
    /// Extra secrets: variable name → ARN.
    pub secret_variables: BTreeMap<String, StringOrImport>,
    /// The database's host, port and app secret.
    pub database: bool,
    /// The assets bucket.
    pub assets_bucket: bool,
    /// The cache endpoint.
    pub cache: bool,
}

/// A validated EFS volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// Volume name in the task.
    pub name: String,
    /// The `efs` stack.
    pub efs: String,
    /// Access point name, if any.
    pub access_point: Option<String>,
    /// Container path.
    pub path: String,
    /// Read-only mount.
    pub read_only: bool,
}

/// An autoscaling range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scaling {
    /// Fewest tasks.
    pub min: u32,
    /// Most tasks.
    pub max: u32,
}

/// A validated service.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its name, e.g. `api`.
    pub name: String,
    /// The prefix of its resources' logical ids, e.g. `Api`.
    pub id: String,
    /// Set for public services.
    pub listener: Option<Listener>,
    /// Command override of the main container.
    pub command: Option<Vec<String>>,
    /// Task CPU units.
    pub cpu: u32,
    /// Task memory, MiB.
    pub memory: u32,
    /// Tasks at creation.
    pub desired_count: u32,
    /// Autoscaling range, when autoscaled.
    pub scaling: Option<Scaling>,
    /// Image of the main container; `None`: from the ECR repository.
    pub image: Option<String>,
    /// Sidecars.
    pub sidecars: Vec<ContainerConfig>,
    /// Never two tasks at once.
    pub singleton: bool,
    /// What the service may use.
    pub access: Access,
    /// EFS volumes.
    pub volumes: Vec<Volume>,
}

/// The services of a table without `services`: `api` (public), `worker`
/// and `scheduler`.
pub fn defaults() -> BTreeMap<String, ServiceConfig> {
    BTreeMap::from([
        (
            "api".to_owned(),
            ServiceConfig {
                public: true,
                ..ServiceConfig::default()
            },
        ),
        ("worker".to_owned(), ServiceConfig::default()),
        (SCHEDULER.to_owned(), ServiceConfig::default()),
    ])
}

/// Check every service; `explicit` is false for [`defaults`], whose
/// problems come from top-level keys.
pub fn validate_all(
    services: &BTreeMap<String, ServiceConfig>,
    inherited: &Inherited<'_>,
    explicit: bool,
    diagnostics: &mut Diagnostics,
) -> Vec<Service> {
    if services.is_empty() {
        diagnostics
            .error("services", "`services` is empty")
            .help("add a table such as `[stacks.compute.services.api]`, or remove `services` for the default api, worker and scheduler");
    }
    if !explicit && !inherited.ecr {
        diagnostics
            .error(
                "ecr_stack",
                "`ecr_stack` is empty, so the default services have no image",
            )
            .help("name the ECR stack (e.g. `ecr`), or define `services` with an `image` for each");
    }
    let mut validated: Vec<Service> = services
        .iter()
        .map(|(name, config)| validate(name, config, inherited, explicit, diagnostics))
        .collect();

    let mut default_target: Option<&str> = None;
    for (i, service) in validated.iter().enumerate() {
        if let Some(listener) = &service.listener
            && listener.rule.is_none()
        {
            match default_target {
                None => default_target = Some(&service.name),
                Some(first) => {
                    diagnostics
                        .error(
                            format!("services.{}.public", service.name),
                            format!(
                                "`{}` is public without routing, but `{first}` is the load balancer's default target already",
                                service.name
                            ),
                        )
                        .help(
                            "one public service takes what no rule matches; route the others with \
                             `path_patterns = [\"/api/*\"]` or `host_headers = [\"api.example.com\"]`, \
                             or make them private",
                        );
                }
            }
        }
        if let Some(other) = validated[..i].iter().find(|o| o.id == service.id) {
            diagnostics
                .error(
                    format!("services.{}", service.name),
                    format!(
                        "`{}` and `{}` give the same CloudFormation logical id `{}`",
                        other.name, service.name, service.id
                    ),
                )
                .help("rename one of them");
        }
    }
    assign_priorities(services, &mut validated, diagnostics);
    validated
}

/// Routed services without `priority` get 10, 20, ... by their position
/// among the routed services (name order); every priority must be unique.
fn assign_priorities(
    configs: &BTreeMap<String, ServiceConfig>,
    services: &mut [Service],
    diagnostics: &mut Diagnostics,
) {
    let mut taken: Vec<(u32, String)> = Vec::new();
    let mut position = 0u32;
    for service in services.iter_mut() {
        let Some(rule) = service.listener.as_mut().and_then(|l| l.rule.as_mut()) else {
            continue;
        };
        position += 1;
        let explicit = configs.get(&service.name).and_then(|c| c.priority);
        if explicit.is_none() {
            rule.priority = position * 10;
        }
        if let Some((_, owner)) = taken.iter().find(|(p, _)| *p == rule.priority) {
            let (path, what) = match explicit {
                Some(_) => (
                    format!("services.{}.priority", service.name),
                    format!("`priority = {}`", rule.priority),
                ),
                None => (
                    format!("services.{}", service.name),
                    format!("the derived priority `{}`", rule.priority),
                ),
            };
            diagnostics
                .error(
                    path,
                    format!("{what} is taken by service `{owner}`"),
                )
                .help("give each routed service its own `priority` (1 to 50000); unset priorities are 10, 20, ... in name order of the routed services");
        } else {
            taken.push((rule.priority, service.name.clone()));
        }
    }
}

fn validate(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    explicit: bool,
    diagnostics: &mut Diagnostics,
) -> Service {
    let at = |key: &str| format!("services.{name}.{key}");
    if !check::is_name(name, SERVICE_NAME_MAX) {
        diagnostics
            .error(format!("services.{name}"), format!("`{name}` is not a service name"))
            .help(format!(
                "use lowercase letters, digits and single hyphens, starting with a letter, at most 32 characters, e.g. `{}`",
                check::suggest_name(name, usize::MAX, "api")
            ));
    }
    let listener = check_listener(name, config, inherited, diagnostics);
    let singleton = config.singleton.unwrap_or(name == SCHEDULER);
    let access = check_access(name, config, inherited, diagnostics);
    let volumes = check_volumes(name, &config.volumes, diagnostics);

    let size = resolve_size(config.cpu, config.memory, inherited.size);
    if config.cpu.is_some() || config.memory.is_some() {
        check_size(
            size,
            (config.cpu.is_some(), config.memory.is_some()),
            (&at("cpu"), &at("memory")),
            diagnostics,
        );
    }
    let (desired_count, scaling) = check_counts(
        name,
        config,
        inherited,
        (listener.is_some(), singleton),
        diagnostics,
    );
    check_command(&at("command"), config.command.as_deref(), diagnostics);
    match &config.image {
        Some(image) => check_image(&at("image"), image, diagnostics),
        None if explicit && !inherited.ecr => {
            diagnostics
                .error(
                    format!("services.{name}"),
                    format!("service `{name}` has no image"),
                )
                .help("set `image`, or name the ECR stack in `ecr_stack`");
        }
        None => {}
    }
    check_sidecars(
        name,
        &config.containers,
        listener.as_ref().map(|l| l.port),
        size,
        diagnostics,
    );

    Service {
        name: name.to_owned(),
        id: cfn::logical_id(name),
        listener,
        command: config.command.clone(),
        cpu: size.0,
        memory: size.1,
        desired_count,
        scaling,
        image: config.image.clone(),
        sidecars: config.containers.clone(),
        singleton,
        access,
        volumes,
    }
}

/// `port`, `health_check_path` and the routing keys belong to public
/// services alone; routing makes a service public.
fn check_listener(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    diagnostics: &mut Diagnostics,
) -> Option<Listener> {
    let at = |key: &str| format!("services.{name}.{key}");
    let routed = !config.path_patterns.is_empty() || !config.host_headers.is_empty();
    if config.public || routed {
        if let Some(port) = config.port {
            check_port(&at("port"), port, diagnostics);
        }
        if let Some(path) = &config.health_check_path {
            check_health_check_path(&at("health_check_path"), path, diagnostics);
        }
        let rule = routed.then(|| check_rule(name, config, diagnostics));
        if let (Some(priority), false) = (config.priority, routed) {
            diagnostics
                .error(at("priority"), format!("`priority = {priority}` needs a rule, and `{name}` has no `path_patterns` or `host_headers`"))
                .help("add `path_patterns` or `host_headers`, or remove `priority`");
        }
        return Some(Listener {
            port: config.port.unwrap_or(inherited.port),
            health_check_path: config
                .health_check_path
                .clone()
                .unwrap_or_else(|| inherited.health_check_path.to_owned()),
            rule,
        });
    }
    for (key, set) in [
        ("port", config.port.is_some()),
        ("health_check_path", config.health_check_path.is_some()),
        ("priority", config.priority.is_some()),
    ] {
        if set {
            diagnostics
                .error(at(key), format!("`{key}` applies to public services only, and `{name}` is private"))
                .help("set `public = true` (or `path_patterns`) to put the service behind the load balancer, or remove the key");
        }
    }
    None
}

/// ALB takes at most 5 condition values per rule.
const RULE_VALUES_MAX: usize = 5;
/// ALB rule priorities.
const PRIORITIES: std::ops::RangeInclusive<u32> = 1..=50_000;

fn check_rule(name: &str, config: &ServiceConfig, diagnostics: &mut Diagnostics) -> Rule {
    let at = |key: &str| format!("services.{name}.{key}");
    for (i, pattern) in config.path_patterns.iter().enumerate() {
        let valid = pattern.starts_with('/')
            && pattern.len() <= 128
            && pattern
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.$/~\"'@:+*?&=%".contains(c));
        if !valid {
            diagnostics
                .error(format!("services.{name}.path_patterns.{i}"), format!("`{pattern}` is not a load balancer path pattern"))
                .help("write an absolute path of at most 128 characters, with `*` and `?` as wildcards, e.g. `/api/*`");
        }
        if config.path_patterns[..i].contains(pattern) {
            diagnostics
                .error(
                    format!("services.{name}.path_patterns.{i}"),
                    format!("`{pattern}` is listed twice"),
                )
                .help("remove the second one");
        }
    }
    for (i, host) in config.host_headers.iter().enumerate() {
        let labels_ok = host.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-*?".contains(c))
        });
        if !(labels_ok && host.len() <= 128 && host.contains('.')) {
            diagnostics
                .error(format!("services.{name}.host_headers.{i}"), format!("`{host}` is not a host name the load balancer can match"))
                .help("write a lowercase host name of at most 128 characters, `*` and `?` as wildcards, e.g. `api.example.com` or `*.example.com`");
        }
        if config.host_headers[..i].contains(host) {
            diagnostics
                .error(
                    format!("services.{name}.host_headers.{i}"),
                    format!("`{host}` is listed twice"),
                )
                .help("remove the second one");
        }
    }
    let values = config.path_patterns.len() + config.host_headers.len();
    if values > RULE_VALUES_MAX {
        let key = if config.path_patterns.len() > config.host_headers.len() {
            "path_patterns"
        } else {
            "host_headers"
        };
        diagnostics
            .error(
                at(key),
                format!(
                    "`{name}` routes on {values} values, and a load balancer rule takes at most 5"
                ),
            )
            .help("use wildcards (`/api/*`) to cover several paths with one pattern");
    }
    if let Some(priority) = config.priority
        && !PRIORITIES.contains(&priority)
    {
        diagnostics
            .error(
                at("priority"),
                format!("`{priority}` is outside 1 to 50000"),
            )
            .help("use e.g. `10`; lower priorities are evaluated first");
    }
    Rule {
        path_patterns: config.path_patterns.clone(),
        host_headers: config.host_headers.clone(),
        priority: config.priority.unwrap_or(0),
    }
}

/// A service's share of the top-level queues and secrets, and of the
/// optional stacks.
fn check_access(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    diagnostics: &mut Diagnostics,
) -> Access {
    let subset = |key: &str,
                  chosen: &Option<Vec<String>>,
                  all: &[String],
                  stack: &str,
                  diagnostics: &mut Diagnostics|
     -> Vec<String> {
        let Some(chosen) = chosen else {
            return all.to_vec();
        };
        let candidates: Vec<&str> = all.iter().map(String::as_str).collect();
        for (i, item) in chosen.iter().enumerate() {
            let path = format!("services.{name}.{key}.{i}");
            if !all.contains(item) {
                let help = match check::did_you_mean(item, &candidates) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None if all.is_empty() => {
                        format!("add it to the top-level `{key}` (with `{stack}` set) first")
                    }
                    None => format!(
                        "use one of the top-level `{key}`: {}",
                        candidates.join(", ")
                    ),
                };
                diagnostics
                    .error(
                        path,
                        format!("`{item}` is not one of the top-level `{key}`"),
                    )
                    .help(help);
            } else if chosen[..i].contains(item) {
                diagnostics
                    .error(path, format!("`{item}` is listed twice"))
                    .help("remove the second one");
            }
        }
        chosen.clone()
    };
    let queues = subset(
        "queues",
        &config.queues,
        inherited.queues,
        "sqs_stack",
        diagnostics,
    );
    let secrets = subset(
        "secrets",
        &config.secrets,
        inherited.secrets,
        "secrets_stack",
        diagnostics,
    );
    for (variable, value) in &config.secret_variables {
        let path = format!("services.{name}.secret_variables.{variable}");
        value.check(&path, diagnostics);
        if !super::is_variable_name(variable) {
            diagnostics
                .error(&path, format!("`{variable}` is not an environment variable name"))
                .help("use letters, digits and underscores, not starting with a digit, e.g. `STRIPE_KEY`");
        } else if let Some((_, source)) = inherited.generated.iter().find(|(g, _)| g == variable) {
            diagnostics
                .error(
                    &path,
                    format!("`{variable}` is set by the module from `{source}`"),
                )
                .help("rename the variable; one of the two values would be lost");
        } else if inherited.variables.contains(&variable.as_str()) {
            diagnostics
                .error(&path, format!("`{variable}` is also in `environment_variables`"))
                .help("rename one of them; a container cannot have a variable and a secret of one name");
        }
        if let StringOrImport::Text(arn) = value
            && !arn.starts_with("arn:")
        {
            diagnostics
                .error(&path, format!("`{arn}` is not a secret ARN"))
                .help("write the secret's ARN, or `{ import = \"STACK.OUTPUT\" }` of a stack exporting it");
        }
    }
    let flag = |key: &str,
                value: Option<bool>,
                available: bool,
                stack: &str,
                diagnostics: &mut Diagnostics|
     -> bool {
        if value == Some(true) && !available {
            diagnostics
                .error(
                    format!("services.{name}.{key}"),
                    format!("`{key} = true`, but `{stack}` is empty"),
                )
                .help(format!("name the stack in `{stack}`, or remove `{key}`"));
        }
        value.unwrap_or(true) && available
    };
    Access {
        queues,
        secrets,
        secret_variables: config.secret_variables.clone(),
        database: flag(
            "database",
            config.database,
            inherited.database,
            "database_stack",
            diagnostics,
        ),
        assets_bucket: flag(
            "assets_bucket",
            config.assets_bucket,
            inherited.assets_bucket,
            "s3_stack",
            diagnostics,
        ),
        cache: flag(
            "cache",
            config.cache,
            inherited.cache,
            "cache_stack",
            diagnostics,
        ),
    }
}

fn check_volumes(
    service: &str,
    volumes: &[VolumeConfig],
    diagnostics: &mut Diagnostics,
) -> Vec<Volume> {
    for (i, volume) in volumes.iter().enumerate() {
        let at = |key: &str| format!("services.{service}.volumes.{i}.{key}");
        if !check::is_name(&volume.name, 64) {
            diagnostics
                .error(
                    at("name"),
                    format!("`{}` is not a volume name", volume.name),
                )
                .help(format!(
                    "use lowercase letters, digits and single hyphens, e.g. `{}`",
                    check::suggest_name(&volume.name, 64, "uploads")
                ));
        } else if volumes[..i].iter().any(|v| v.name == volume.name) {
            diagnostics
                .error(at("name"), format!("`{}` names two volumes", volume.name))
                .help("give each volume of the service its own name");
        }
        if volume.efs.is_empty() {
            diagnostics
                .error(at("efs"), "the volume has no `efs` stack")
                .help("name the `efs` stack whose file system to mount, e.g. `efs = \"shared-files\"`");
        } else {
            check::stack_name(&at("efs"), &volume.efs, diagnostics);
        }
        if let Some(point) = &volume.access_point
            && !check::is_name(point, 64)
        {
            diagnostics
                .error(at("access_point"), format!("`{point}` is not an access point name"))
                .help("use the access point's name in the efs stack: lowercase letters, digits and single hyphens, e.g. `uploads`");
        }
        let path_ok = volume.path.starts_with('/')
            && volume.path.len() > 1
            && !volume.path.contains("//")
            && volume.path.chars().all(|c| c.is_ascii_graphic());
        if !path_ok {
            diagnostics
                .error(
                    at("path"),
                    format!("`{}` is not an absolute container path", volume.path),
                )
                .help("write where the container sees the files, e.g. `/mnt/uploads`");
        } else if volumes[..i].iter().any(|v| v.path == volume.path) {
            diagnostics
                .error(
                    at("path"),
                    format!("`{}` is the mount path of another volume", volume.path),
                )
                .help("mount each volume at its own path");
        }
    }
    volumes
        .iter()
        .map(|v| Volume {
            name: v.name.clone(),
            efs: v.efs.clone(),
            access_point: v.access_point.clone(),
            path: v.path.clone(),
            read_only: v.read_only,
        })
        .collect()
}

/// The desired count and the autoscaling range, if any.
fn check_counts(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    (public, singleton): (bool, bool),
    diagnostics: &mut Diagnostics,
) -> (u32, Option<Scaling>) {
    let at = |key: &str| format!("services.{name}.{key}");
    let fixed_one = singleton || name == SCHEDULER;
    if singleton {
        if config.autoscale == Some(true) {
            diagnostics
                .error(at("autoscale"), format!("singleton `{name}` cannot autoscale"))
                .help("a singleton runs at most one task: remove `autoscale`, or set `singleton = false`");
        }
        if let Some(count) = config.desired_count
            && count > 1
        {
            diagnostics
                .error(at("desired_count"), format!("singleton `{name}` may run `{count}` tasks"))
                .help("a singleton runs at most one task: use `1` (or `0` to park it), or set `singleton = false`");
        }
    }
    let autoscale = config.autoscale.unwrap_or(!fixed_one) && !singleton;
    let production_minimum = |fewest: u32, path: String, diagnostics: &mut Diagnostics| {
        if inherited.production && public && fewest < 2 {
            diagnostics
                .error(
                    path,
                    format!("public service `{name}` may run `{fewest}` task(s) in production"),
                )
                .help("production's public service must span two availability zones: run at least `2` tasks");
        }
    };
    if autoscale {
        let (min, max) = resolve_tasks(config.min_tasks, config.max_tasks, inherited.tasks);
        if config.min_tasks.is_some() || config.max_tasks.is_some() {
            check_tasks(
                (min, max),
                config.min_tasks.is_some(),
                (&at("min_tasks"), &at("max_tasks")),
                diagnostics,
            );
        }
        let desired = config.desired_count.unwrap_or(min);
        if config.desired_count.is_some() && !(min..=max).contains(&desired) {
            diagnostics
                .error(
                    at("desired_count"),
                    format!("`desired_count = {desired}` is outside `min_tasks` to `max_tasks` ({min} to {max})"),
                )
                .help("remove `desired_count` (it defaults to `min_tasks`), or use a count in the range");
        }
        let path = if config.min_tasks.is_some() {
            at("min_tasks")
        } else if config.max_tasks.is_some() {
            at("max_tasks")
        } else {
            inherited.tasks_path.to_owned()
        };
        production_minimum(min, path, diagnostics);
        (desired, Some(Scaling { min, max }))
    } else {
        for (key, set) in [
            ("min_tasks", config.min_tasks.is_some()),
            ("max_tasks", config.max_tasks.is_some()),
        ] {
            if set {
                diagnostics
                    .error(at(key), format!("`{key}` applies to autoscaled services only, and `{name}` does not autoscale"))
                    .help("set `desired_count` for a fixed number of tasks, or `autoscale = true`");
            }
        }
        let default = if fixed_one { 1 } else { inherited.tasks.0 };
        let desired = config.desired_count.unwrap_or(default);
        if desired > MAX_TASKS && !singleton {
            diagnostics
                .error(
                    at("desired_count"),
                    format!("`{desired}` is above ECS's limit of 5000 tasks per service"),
                )
                .help("use at most `5000`");
        }
        let path = if config.desired_count.is_some() || fixed_one {
            at("desired_count")
        } else {
            inherited.tasks_path.to_owned()
        };
        production_minimum(desired, path, diagnostics);
        (desired, None)
    }
}

fn check_sidecars(
    service: &str,
    containers: &[ContainerConfig],
    main_port: Option<u32>,
    (task_cpu, task_memory): (u32, u32),
    diagnostics: &mut Diagnostics,
) {
    let mut names: Vec<&str> = Vec::new();
    let mut ports: Vec<(u32, &str)> = main_port.map(|p| (p, service)).into_iter().collect();
    let (mut cpu, mut memory) = (0u32, 0u32);
    for (i, container) in containers.iter().enumerate() {
        let at = |key: &str| format!("services.{service}.containers.{i}.{key}");
        let name = container.name.as_str();
        if name.is_empty() {
            diagnostics
                .error(at("name"), "the container has no `name`")
                .help("name it, e.g. `sidecar`");
        } else if !check::is_name(name, 64) {
            diagnostics
                .error(at("name"), format!("`{name}` is not a container name"))
                .help(format!(
                    "use lowercase letters, digits and single hyphens, starting with a letter, e.g. `{}`",
                    check::suggest_name(name, usize::MAX, "sidecar")
                ));
        } else if name == service {
            diagnostics
                .error(at("name"), format!("`{name}` is the name of the service's own container"))
                .help(format!("the main container is named after the service; name the sidecar otherwise, e.g. `{service}-sidecar`"));
        } else if names.contains(&name) {
            diagnostics
                .error(at("name"), format!("`{name}` names two containers"))
                .help("give each container of the task its own name");
        }
        names.push(name);
        if container.image.is_empty() {
            diagnostics
                .error(at("image"), "the container has no `image`")
                .help("set `image`, e.g. `public.ecr.aws/aws-observability/aws-otel-collector:latest`");
        } else {
            check_image(&at("image"), &container.image, diagnostics);
        }
        if let Some(port) = container.port
            && check_port(&at("port"), port, diagnostics)
        {
            match ports.iter().find(|(p, _)| *p == port) {
                Some((_, owner)) => {
                    diagnostics
                        .error(
                            at("port"),
                            format!("port `{port}` is taken by container `{owner}`"),
                        )
                        .help("the containers of a task share one network; give each its own port");
                }
                None => ports.push((port, name)),
            }
        }
        check_command(&at("command"), container.command.as_deref(), diagnostics);
        cpu = cpu.saturating_add(container.cpu.unwrap_or(0));
        if let Some(limit) = container.memory {
            if limit < CONTAINER_MEMORY_MIN {
                diagnostics
                    .error(
                        at("memory"),
                        format!("`{limit}` MiB is below ECS's minimum of 6 MiB per container"),
                    )
                    .help("use at least `6`, or remove `memory` to share the task's");
            }
            memory = memory.saturating_add(limit);
        }
    }
    let path = format!("services.{service}.containers");
    if cpu > 0 && cpu >= task_cpu {
        diagnostics
            .error(&path, format!("the sidecars reserve `{cpu}` of the task's `{task_cpu}` CPU units"))
            .help("leave room for the service's own container: lower the sidecars' `cpu`, or raise the service's");
    }
    if memory > 0 && memory >= task_memory {
        diagnostics
            .error(&path, format!("the sidecars take `{memory}` of the task's `{task_memory}` MiB"))
            .help("leave room for the service's own container: lower the sidecars' `memory`, or raise the service's");
    }
}

/// A TCP port; returns whether it is one.
pub fn check_port(path: &str, port: u32, diagnostics: &mut Diagnostics) -> bool {
    let valid = (1..=65_535).contains(&port);
    if !valid {
        diagnostics
            .error(path, format!("`{port}` is not a port"))
            .help("use 1 to 65535, e.g. `8080`");
    }
    valid
}

/// An absolute URL path, as ALB health checks take it.
pub fn check_health_check_path(path: &str, value: &str, diagnostics: &mut Diagnostics) {
    let valid = value.starts_with('/')
        && value.len() <= 1024
        && value.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        diagnostics
            .error(path, format!("`{value}` is not a health check path"))
            .help("use an absolute path without spaces, at most 1024 characters, e.g. `/health`");
    }
}

fn check_command(path: &str, command: Option<&[String]>, diagnostics: &mut Diagnostics) {
    if command.is_some_and(<[String]>::is_empty) {
        diagnostics
            .error(path, "`command` is empty")
            .help("remove `command` to run the image's default command");
    }
}

/// An image reference as ECS takes it: letters, digits and `-_.:/@#`, at
/// most 255 characters.
fn check_image(path: &str, image: &str, diagnostics: &mut Diagnostics) {
    let valid = (1..=255).contains(&image.len())
        && image.starts_with(|c: char| c.is_ascii_alphanumeric())
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/@#".contains(c));
    if !valid {
        diagnostics
            .error(path, format!("`{image}` is not a container image"))
            .help(
                "write `repository:tag` or a registry URI, e.g. `public.ecr.aws/nginx/nginx:1.27`",
            );
    }
}
