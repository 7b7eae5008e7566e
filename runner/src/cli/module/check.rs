//! `strata module check FILE.wasm`: load a component exactly as `strata
//! render` does ([`Host::load`], [`render::render_environment`]) and hold it
//! to what every stack module must guarantee, whoever wrote it. Each
//! [`Check`] has a status, a one-line summary and findings with a `help`.
//!
//! The checks, in order: `wit` (the interface version it exports),
//! `describe` (a stack type name, a JSON Schema the config layer can use, of
//! a sane size), `pin` (what `strata.toml` under `--repo` pins it as), then
//! over every stack of its type in `--config`: `render` (the host's own
//! checks), `determinism` (three fresh renders, identical), `tags`, `names`,
//! `exports`, `imports`, `limits` (CloudFormation's) and `sandbox` (time and
//! memory per render against [`Limits`]).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::super::Exit;
use crate::config::{self, Diagnostic, Environment, RepoConfig, SourceFile, StackName};
use crate::conventions::{NAME_PROPERTIES, NAMED_BY_NAME};
use crate::host::{
    Host, Limits, Module, ModuleError, RenderCost, WIT_PACKAGE, WIT_VERSION, WitVersion,
    accepted_wit_versions,
};
use crate::modules::{ModuleSource, Origin, Registry, sha256_hex};
use crate::render::{self, RenderedStack, TEMPLATE_INLINE_LIMIT, TEMPLATE_URL_LIMIT};

pub use crate::host::MAX_SCHEMA_BYTES;
/// CloudFormation's most resources per template.
pub const MAX_RESOURCES: usize = 500;
/// CloudFormation's most outputs per template.
pub const MAX_OUTPUTS: usize = 200;
/// Renders per stack compared for determinism.
pub const RENDERS: usize = 3;

/// Resource types CloudFormation gives no tags property (the SDK's list, so
/// the checker and the SDK's test kit agree).
const UNTAGGABLE_TYPES: &str = include_str!("../../../../modules/sdk/src/untaggable-types.txt");

/// How to print the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a person: one line per check, findings with their help, the pin.
    #[default]
    Terminal,
    /// One JSON document (`strata.module-check/v1`).
    Json,
}

/// Arguments of `strata module check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The component: a release build of a module crate.
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,

    /// An environment file to render the module's stacks from (the scaffold's `example.toml`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// How a check ended; ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Passed.
    Ok,
    /// Not run (nothing to run it on).
    Skipped,
    /// Passed with warnings.
    Warning,
    /// Failed.
    Error,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Skipped => "skipped",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One problem a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// [`Status::Error`] or [`Status::Warning`].
    pub severity: Status,
    /// The stack of the config it was found rendering, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// The template's logical id it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

impl Finding {
    fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Status::Error,
            stack: None,
            resource: None,
            message: message.into(),
            help: None,
        }
    }

    fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Status::Warning,
            ..Self::error(message)
        }
    }

    fn in_stack(mut self, stack: &str) -> Self {
        self.stack = Some(stack.to_owned());
        self
    }

    fn on(mut self, resource: &str) -> Self {
        self.resource = Some(resource.to_owned());
        self
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Its name: `wit`, `describe`, `pin`, `render`, `determinism`, `tags`,
    /// `names`, `exports`, `imports`, `limits` or `sandbox`.
    pub name: &'static str,
    /// The worst of its findings, or `ok` / `skipped`.
    pub status: Status,
    /// What was checked, in one line.
    pub summary: String,
    /// Problems, errors first.
    pub findings: Vec<Finding>,
}

impl Check {
    fn new(name: &'static str, summary: impl Into<String>, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        let status = findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Status::Ok);
        Self {
            name,
            status,
            summary: summary.into(),
            findings,
        }
    }

    fn skipped(name: &'static str, summary: impl Into<String>) -> Self {
        Self {
            status: Status::Skipped,
            ..Self::new(name, summary, Vec::new())
        }
    }
}

/// What was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The file, as given.
    pub file: String,
    /// Its size.
    pub bytes: usize,
    /// sha256 of its bytes, what `strata.toml` pins.
    pub sha256: String,
    /// The stack type it calls itself (`describe`), once loaded.
    pub name: Option<String>,
    /// Its version, once loaded.
    pub version: Option<String>,
    /// The interface it exports, with its WIT version, once loaded.
    pub wit: Option<String>,
}

/// The whole report, as `--format json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// `strata.module-check/v1`.
    pub format: &'static str,
    /// The module.
    pub module: Identity,
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Error findings.
    pub errors: usize,
    /// Warning findings.
    pub warnings: usize,
    /// The `[modules.NAME]` table to pin it in `strata.toml`, once loaded.
    pub pin: Option<String>,
    /// Where the pin's `path` expects the file, when the module is not
    /// already inside the config repository.
    pub copy_to: Option<String>,
}

