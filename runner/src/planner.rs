//! Plans of a repository: both sides read from git (or the working tree),
//! rendered, and compared. `strata plan`, `strata apply` and `strata serve`
//! share this.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;

use serde::Deserialize;

use crate::config::Diagnostic;
use crate::host::Host;
use crate::plan::{self, EnvironmentPlan, Plan, Revision};
use crate::render::{RenderedEnvironment, render_environment, render_environment_beside};
use crate::repo::{Repository, Side};
use crate::workspace::{ENVIRONMENTS_DIR, Files, Workspace};

/// What to plan.
#[derive(Debug, Clone, Default)]
pub struct Request<'a> {
    /// Environments to plan; empty: those the change touches.
    pub envs: &'a [String],
    /// The base revision; `None`: the merge-base with the default branch;
    /// `"none"`: nothing.
    pub base: Option<&'a str>,
    /// The head revision; `None`: the working tree (`HEAD` when bare).
    pub head: Option<&'a str>,
}

/// A plan, with what it was made from.
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Warnings to show.
    pub warnings: Vec<Diagnostic>,
    /// Each planned environment as rendered at the head (absent when removed there).
    pub heads: std::collections::BTreeMap<String, RenderedEnvironment>,
    /// The head commit, short (the working tree's HEAD when planning it).
    pub head_short: Option<String>,
}

/// A side of the plan, loaded.
struct Loaded {
    revision: Revision,
    workspace: Option<Workspace>,
}

