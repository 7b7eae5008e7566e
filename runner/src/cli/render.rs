//! `strata render`: write environments' templates and manifests.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::{Context, Exit};
use crate::config::Diagnostic;
use crate::render::{Export, Import, ModuleRef, RenderedEnvironment};

/// Arguments of `strata render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// An environment to render (`environments/NAME.toml`); repeat for more. Default: all.
    #[arg(long = "env", value_name = "NAME", value_parser = super::environment_name)]
    pub envs: Vec<String>,
    /// Directory to write into (created if missing): the templates and `manifest.json` of a
    /// single `--env` go straight into DIR, several environments into DIR/NAME/.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Run `strata render`: every environment renders (in parallel) before
/// anything is written, and nothing is written unless all of them are valid.
pub fn run(context: &Context, args: &Args) -> Exit {
    let names = if args.envs.is_empty() {
        context.workspace.environment_names()
    } else {
        args.envs.clone()
    };
    if names.is_empty() {
        context.print(&[Diagnostic::error(
            "no environments to render: `environments/` holds no `*.toml` files",
        )
        .with_help("create `environments/dev.toml`, or point `--repo` at the config repository")]);
        return Exit::BadInput;
    }
    let Ok(host) = context.host() else {
        return Exit::Failed;
    };
    let results: Vec<_> = names
        .par_iter()
        .map(|name| (name, context.render(&host, name)))
        .collect();

    let mut exit = Exit::Ok;
    let mut rendered_all = Vec::new();
    for (name, (rendered, diagnostics)) in results {
        context.print(&diagnostics);
        match rendered {
            Some(rendered) => rendered_all.push(rendered),
            None => {
                context.print_summary(
                    &format!("environment `{name}` did not render"),
                    &diagnostics,
                );
                exit = exit.max(Exit::from_diagnostics(&diagnostics).max(Exit::BadInput));
            }
        }
    }
    if exit != Exit::Ok {
        let _ = writeln!(std::io::stderr(), "error: nothing was written");
        return exit;
    }

    let single = args.envs.len() == 1;
    let mut stdout = std::io::stdout().lock();
    for rendered in &rendered_all {
        let out = if single {
            args.out.clone()
        } else {
            args.out.join(&rendered.environment.name)
        };
        match write(rendered, &out) {
            Ok(count) => {
                let _ = writeln!(
                    stdout,
                    "wrote {count} template{} and manifest.json to {}",
                    if count == 1 { "" } else { "s" },
                    out.display(),
                );
                for wave in &rendered.waves {
                    let stacks: Vec<String> = wave
                        .stacks
                        .iter()
                        .map(|s| {
                            let resources = rendered
                                .stacks
                                .get(s.as_str())
                                .map_or(0, |r| r.resource_count());
                            format!(
                                "{s} ({resources} resource{})",
                                if resources == 1 { "" } else { "s" }
                            )
                        })
                        .collect();
                    let _ = writeln!(stdout, "  wave {}: {}", wave.number, stacks.join(", "));
                }
            }
            Err(diagnostic) => {
                context.print(std::slice::from_ref(&diagnostic));
                return Exit::Failed;
            }
        }
    }
    Exit::Ok
}

/// `manifest.json`: what was rendered, in what order, by which modules.
#[derive(Debug, Serialize)]
pub struct Manifest<'a> {
    /// Manifest format version.
    pub format: u32,
    /// Strata's version.
    pub strata: &'static str,
    /// The environment's file stem.
    pub environment: &'a str,
    /// The environment as named in resources.
    pub name: &'a str,
    /// Naming prefix.
    pub project: &'a str,
    /// AWS region.
    pub region: &'a str,
    /// AWS account, when pinned.
    pub account: Option<&'a str>,
    /// Stack names per wave, in deploy order.
    pub waves: Vec<Vec<&'a str>>,
    /// Per stack.
    pub stacks: BTreeMap<&'a str, ManifestStack<'a>>,
}