impl CheckReport {
    fn push(&mut self, check: Check) {
        for finding in &check.findings {
            match finding.severity {
                Status::Error => self.errors += 1,
                Status::Warning => self.warnings += 1,
                Status::Ok | Status::Skipped => {}
            }
        }
        self.checks.push(check);
    }

    /// The report for a terminal.
    pub fn terminal(&self) -> String {
        let mut out = String::new();
        let module = &self.module;
        let _ = writeln!(
            out,
            "checking `{}` ({} bytes, sha256 {})",
            module.file, module.bytes, module.sha256
        );
        if let (Some(name), Some(version)) = (&module.name, &module.version) {
            let _ = writeln!(out, "module `{name}` {version}");
        }
        out.push('\n');
        for check in &self.checks {
            let _ = writeln!(
                out,
                "{:<8} {:<12} {}",
                check.status.word(),
                check.name,
                check.summary
            );
            for finding in &check.findings {
                let stack = finding
                    .stack
                    .as_ref()
                    .map(|s| format!("stack `{s}`: "))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<21} {}: {stack}{}",
                    "",
                    finding.severity.word(),
                    finding.message
                );
                if let Some(help) = &finding.help {
                    let _ = writeln!(out, "{:<21}   help: {help}", "");
                }
            }
        }
        let _ = writeln!(
            out,
            "\n{} error{}, {} warning{}",
            self.errors,
            if self.errors == 1 { "" } else { "s" },
            self.warnings,
            if self.warnings == 1 { "" } else { "s" },
        );
        if let Some(pin) = &self.pin {
            match &self.copy_to {
                Some(path) => {
                    let _ = writeln!(
                        out,
                        "\nto use it, copy it to `{path}` in the config repository and pin it in strata.toml:\n\n{pin}"
                    );
                }
                None => {
                    let _ = writeln!(out, "\npin it in strata.toml:\n\n{pin}");
                }
            }
        }
        out
    }
}

/// Run `strata module check`.
pub fn run(repo: &Path, cache_dir: Option<PathBuf>, args: &Args) -> Exit {
    match check(repo, cache_dir, args) {
        Ok(report) => {
            let text = match args.format {
                Format::Terminal => report.terminal(),
                Format::Json => {
                    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
                    text.push('\n');
                    text
                }
            };
            let _ = write!(std::io::stdout(), "{text}");
            if report.errors > 0 {
                Exit::Failed
            } else {
                Exit::Ok
            }
        }
        Err((diagnostics, exit)) => {
            super::print(&diagnostics);
            exit
        }
    }
}