/// Plan `request` in the repository at `root`.
pub fn plan(host: &Host, root: &Path, request: &Request<'_>) -> Result<Planned, Vec<Diagnostic>> {
    let repository = Repository::discover(root).map_err(|e| {
        vec![Diagnostic::from(e).with_help(
            "`strata plan` compares two revisions of a git repository; point `--repo` at a clone",
        )]
    })?;
    let git_root = repository
        .workdir()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| root.to_path_buf());

    // The head side.
    let head_side = match &request.head {
        Some(spec) => Side::Commit(
            repository
                .resolve(spec)
                .map_err(|e| vec![Diagnostic::from(e)])?,
        ),
        None if repository.is_bare() => {
            match repository.head().map_err(|e| vec![Diagnostic::from(e)])? {
                Some(head) => Side::Commit(head),
                None => {
                    return Err(vec![
                        Diagnostic::error("the repository has no commits yet")
                            .with_help("commit the environment files first"),
                    ]);
                }
            }
        }
        None => Side::WorkingTree,
    };
    // The base side.
    let base_revision = match request.base {
        Some("none") => None,
        Some(spec) => Some(
            repository
                .resolve(spec)
                .map_err(|e| vec![Diagnostic::from(e)])?,
        ),
        None => repository
            .default_base()
            .map_err(|e| vec![Diagnostic::from(e)])?,
    };
    // Planning from nothing is a choice (`--base none`), not a surprise.
    let no_base = (request.base.is_none() && base_revision.is_none()).then(|| {
        Diagnostic::warning(
            "no base to compare with: the repository has no default branch (`main`, `master` or `origin/HEAD`) sharing history with this one, so the plan starts from nothing and every stack shows as new",
        )
        .with_help("name the base with `--base REV` (e.g. `--base origin/develop`), or `--base none` to plan from nothing on purpose")
    });

    let head = load_side(&repository, &git_root, &head_side)?;
    let base = match &base_revision {
        Some(revision) => load_side(&repository, &git_root, &Side::Commit(revision.clone()))?,
        None => Loaded {
            revision: Revision {
                label: "nothing".into(),
                commit: None,
            },
            workspace: None,
        },
    };

    // Which environments.
    let names: Vec<String> = if request.envs.is_empty() {
        affected_environments(
            &repository,
            base_revision.as_ref(),
            &head_side,
            &base,
            &head,
        )
        .map_err(|e| vec![e])?
    } else {
        for name in request.envs {
            let exists = |side: &Loaded| {
                side.workspace
                    .as_ref()
                    .is_some_and(|w| w.has_environment(name))
            };
            if !exists(&head) && !exists(&base) {
                let ws = head.workspace.as_ref().or(base.workspace.as_ref());
                let known = ws.map(Workspace::environment_names).unwrap_or_default();
                let refs: Vec<&str> = known.iter().map(String::as_str).collect();
                return Err(vec![
                    Diagnostic::error(format!(
                        "no environment `{name}` at either side of the plan"
                    ))
                    .with_help_opt(crate::config::suggest::help_for(
                        name,
                        &refs,
                        "environments",
                    )),
                ]);
            }
        }
        request.envs.to_vec()
    };

    let mut warnings: Vec<Diagnostic> = no_base.into_iter().collect();
    let mut problems = Vec::new();
    let mut environments = Vec::new();
    let mut heads = std::collections::BTreeMap::new();
    for name in &names {
        let head_env = render_side(
            host,
            head.workspace.as_ref(),
            name,
            true,
            None,
            &mut problems,
            &mut warnings,
        );
        let base_env = render_side(
            host,
            base.workspace.as_ref(),
            name,
            false,
            head_env.as_ref(),
            &mut problems,
            &mut warnings,
        );
        let mut environment = plan::plan_environment(name, base_env.as_ref(), head_env.as_ref());
        // What the policies find at the head travels with the plan; a
        // policy that cannot run fails it.
        if let (Some(workspace), Some(head_env)) = (head.workspace.as_ref(), head_env.as_ref()) {
            let outcome =
                crate::policy::check(host, &workspace.registry, &workspace.repo, head_env);
            problems.extend(outcome.problems);
            environment.findings = outcome.findings;
        }
        environments.push(environment);
        if let Some(head_env) = head_env {
            heads.insert(name.to_string(), head_env);
        }
    }
    if let Some(workspace) = &head.workspace {
        problems.extend(crate::policy::check_settings(
            host,
            &workspace.registry,
            &workspace.repo,
            &workspace.environment_names(),
        ));
    }
    if problems.iter().any(Diagnostic::is_error) {
        problems.extend(warnings);
        crate::config::diagnostic::sort(&mut problems);
        return Err(problems);
    }
    let head_short = match &head_side {
        Side::Commit(revision) => Some(revision.short.clone()),
        Side::WorkingTree => repository.head().ok().flatten().map(|r| r.short),
    };
    Ok(Planned {
        plan: Plan {
            base: base.revision,
            head: head.revision,
            environments,
        },
        warnings,
        heads,
        head_short,
    })
}

fn load_side(
    repository: &Repository,
    root: &std::path::Path,
    side: &Side,
) -> Result<Loaded, Vec<Diagnostic>> {
    let revision = match side {
        Side::Commit(revision) => Revision {
            label: revision.short.clone(),
            commit: Some(revision.id.clone()),
        },
        Side::WorkingTree => Revision {
            label: "working tree".into(),
            commit: None,
        },
    };
    let files = match side {
        Side::WorkingTree => Files::Disk(root.to_path_buf()),
        Side::Commit(_) => Files::Git(Mutex::new(
            repository
                .snapshot(side)
                .map_err(|e| vec![Diagnostic::from(e)])?,
        )),
    };
    let workspace = Workspace::from_files(root, files).map_err(|mut d| {
        let label = revision.label.clone();
        d.iter_mut()
            .for_each(|d| d.message = format!("{} (at {label})", d.message));
        d
    })?;
    Ok(Loaded {
        revision,
        workspace: Some(workspace),
    })
}

