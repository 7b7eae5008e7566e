//! Diagnostics as users read them: each `ui/*.toml` is an environment file
//! with mistakes in it; its snapshot is the report `strata validate` prints
//! (plain style). Cases render through the real first-party modules, so
//! module-reported problems are covered too.

use std::sync::{Arc, OnceLock};

use strata::config::diagnostic::{Report, Style};
use strata::config::{self, SourceFile};
use strata::host::{Host, Limits};
use strata::modules::Registry;
use strata::render;

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