/// Check the module at `args.file`; `Err` for input that cannot be checked
/// (with the exit to return).
pub fn check(
    repo: &Path,
    cache_dir: Option<PathBuf>,
    args: &Args,
) -> Result<CheckReport, (Vec<Diagnostic>, Exit)> {
    let shown = args.file.display().to_string();
    let bytes = std::fs::read(&args.file).map_err(|e| {
        (
            vec![
                Diagnostic::error(format!("cannot read module `{shown}`: {e}"))
                    .with_help("build it first: `cargo build --release --target wasm32-wasip2`"),
            ],
            Exit::BadInput,
        )
    })?;
    let digest = sha256_hex(&bytes);
    let repo_config = repo_config(repo).map_err(|d| (d, Exit::BadInput))?;
    let sandbox = repo_config.sandbox;
    let limits = Limits {
        memory_bytes: (sandbox.memory_mib as usize) << 20,
        timeout: std::time::Duration::from_millis(sandbox.timeout_ms),
        output_bytes: (sandbox.output_mib as usize) << 20,
    };
    let host = Host::new(limits, cache_dir).map_err(|e| {
        (
            vec![Diagnostic::error(e.to_string()).as_failure()],
            Exit::Failed,
        )
    })?;

    let mut report = CheckReport {
        format: "strata.module-check/v1",
        module: Identity {
            file: shown.clone(),
            bytes: bytes.len(),
            sha256: digest.clone(),
            name: None,
            version: None,
            wit: None,
        },
        checks: Vec::new(),
        errors: 0,
        warnings: 0,
        pin: None,
        copy_to: None,
    };
    let stem = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let module = match host.load(&stem, &bytes, &digest) {
        Ok(module) => module,
        Err(error) => {
            report.push(load_failure(&error));
            return Ok(report);
        }
    };
    let info = module.info.clone();
    report.module.name = Some(info.name.clone());
    report.module.version = Some(info.version.clone());
    report.module.wit = Some(module.wit_export.clone());
    report.push(check_wit(&module));
    let (describe, schema) = check_describe(&module);
    report.push(describe);
    let name_is_valid = StackName::parse(&info.name).is_ok();
    report.push(check_pin(
        repo,
        &repo_config,
        &args.file,
        &digest,
        &info.name,
    ));
    if name_is_valid {
        let (pin, copy_to) = pin_lines(repo, &args.file, &info.name, &digest);
        report.pin = Some(pin);
        report.copy_to = copy_to;
    }

    let environment = match (&args.config, name_is_valid) {
        (_, false) => None,
        (Some(path), true) => Some(load_config(path, &info.name)?),
        (None, true) => minimal_config(&info.name, schema.as_ref()),
    };
    let Some(environment) = environment else {
        let why = if !name_is_valid {
            "the module's name is invalid, so no stack can use it"
        } else if args.config.is_some() {
            "no config to render"
        } else {
            "its schema requires keys: pass `--config example.toml` to render a stack"
        };
        for name in [
            "render",
            "determinism",
            "tags",
            "names",
            "exports",
            "imports",
            "limits",
            "sandbox",
        ] {
            report.push(Check::skipped(name, why));
        }
        return Ok(report);
    };

    let mut registry = Registry::embedded();
    registry.insert(ModuleSource {
        name: info.name.clone(),
        origin: Origin::Declared(shown),
        bytes: Cow::Owned(bytes),
        sha256: digest,
    });
    let outcome = render::render_environment(&host, &registry, &environment);
    super::print(&outcome.diagnostics);
    let ours: Vec<&config::Stack> = environment
        .stacks
        .values()
        .filter(|s| s.kind == info.name)
        .collect();
    report.push(check_render(&environment, &ours, &outcome));
    let rendered: Vec<&RenderedStack> = ours
        .iter()
        .filter_map(|s| outcome.partial.stacks.get(s.name.as_str()))
        .map(|s| &**s)
        .collect();
    // Loaded again under the name it gives itself (the render above did, so
    // this is a lookup), so trap messages name it as users will see it.
    let module = registry
        .get(&info.name)
        .and_then(|source| host.load(&info.name, &source.bytes, &source.sha256).ok())
        .unwrap_or_else(|| std::sync::Arc::clone(&module));
    let (determinism, sandbox) = check_renders(&host, &module, &environment, &ours);
    report.push(determinism);
    if rendered.is_empty() {
        for name in ["tags", "names", "exports", "imports", "limits"] {
            report.push(Check::skipped(name, "no stack rendered"));
        }
    } else {
        report.push(check_tags(&environment, &rendered));
        report.push(check_names(&environment, &rendered));
        report.push(check_exports(&environment, &rendered));
        report.push(check_imports(&rendered));
        report.push(check_limits(&rendered));
    }
    report.push(sandbox);
    Ok(report)
}