/// Environments whose file changed, plus those using a declared module whose
/// bytes changed between the sides; every environment when a policy did.
fn affected_environments(
    repository: &Repository,
    base_revision: Option<&crate::repo::Revision>,
    head_side: &Side,
    base: &Loaded,
    head: &Loaded,
) -> Result<Vec<String>, Diagnostic> {
    let mut names = BTreeSet::new();
    for path in repository
        .changed_paths(base_revision, head_side)
        .map_err(Diagnostic::from)?
    {
        if let Some(name) = path
            .strip_prefix(&format!("{ENVIRONMENTS_DIR}/"))
            .and_then(|p| p.strip_suffix(".toml"))
            && !name.contains('/')
        {
            names.insert(name.to_owned());
        }
    }
    // Stack types whose module differs between the sides.
    let changed_types: BTreeSet<String> = match (&base.workspace, &head.workspace) {
        (Some(b), Some(h)) => h
            .registry
            .iter()
            .filter(|m| {
                b.registry
                    .get(&m.name)
                    .is_none_or(|old| old.sha256 != m.sha256)
            })
            .map(|m| m.name.clone())
            .collect(),
        _ => BTreeSet::new(),
    };
    // A policy that differs between the sides reads every environment.
    let policies_changed = match (&base.workspace, &head.workspace) {
        (Some(b), Some(h)) => {
            let digests = |w: &Workspace| -> Vec<(String, String)> {
                w.registry
                    .policies()
                    .map(|p| (p.name.clone(), p.sha256.clone()))
                    .collect()
            };
            digests(b) != digests(h)
        }
        _ => false,
    };
    if policies_changed && let Some(workspace) = &head.workspace {
        names.extend(workspace.environment_names());
    }
    if let Some(workspace) = &head.workspace {
        for name in workspace.environment_names() {
            if names.contains(&name) || changed_types.is_empty() {
                continue;
            }
            if let Ok((environment, _)) = workspace.environment(&name)
                && environment
                    .stacks
                    .values()
                    .any(|s| changed_types.contains(&s.kind))
            {
                names.insert(name);
            }
        }
    }
    Ok(names.into_iter().collect())
}

/// Render environment `name` at one side; `None` when it does not exist there.
/// The base side shares the head's stacks whose inputs did not change.
fn render_side(
    host: &Host,
    workspace: Option<&Workspace>,
    name: &str,
    is_head: bool,
    head: Option<&RenderedEnvironment>,
    problems: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Option<RenderedEnvironment> {
    let workspace = workspace?;
    if !workspace.has_environment(name) {
        return None;
    }
    let (environment, loaded_warnings) = match workspace.environment(name) {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            if is_head {
                problems.extend(diagnostics);
            } else {
                warnings.push(
                    Diagnostic::warning(format!(
                        "environment `{name}` is invalid at the base side, so it is planned against nothing: every stack shows as new, whether it exists or not"
                    ))
                    .with_help("compare with a base where the file is valid (`--base REV`); once this change lands, plans compare with it again"),
                );
            }
            return None;
        }
    };
    if is_head {
        warnings.extend(loaded_warnings);
    }
    let outcome = match head {
        Some(head) => render_environment_beside(host, &workspace.registry, &environment, head),
        None => render_environment(host, &workspace.registry, &environment),
    };
    // Cross-stack problems (a missing export) become plan errors; a stack
    // that did not render at all stops the plan.
    let failed_stacks = outcome.partial.environment.stacks.len() != outcome.rendered_stacks.len();
    if is_head {
        for diagnostic in outcome.diagnostics {
            if !diagnostic.is_error() {
                warnings.push(diagnostic);
            } else if failed_stacks || !diagnostic.message.contains(" imports ") {
                problems.push(diagnostic);
            }
        }
    }
    Some(outcome.partial)
}

/// The parts of a saved plan (`strata.plan/v1`) an apply checks.
#[derive(Debug, Deserialize)]
pub struct PlanFile {
    /// `strata.plan/v1`.
    pub format: String,
    /// The base side.
    pub base: FileRevision,
    /// The head side.
    pub head: FileRevision,
    /// The environments planned.
    pub environments: Vec<FileEnvironment>,
}

/// A side of a plan file.
#[derive(Debug, Deserialize)]
pub struct FileRevision {
    /// How it is shown.
    pub label: String,
    /// The commit, when it is one.
    pub commit: Option<String>,
}