/// One stack in `manifest.json`.
#[derive(Debug, Serialize)]
pub struct ManifestStack<'a> {
    /// Stack type.
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// CloudFormation stack name.
    pub stack_name: String,
    /// Template file, relative to the manifest.
    pub template: String,
    /// sha256 of the template file.
    pub template_sha256: &'a str,
    /// Size of the template file.
    pub template_bytes: usize,
    /// Resources in the template.
    pub resources: usize,
    /// The wave it deploys in (1-based).
    pub wave: usize,
    /// The module that rendered it.
    pub module: &'a ModuleRef,
    /// `depends_on` from the file.
    pub depends_on: Vec<&'a str>,
    /// What it exports.
    pub exports: &'a [Export],
    /// What it imports.
    pub imports: &'a [Import],
}

/// Build the manifest of a rendered environment.
pub fn manifest(rendered: &RenderedEnvironment) -> Manifest<'_> {
    let environment = &rendered.environment;
    let wave_of = |stack: &str| {
        rendered
            .waves
            .iter()
            .find(|w| w.stacks.iter().any(|s| s.as_str() == stack))
            .map_or(0, |w| w.number)
    };
    Manifest {
        format: 1,
        strata: env!("CARGO_PKG_VERSION"),
        environment: &environment.name,
        name: &environment.environment,
        project: &environment.project,
        region: &environment.region,
        account: environment.account.as_deref(),
        waves: rendered
            .waves
            .iter()
            .map(|w| w.stacks.iter().map(|s| s.as_str()).collect())
            .collect(),
        stacks: rendered
            .stacks
            .iter()
            .map(|(name, stack)| {
                let entry = ManifestStack {
                    kind: &stack.kind,
                    stack_name: rendered.stack_name(name.as_str()),
                    template: template_file(name.as_str()),
                    template_sha256: &stack.sha256,
                    template_bytes: stack.text_bytes,
                    resources: stack.resource_count(),
                    wave: wave_of(name.as_str()),
                    module: &stack.module,
                    depends_on: stack.depends_on.iter().map(|d| d.as_str()).collect(),
                    exports: &stack.exports,
                    imports: &stack.imports,
                };
                (name.as_str(), entry)
            })
            .collect(),
    }
}

fn template_file(stack: &str) -> String {
    format!("{stack}.template.json")
}

/// Write templates and manifest into `out`, removing templates of stacks
/// that no longer exist. Returns the number of templates written.
pub fn write(rendered: &RenderedEnvironment, out: &Path) -> Result<usize, Diagnostic> {
    let fail = |what: String, error: std::io::Error| {
        Diagnostic::error(format!("{what}: {error}")).as_failure()
    };
    std::fs::create_dir_all(out)
        .map_err(|e| fail(format!("cannot create `{}`", out.display()), e))?;
    let keep: Vec<String> = rendered
        .stacks
        .keys()
        .map(|s| template_file(s.as_str()))
        .collect();
    let entries =
        std::fs::read_dir(out).map_err(|e| fail(format!("cannot list `{}`", out.display()), e))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.ends_with(".template.json") && !keep.contains(&file) {
            std::fs::remove_file(entry.path()).map_err(|e| {
                fail(
                    format!("cannot remove stale `{}`", entry.path().display()),
                    e,
                )
            })?;
        }
    }
    for (name, stack) in &rendered.stacks {
        let path = out.join(template_file(name.as_str()));
        write_file(&path, stack.text().as_bytes())
            .map_err(|e| fail(format!("cannot write `{}`", path.display()), e))?;
    }
    let mut text = serde_json::to_string_pretty(&manifest(rendered)).unwrap_or_default();
    text.push('\n');
    let path = out.join("manifest.json");
    write_file(&path, text.as_bytes())
        .map_err(|e| fail(format!("cannot write `{}`", path.display()), e))?;
    Ok(rendered.stacks.len())
}

/// Write through a temporary file and a rename, so a reader never sees half a file.
fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