/// `strata.toml` under `repo`, or the defaults when there is none.
fn repo_config(repo: &Path) -> Result<RepoConfig, Vec<Diagnostic>> {
    let path = repo.join(config::repo::FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => RepoConfig::parse(SourceFile::new(config::repo::FILE_NAME, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RepoConfig::default()),
        Err(e) => Err(vec![Diagnostic::error(format!(
            "cannot read `{}`: {e}",
            path.display()
        ))]),
    }
}

/// The `wit` check of a module that loaded: which contract it speaks. A
/// 0.1 module passes, with a note of what 0.2 would let it declare.
fn check_wit(module: &Module) -> Check {
    let summary = if module.wit_version.declares_resource_traits() {
        format!(
            "exports `{}` (this strata implements `{WIT_PACKAGE}@{WIT_VERSION}`)",
            module.wit_export
        )
    } else {
        format!(
            "exports `{}`, still accepted; `{WIT_PACKAGE}@{WIT_VERSION}` (strata-module-sdk 0.2) would let it declare its stateful resources and replacing properties to plans",
            module.wit_export
        )
    };
    Check::new("wit", summary, Vec::new())
}

fn load_failure(error: &ModuleError) -> Check {
    match error {
        ModuleError::IncompatibleWit { found, .. } => Check::new(
            "wit",
            format!("exports `{found}`"),
            vec![
                Finding::error(format!(
                    "built against `{found}`, but this strata loads {}",
                    accepted_wit_versions()
                ))
                .help(format!(
                    "rebuild it with `strata-module-sdk` {}, or use a strata that implements its WIT version",
                    WitVersion::NEWEST.minor()
                )),
            ],
        ),
        ModuleError::Invalid { reason, .. } => Check::new(
            "wit",
            "not a Strata module component",
            vec![Finding::error(format!("it does not load: {reason}")).help(
                "build a crate that exports itself with `strata_module_sdk::module!` as `cargo build --release --target wasm32-wasip2`",
            )],
        ),
        other => Check::new(
            "describe",
            "`describe` failed",
            vec![Finding::error(other.to_string()).help(
                "`describe` must return the module's name, version and config schema without touching anything else",
            )],
        ),
    }
}

/// The `describe` check, and the schema when it is JSON.
fn check_describe(module: &Module) -> (Check, Option<Value>) {
    let info = &module.info;
    let mut findings = Vec::new();
    if let Err(rule) = StackName::parse(&info.name) {
        findings.push(
            Finding::error(format!("it calls itself `{}`, which {rule}", info.name)).help(
                "the `name:` of `strata_module_sdk::module!` is the stack type users write in `type = \"...\"`: lowercase letters, digits and single hyphens, starting with a letter",
            ),
        );
    }
    if !is_semver(&info.version) {
        findings.push(
            Finding::warning(format!(
                "version `{}` is not `MAJOR.MINOR.PATCH`",
                info.version
            ))
            .help("the version is the crate's `version` in Cargo.toml"),
        );
    }
    if info.description.trim().is_empty() {
        findings.push(
            Finding::warning("the description is empty")
                .help("`strata modules` lists it: say in one line what the stack creates"),
        );
    }
    let size = info.config_schema.len();
    if size > MAX_SCHEMA_BYTES {
        findings.push(
            Finding::error(format!(
                "its config schema is {size} bytes, over {MAX_SCHEMA_BYTES} ({} KiB)",
                MAX_SCHEMA_BYTES >> 10
            ))
            .help("a stack's table should be small: move enumerations into the module's checks"),
        );
    }
    let schema = match serde_json::from_str::<Value>(&info.config_schema) {
        Ok(schema) => Some(schema),
        Err(e) => {
            findings.push(
                Finding::error(format!("its config schema is not JSON: {e}"))
                    .help("derive it with `schemars::JsonSchema` on the config type"),
            );
            None
        }
    };
    if let Some(schema) = &schema {
        findings.extend(schema_problems(schema));
    }
    let check = Check::new(
        "describe",
        format!(
            "`{}` {}, a {size}-byte JSON Schema of its config",
            info.name, info.version
        ),
        findings,
    );
    (check, schema)
}

fn is_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// What keeps the config layer's validator (`config::schema`) from using
/// `schema` for a stack's table.
fn schema_problems(schema: &Value) -> Vec<Finding> {
    let mut findings = Vec::new();
    match schema {
        Value::Bool(true) => findings.push(
            Finding::warning("its config schema accepts anything")
                .help("describe the stack's table with a config type deriving `JsonSchema`, with `#[serde(deny_unknown_fields)]` so typos are caught"),
        ),
        Value::Object(root) => {
            match root.get("type") {
                Some(Value::String(kind)) if kind == "object" => {}
                None => {}
                Some(other) => findings.push(
                    Finding::error(format!("its config schema is of type {other}, but a stack's config is a table"))
                        .help("make the config type a struct (an `object` schema)"),
                ),
            }
            if root.get("additionalProperties") != Some(&Value::Bool(false)) {
                findings.push(
                    Finding::warning("its config schema accepts unknown keys, so a misspelt key is silently ignored")
                        .help("add `#[serde(deny_unknown_fields)]` to the config type"),
                );
            }
            let mut references = Vec::new();
            collect_refs(schema, &mut references);
            for reference in references {
                let resolved = reference
                    .strip_prefix('#')
                    .and_then(|pointer| schema.pointer(pointer));
                if resolved.is_none() {
                    findings.push(
                        Finding::error(format!("its config schema refers to `{reference}`, which it does not define"))
                            .help("only references inside the schema (`#/$defs/...`) can be resolved"),
                    );
                }
            }
        }
        _ => findings.push(
            Finding::error("its config schema is neither an object nor `true`")
                .help("derive it with `schemars::JsonSchema` on the config type"),
        ),
    }
    findings
}

fn collect_refs<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(reference)) => into.push(reference),
                    _ => collect_refs(inner, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

/// Whether `strata.toml` pins this file (by path or digest) or this name,
/// and whether what it pins agrees with what the module says it is.
fn check_pin(
    repo: &Path,
    repo_config: &RepoConfig,
    file: &Path,
    digest: &str,
    name: &str,
) -> Check {
    let same_file = |path: &str| {
        let pinned = repo.join(path);
        match (pinned.canonicalize(), file.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    };
    let mut findings = Vec::new();
    let mut pinned_as = Vec::new();
    for declared in &repo_config.modules {
        let pinned_name = declared.name.get_ref();
        let path = declared.path.get_ref();
        let sha = declared.sha256.get_ref();
        let this_build = sha == digest || same_file(path);
        if this_build && pinned_name != name {
            findings.push(
                Finding::error(format!(
                    "`strata.toml` pins it as `{pinned_name}`, but it calls itself `{name}`"
                ))
                .help(format!(
                    "rename the table to `[modules.{name}]` and write `type = \"{name}\"` in environment files"
                )),
            );
        } else if pinned_name == name && sha != digest {
            findings.push(
                Finding::warning(format!(
                    "`strata.toml` pins `{name}` at `{path}` with another sha256 ({sha})"
                ))
                .help("if this is the new build, copy it there and update the pin with the lines below"),
            );
        }
        if this_build || pinned_name == name {
            pinned_as.push(format!("`[modules.{pinned_name}]`"));
        }
    }
    let summary = if repo_config.source.is_none() {
        format!("no `strata.toml` in `{}` to compare with", repo.display())
    } else if pinned_as.is_empty() {
        "not pinned in `strata.toml` yet".to_owned()
    } else {
        format!("`strata.toml` has {}", pinned_as.join(", "))
    };
    Check::new("pin", summary, findings)
}

/// The `[modules.NAME]` table, and where the file must be copied when it is
/// not inside the config repository.
fn pin_lines(repo: &Path, file: &Path, name: &str, digest: &str) -> (String, Option<String>) {
    let inside = match (repo.canonicalize(), file.canonicalize()) {
        (Ok(root), Ok(file)) => file
            .strip_prefix(&root)
            .ok()
            .map(|p| p.to_string_lossy().replace('\\', "/")),
        _ => None,
    };
    let (path, copy_to) = match inside {
        Some(path) => (path, None),
        None => {
            let path = format!("modules/{name}.wasm");
            (path.clone(), Some(path))
        }
    };
    (
        format!("[modules.{name}]\npath = \"{path}\"\nsha256 = \"{digest}\"\n"),
        copy_to,
    )
}

/// The environment file given with `--config`; its stacks of type `name`
/// are what is rendered.
fn load_config(path: &Path, name: &str) -> Result<Environment, (Vec<Diagnostic>, Exit)> {
    let display = path.display().to_string();
    let embedded = Registry::embedded();
    let mut types = embedded.types();
    types.push(name);
    let (environment, warnings) =
        config::load(path, &display, &types).map_err(|d| (d, Exit::BadInput))?;
    super::print(&warnings);
    if !environment.stacks.values().any(|s| s.kind == name) {
        return Err((
            vec![
                Diagnostic::error(format!("`{display}` has no stack of type `{name}`")).with_help(
                    format!("add one to render it:\n[stacks.{name}]\ntype = \"{name}\""),
                ),
            ],
            Exit::BadInput,
        ));
    }
    Ok(environment)
}

/// Without `--config`: one stack with an empty table, when the schema
/// requires no key.
fn minimal_config(name: &str, schema: Option<&Value>) -> Option<Environment> {
    let required = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    if required {
        return None;
    }
    let text = format!(
        "project = \"acme\"\nenvironment = \"dev\"\nregion = \"us-east-1\"\n\n[tags]\nCostCenter = \"engineering\"\nOwner = \"platform\"\n\n[stacks.{name}]\ntype = \"{name}\"\n"
    );
    let embedded = Registry::embedded();
    let mut types = embedded.types();
    types.push(name);
    config::parse_environment("dev", SourceFile::new("(an empty table)", text), &types)
        .ok()
        .map(|(environment, _)| environment)
}

fn check_render(
    environment: &Environment,
    ours: &[&config::Stack],
    outcome: &render::Outcome,
) -> Check {
    let findings: Vec<Finding> = outcome
        .diagnostics
        .iter()
        .map(|d| {
            let finding = if d.is_error() {
                Finding::error(d.message.clone())
            } else {
                Finding::warning(d.message.clone())
            };
            Finding {
                help: d.help.clone(),
                ..finding
            }
        })
        .collect();
    let names: Vec<String> = ours.iter().map(|s| format!("`{}`", s.name)).collect();
    let summary = format!(
        "{} of `{}` ({}) through `strata render`'s own checks",
        plural(ours.len(), "stack"),
        environment.source.name,
        names.join(", ")
    );
    Check::new("render", summary, findings)
}

/// Render every stack [`RENDERS`] times, fresh: the determinism check and
/// the sandbox check (time and memory against the limits).
fn check_renders(
    host: &Host,
    module: &Module,
    environment: &Environment,
    ours: &[&config::Stack],
) -> (Check, Check) {
    let limits = host.limits();
    let mut determinism = Vec::new();
    let mut sandbox = Vec::new();
    let mut slowest = std::time::Duration::ZERO;
    let mut most_memory = 0;
    for stack in ours {
        let ctx = render::context(environment, stack);
        let config = stack.config.to_string();
        let mut first: Option<String> = None;
        for attempt in 1..=RENDERS {
            let (
                result,
                RenderCost {
                    elapsed,
                    peak_memory_bytes,
                },
            ) = host.render_measured(module, &ctx, &config);
            slowest = slowest.max(elapsed);
            most_memory = most_memory.max(peak_memory_bytes);
            let answer = match result {
                Ok(Ok(raw)) => format!("{}\n{:?}\n{:?}", raw.template, raw.exports, raw.imports),
                Ok(Err(diagnostics)) => format!("{diagnostics:?}"),
                Err(error) => {
                    sandbox.push(
                        Finding::error(error.to_string())
                            .in_stack(stack.name.as_str())
                            .help("a render must finish within the sandbox's time and memory, touching nothing outside it"),
                    );
                    break;
                }
            };
            match &first {
                None => first = Some(answer),
                Some(first) if *first != answer => {
                    determinism.push(
                        Finding::error(format!("render {attempt} differs from render 1"))
                            .in_stack(stack.name.as_str())
                            .help("a render must be a pure function of the context and the config: iterate in a fixed order (`BTreeMap`, sorted `Vec`), never over a `HashMap`"),
                    );
                    break;
                }
                Some(_) => {}
            }
        }
    }
    let budget = limits.timeout;
    if slowest > budget / 2 && sandbox.is_empty() {
        sandbox.push(
            Finding::warning(format!(
                "the slowest render took {} ms, over half the {} ms budget",
                slowest.as_millis(),
                budget.as_millis()
            ))
            .help(
                "a loaded machine renders slower: keep renders well inside `[sandbox] timeout_ms`",
            ),
        );
    }
    if most_memory > limits.memory_bytes / 2 && sandbox.is_empty() {
        sandbox.push(
            Finding::warning(format!(
                "a render used {} of the {} MiB memory cap",
                mib(most_memory),
                limits.memory_bytes >> 20
            ))
            .help("keep renders well inside `[sandbox] memory_mib`"),
        );
    }
    let determinism = Check::new(
        "determinism",
        format!(
            "{} rendered {RENDERS} times each in fresh sandboxes",
            plural(ours.len(), "stack")
        ),
        determinism,
    );
    let sandbox = Check::new(
        "sandbox",
        format!(
            "slowest render {} of {} ms; most memory {} of {} MiB",
            millis(slowest),
            budget.as_millis(),
            mib(most_memory),
            limits.memory_bytes >> 20
        ),
        sandbox,
    );
    (determinism, sandbox)
}

fn millis(duration: std::time::Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

fn plural(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}

fn resources(template: &Value) -> impl Iterator<Item = (&String, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn is_untaggable(kind: &str) -> bool {
    UNTAGGABLE_TYPES
        .lines()
        .map(str::trim)
        .any(|line| !line.starts_with('#') && line == kind)
}

/// Resource types whose tags are not in `Tags` (the SDK's table, shared).
const TAG_PROPERTIES: &str = include_str!("../../../../modules/sdk/src/tag-properties.txt");

/// The property a resource type keeps its tags in.
fn tags_property(kind: &str) -> &'static str {
    TAG_PROPERTIES
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next() == Some(kind))
                .then(|| fields.next())
                .flatten()
        })
        .unwrap_or("Tags")
}