/// An environment of a plan file.
#[derive(Debug, Deserialize)]
pub struct FileEnvironment {
    /// Its name.
    pub name: String,
    /// Its stacks.
    pub stacks: Vec<FileStack>,
}

impl FileEnvironment {
    /// The change set reviewed for `stack` (`strata plan --cloud`), if any.
    pub fn reviewed_change_set(&self, stack: &str) -> Option<String> {
        self.stacks
            .iter()
            .find(|s| s.name == stack)
            .and_then(|s| s.cloud.as_ref())
            .and_then(|c| c.change_set.clone())
    }
}

/// A stack of a plan file.
#[derive(Debug, Deserialize)]
pub struct FileStack {
    /// Its name.
    pub name: String,
    /// Its template's hash at the head.
    pub head_sha256: Option<String>,
    /// What CloudFormation said, with `--cloud`.
    #[serde(default)]
    pub cloud: Option<FileCloud>,
}

/// The cloud part of a stack of a plan file.
#[derive(Debug, Deserialize)]
pub struct FileCloud {
    /// The reviewed change set.
    pub change_set: Option<String>,
}

/// Refuse a plan whose templates are not what would deploy now.
pub fn check_matches(
    planned: &FileEnvironment,
    now: &EnvironmentPlan,
    env: &str,
) -> Result<(), Vec<Diagnostic>> {
    let mut differences = Vec::new();
    for stack in &now.stacks {
        let before = planned.stacks.iter().find(|s| s.name == stack.name);
        match before {
            None => differences.push(format!("`{}` is not in the plan", stack.name)),
            Some(before) if before.head_sha256 != stack.head_sha256 => {
                let hash = |h: &Option<String>| {
                    h.as_deref()
                        .map_or("none".to_owned(), |h| h.get(..12).unwrap_or(h).to_owned())
                };
                differences.push(format!(
                    "`{}`'s template changed (planned {}, now {})",
                    stack.name,
                    hash(&before.head_sha256),
                    hash(&stack.head_sha256)
                ));
            }
            Some(_) => {}
        }
    }
    for stack in &planned.stacks {
        if !now.stacks.iter().any(|s| s.name == stack.name) {
            differences.push(format!("`{}` was planned but is gone", stack.name));
        }
    }
    if differences.is_empty() {
        return Ok(());
    }
    Err(vec![
        Diagnostic::error(format!(
            "the plan no longer matches what would deploy to `{env}`: {}",
            differences.join("; ")
        ))
        .with_help(format!(
            "plan again and review it: `strata plan --env {env} --out plan.json`"
        )),
    ])
}

/// The parameters a code-only deploy sets, per stack: every parameter of the
/// inputs' stacks whose name matches an input's patterns, set to its value.
pub fn parameter_overrides(
    rendered: &crate::render::RenderedEnvironment,
    overrides: &[crate::workflow::Override],
    filter: &crate::workflow::StackFilter,
) -> Vec<(String, Vec<crate::cloud::Parameter>)> {
    let mut per_stack: Vec<(String, Vec<crate::cloud::Parameter>)> = Vec::new();
    for stack in rendered.stacks.values() {
        let name = stack.name.to_string();
        if !filter.includes(&name) {
            continue;
        }
        let template = stack.template();
        let Some(declared) = template.get("Parameters").and_then(|p| p.as_object()) else {
            continue;
        };
        let mut parameters = Vec::new();
        for key in declared.keys() {
            let value = overrides.iter().find(|o| {
                o.stacks.iter().any(|s| s == &name)
                    && o.parameters
                        .iter()
                        .any(|pattern| crate::workflow::parameter_matches(pattern, key))
            });
            if let Some(value) = value {
                parameters.push(crate::cloud::Parameter {
                    key: key.clone(),
                    value: crate::cloud::ParameterValue::Value(value.value.clone()),
                });
            }
        }
        if !parameters.is_empty() {
            per_stack.push((name, parameters));
        }
    }
    per_stack
}
