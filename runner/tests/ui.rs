//! Diagnostics as users read them: each `ui/*.toml` is an environment file
//! with mistakes in it; its snapshot is the report `strata validate` prints
//! (plain style). Cases render through the real first-party modules, so
//! module-reported problems are covered too. Each `ui/workflows/*.toml` is a
//! workflow file with mistakes, checked against the repository's own
//! environments.

use std::sync::{Arc, OnceLock};

use strata::config::diagnostic::{Report, Style};
use strata::config::{self, SourceFile};
use strata::host::{Host, Limits};
use strata::modules::Registry;
use strata::render;
use strata::workflow::{Known, Workflows};
use strata::workspace::Workspace;

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
    HOST.get_or_init(|| Host::new(Limits::default(), Some(cache)).expect("host starts"))
}

/// Validate and render an environment file, and return the report.
fn report(name: &str, text: String) -> String {
    let registry = Registry::embedded();
    let types = registry.types();
    let source: Arc<SourceFile> = SourceFile::new(format!("environments/{name}.toml"), text);
    // Every case is environment `dev`; the case's name labels the file.
    let diagnostics = match config::parse_environment("dev", source, &types) {
        Err(diagnostics) => diagnostics,
        Ok((environment, mut warnings)) => {
            let outcome = render::render_environment(host(), &registry, &environment);
            warnings.extend(outcome.diagnostics);
            config::diagnostic::sort(&mut warnings);
            warnings
        }
    };
    assert!(
        !diagnostics.is_empty(),
        "ui case `{name}` produced no diagnostic"
    );
    Report::new(Style::Plain).render_all(&diagnostics)
}

#[test]
fn diagnostics_read_well() {
    insta::glob!("ui/*.toml", |path| {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let text = std::fs::read_to_string(path).expect("read case");
        insta::assert_snapshot!(report(name, text));
    });
}

/// Load a workflow file against the repository's environments (`dev`,
/// `staging`, `prod`), and return the report.
fn workflow_report(name: &str, text: String) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let workspace = Workspace::load(&root).expect("the repository loads");
    let environments = workspace.environment_infos();
    let known = Known {
        default_branch: "main",
        environments: &environments,
    };
    // Workflow names take `-`, not `_`: the case's name labels the file.
    let path = format!("workflows/{}.toml", name.replace('_', "-"));
    let diagnostics = match Workflows::load(&[SourceFile::new(path, text)], &known) {
        Err(diagnostics) => diagnostics,
        Ok((_, warnings)) => warnings,
    };
    assert!(
        !diagnostics.is_empty(),
        "ui case `workflows/{name}` produced no diagnostic"
    );
    Report::new(Style::Plain).render_all(&diagnostics)
}

#[test]
fn workflow_diagnostics_read_well() {
    insta::glob!("ui/workflows/*.toml", |path| {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name");
        let text = std::fs::read_to_string(path).expect("read case");
        insta::assert_snapshot!(workflow_report(name, text));
    });
}