fn check_tags(environment: &Environment, stacks: &[&RenderedStack]) -> Check {
    let mut findings = Vec::new();
    let mut checked = 0;
    for stack in stacks {
        let template = stack.template();
        for (id, resource) in resources(&template) {
            let kind = resource["Type"].as_str().unwrap_or_default();
            if is_untaggable(kind) {
                continue;
            }
            checked += 1;
            let property = tags_property(kind);
            let tags = &resource["Properties"][property];
            let value_of = |key: &str| match tags {
                Value::Array(list) => list
                    .iter()
                    .find(|tag| tag["Key"] == key)
                    .map(|tag| &tag["Value"]),
                Value::Object(map) => map.get(key),
                _ => None,
            };
            let finding =
                |message: String| Finding::error(message).in_stack(stack.name.as_str()).on(id);
            if !matches!(tags, Value::Array(_) | Value::Object(_)) {
                findings.push(
                    finding(format!("`{id}` ({kind}) has no `{property}`"))
                        .help(format!(
                            "add `\"{property}\": ctx.tags()` to its properties (`ctx.tag_map()` for types that take a map); if CloudFormation gives `{kind}` no tags property, the SDK's untaggable list must learn it"
                        )),
                );
                continue;
            }
            let missing: Vec<String> = environment
                .tags
                .iter()
                .filter(|(key, _)| key.as_str() != "Name")
                .filter(|(key, value)| {
                    value_of(key).and_then(Value::as_str) != Some(value.as_str())
                })
                .map(|(key, value)| format!("`{key}={value}`"))
                .collect();
            if !missing.is_empty() {
                findings.push(
                    finding(format!("`{id}` ({kind}) lacks {}", missing.join(", "))).help(
                        "tag it with `ctx.tags()`, which carries every tag of the environment",
                    ),
                );
            }
        }
    }
    Check::new(
        "tags",
        format!(
            "{} carr{} the environment's {} tags",
            plural(checked, "taggable resource"),
            if checked == 1 { "ies" } else { "y" },
            environment.tags.len()
        ),
        findings,
    )
}

