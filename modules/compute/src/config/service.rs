//! The `services` table: one table per service, keyed by its name, each
//! checked against what it inherits from the top level ([`Inherited`]).
//!
//! A service runs one task definition: a main container named after the
//! service (the image from the ECR stack or `image`), plus any sidecars in
//! `containers`. At most one service is public, behind the load balancer.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Diagnostics, cfn, check};

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
    /// service is public.
    pub public: bool,
    /// Port the main container listens on; only for the public service.
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
    /// Path the load balancer checks; only for the public service. Defaults
    /// to the top-level `health_check_path`.
    pub health_check_path: Option<String>,
    /// Sidecar containers in the same task (sharing its network and size).
    pub containers: Vec<ContainerConfig>,
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

/// What the load balancer sends the public service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    /// Port of the main container.
    pub port: u32,
    /// Health check path.
    pub health_check_path: String,
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
    /// Set for the public service.
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
    let validated: Vec<Service> = services
        .iter()
        .map(|(name, config)| validate(name, config, inherited, explicit, diagnostics))
        .collect();

    let mut public: Option<&str> = None;
    for (i, service) in validated.iter().enumerate() {
        if service.listener.is_some() {
            match public {
                None => public = Some(&service.name),
                Some(first) => {
                    diagnostics
                        .error(
                            format!("services.{}.public", service.name),
                            format!("`{}` is public, but `{first}` is public already", service.name),
                        )
                        .help(
                            "this version gives each environment one ALB target group, so one public service: \
                             make one of them private, or run both containers in one task with `containers`",
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
    validated
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

    let size = resolve_size(config.cpu, config.memory, inherited.size);
    if config.cpu.is_some() || config.memory.is_some() {
        check_size(
            size,
            (config.cpu.is_some(), config.memory.is_some()),
            (&at("cpu"), &at("memory")),
            diagnostics,
        );
    }
    let (desired_count, scaling) =
        check_counts(name, config, inherited, listener.is_some(), diagnostics);
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
    }
}

/// `port` and `health_check_path` belong to the public service alone.
fn check_listener(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    diagnostics: &mut Diagnostics,
) -> Option<Listener> {
    let at = |key: &str| format!("services.{name}.{key}");
    if config.public {
        if let Some(port) = config.port {
            check_port(&at("port"), port, diagnostics);
        }
        if let Some(path) = &config.health_check_path {
            check_health_check_path(&at("health_check_path"), path, diagnostics);
        }
        return Some(Listener {
            port: config.port.unwrap_or(inherited.port),
            health_check_path: config
                .health_check_path
                .clone()
                .unwrap_or_else(|| inherited.health_check_path.to_owned()),
        });
    }
    for (key, set) in [
        ("port", config.port.is_some()),
        ("health_check_path", config.health_check_path.is_some()),
    ] {
        if set {
            diagnostics
                .error(at(key), format!("`{key}` applies to the public service only, and `{name}` is private"))
                .help("set `public = true` to put the service behind the load balancer, or remove the key");
        }
    }
    None
}

/// The desired count and the autoscaling range, if any.
fn check_counts(
    name: &str,
    config: &ServiceConfig,
    inherited: &Inherited<'_>,
    public: bool,
    diagnostics: &mut Diagnostics,
) -> (u32, Option<Scaling>) {
    let at = |key: &str| format!("services.{name}.{key}");
    let autoscale = config.autoscale.unwrap_or(name != SCHEDULER);
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
        let default = if name == SCHEDULER {
            1
        } else {
            inherited.tasks.0
        };
        let desired = config.desired_count.unwrap_or(default);
        if desired > MAX_TASKS {
            diagnostics
                .error(
                    at("desired_count"),
                    format!("`{desired}` is above ECS's limit of 5000 tasks per service"),
                )
                .help("use at most `5000`");
        }
        let path = if config.desired_count.is_some() || name == SCHEDULER {
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