/// A name property's text, when it is a literal or an `Fn::Sub`.
fn name_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("Fn::Sub").and_then(Value::as_str),
        _ => None,
    }
}

fn check_names(environment: &Environment, stacks: &[&RenderedStack]) -> Check {
    let prefix = format!("{}-{}-", environment.project, environment.environment);
    let mut findings = Vec::new();
    let mut checked = 0;
    for stack in stacks {
        let template = stack.template();
        for (id, resource) in resources(&template) {
            let kind = resource["Type"].as_str().unwrap_or_default();
            let properties = &resource["Properties"];
            let by_name = NAMED_BY_NAME.contains(&kind).then_some("Name");
            for property in NAME_PROPERTIES.iter().copied().chain(by_name) {
                let Some(text) = properties.get(property).and_then(name_text) else {
                    continue;
                };
                checked += 1;
                // Load balancer and target group names are capped at 32
                // characters and may be shortened; they keep the project.
                let shortened = property == "Name"
                    && kind.starts_with("AWS::ElasticLoadBalancingV2")
                    && text.starts_with(&environment.project[..environment.project.len().min(8)]);
                // Path-like names (`/ecs/acme-dev-api`, `arn:…`) keep the
                // prefix in a segment.
                let prefixed = text
                    .split(['/', ':'])
                    .any(|segment| segment.starts_with(&prefix));
                if prefixed || shortened {
                    continue;
                }
                findings.push(
                    Finding::error(format!(
                        "`{id}` ({kind}) is named `{text}`, not `{prefix}…`"
                    ))
                    .in_stack(stack.name.as_str())
                    .on(id)
                    .help(format!(
                        "name it with `ctx.name(\"…\")`, which gives `{prefix}…`: the prefix keeps projects and environments apart in one account"
                    )),
                );
            }
        }
    }
    Check::new(
        "names",
        format!(
            "{checked} physical name{} under `{prefix}`",
            if checked == 1 { "" } else { "s" }
        ),
        findings,
    )
}

/// Up to five items, then how many more.
fn some_of(items: &[String]) -> String {
    let shown = items.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    match items.len() {
        0..=5 => shown,
        n => format!("{shown} and {} more", n - 5),
    }
}

fn check_exports(environment: &Environment, stacks: &[&RenderedStack]) -> Check {
    let outputs: Vec<String> = stacks
        .iter()
        .flat_map(|s| s.exports.iter().map(|e| format!("`{}`", e.output)))
        .collect();
    let summary = if outputs.is_empty() {
        "exports nothing".to_owned()
    } else {
        format!(
            "{}, each named `{}-{}-STACK-OUTPUT`: {}",
            plural(outputs.len(), "export"),
            environment.project,
            environment.environment,
            some_of(&outputs)
        )
    };
    Check::new("exports", summary, Vec::new())
}

fn check_imports(stacks: &[&RenderedStack]) -> Check {
    let count = stacks.iter().map(|s| s.imports.len()).sum::<usize>();
    let mut from: Vec<String> = stacks
        .iter()
        .flat_map(|s| s.imports.iter().map(|i| format!("`{}`", i.stack)))
        .collect();
    from.sort();
    from.dedup();
    let summary = if count == 0 {
        "imports nothing".to_owned()
    } else {
        format!(
            "{}, each declared and named by convention, from {}",
            plural(count, "import"),
            some_of(&from)
        )
    };
    Check::new("imports", summary, Vec::new())
}

fn check_limits(stacks: &[&RenderedStack]) -> Check {
    let mut findings = Vec::new();
    let (mut largest, mut most_resources, mut most_outputs) = (0, 0, 0);
    for stack in stacks {
        let name = stack.name.as_str();
        let bytes = stack.compact().len();
        let resources = stack.resource_count();
        let outputs = stack
            .template()
            .get("Outputs")
            .and_then(Value::as_object)
            .map_or(0, serde_json::Map::len);
        largest = largest.max(bytes);
        most_resources = most_resources.max(resources);
        most_outputs = most_outputs.max(outputs);
        if bytes > TEMPLATE_URL_LIMIT {
            findings.push(
                Finding::error(format!(
                    "its template is {bytes} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT}"
                ))
                .in_stack(name)
                .help("split the stack type into several"),
            );
        } else if bytes > TEMPLATE_INLINE_LIMIT {
            findings.push(
                Finding::warning(format!("its template is {bytes} bytes, over the {TEMPLATE_INLINE_LIMIT} CloudFormation accepts inline"))
                    .in_stack(name)
                    .help("deploys pass it through the environment's template bucket; a smaller template deploys without one"),
            );
        }
        if resources > MAX_RESOURCES {
            findings.push(
                Finding::error(format!(
                    "its template has {resources} resources, over CloudFormation's {MAX_RESOURCES}"
                ))
                .in_stack(name)
                .help("split the stack type into several"),
            );
        }
        if outputs > MAX_OUTPUTS {
            findings.push(
                Finding::error(format!(
                    "its template has {outputs} outputs, over CloudFormation's {MAX_OUTPUTS}"
                ))
                .in_stack(name)
                .help("export only what other stacks import"),
            );
        }
    }
    Check::new(
        "limits",
        format!(
            "largest template {largest} of {TEMPLATE_INLINE_LIMIT} bytes inline; {most_resources} of {MAX_RESOURCES} resources; {most_outputs} of {MAX_OUTPUTS} outputs"
        ),
        findings,
    )
}

#[cfg(test)]
mod tests {

    #[test]
    fn tag_properties_come_from_the_sdks_table() {
        assert_eq!(tags_property("AWS::Cognito::UserPool"), "UserPoolTags");
        assert_eq!(tags_property("AWS::Route53::HostedZone"), "HostedZoneTags");
        assert_eq!(tags_property("AWS::SSM::Parameter"), "Tags");
        assert_eq!(tags_property("AWS::SQS::Queue"), "Tags");
    }

    use serde_json::json;

    use super::*;

    #[test]
    fn versions_are_major_minor_patch_with_optional_pre_release() {
        for (version, ok) in [
            ("0.1.0", true),
            ("1.20.3-beta.1", true),
            ("1.0.0+build", true),
            ("0.1", false),
            ("v1.0.0", false),
            ("", false),
        ] {
            assert_eq!(is_semver(version), ok, "{version}");
        }
    }

    #[test]
    fn schemas_are_objects_refusing_unknown_keys_with_local_references() {
        let messages = |schema: Value| -> Vec<(Status, String)> {
            schema_problems(&schema)
                .into_iter()
                .map(|f| (f.severity, f.message))
                .collect()
        };
        assert_eq!(
            messages(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": { "mode": { "$ref": "#/$defs/Mode" } },
                "$defs": { "Mode": { "enum": ["a", "b"] } },
            })),
            []
        );
        assert_eq!(
            messages(json!(true)),
            [(
                Status::Warning,
                "its config schema accepts anything".to_owned()
            )]
        );
        assert_eq!(
            messages(json!({ "type": "array", "additionalProperties": false })),
            [(
                Status::Error,
                "its config schema is of type \"array\", but a stack's config is a table"
                    .to_owned()
            )]
        );
        assert_eq!(
            messages(json!({
                "additionalProperties": false,
                "properties": { "x": { "$ref": "#/$defs/Missing" } },
            })),
            [(
                Status::Error,
                "its config schema refers to `#/$defs/Missing`, which it does not define"
                    .to_owned()
            )]
        );
        assert_eq!(messages(json!({ "type": "object" })).len(), 1);
    }

    #[test]
    fn a_check_takes_the_status_of_its_worst_finding_errors_first() {
        let check = Check::new("tags", "", vec![Finding::warning("w"), Finding::error("e")]);
        assert_eq!(check.status, Status::Error);
        assert_eq!(check.findings[0].message, "e");
        assert_eq!(Check::new("tags", "", Vec::new()).status, Status::Ok);
    }

    #[test]
    fn pins_a_module_outside_the_repository_under_modules() {
        let repo = tempfile::tempdir().expect("a temp dir");
        let elsewhere = tempfile::tempdir().expect("a temp dir");
        let file = elsewhere.path().join("x.wasm");
        std::fs::write(&file, b"x").expect("write");
        let (pin, copy_to) = pin_lines(repo.path(), &file, "cognito", "ab12");
        assert_eq!(
            pin,
            "[modules.cognito]\npath = \"modules/cognito.wasm\"\nsha256 = \"ab12\"\n"
        );
        assert_eq!(copy_to.as_deref(), Some("modules/cognito.wasm"));
    }
}
