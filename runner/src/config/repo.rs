//! `strata.toml` at the root of a config repository: modules the repository
//! adds (each pinned by sha256) and sandbox limits. The file is optional.

use std::ops::Range;
use std::sync::Arc;

use toml::de::DeTable;

use super::diagnostic::{Diagnostic, SourceFile};
use super::fields::{At, Fields};

/// Sandbox limits for module renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxSettings {
    /// Linear memory a module may grow to, in MiB.
    pub memory_mib: u64,
    /// Wall-clock budget of one render, in milliseconds.
    pub timeout_ms: u64,
    /// Largest template a module may return, in MiB.
    pub output_mib: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            timeout_ms: 2_000,
            output_mib: 4,
        }
    }
}

/// A module the repository declares: `[modules.NAME]`.
#[derive(Debug, Clone)]
pub struct DeclaredModule {
    /// The stack type it provides.
    pub name: At<String>,
    /// Path of the `.wasm` component, relative to the repository root.
    pub path: At<String>,
    /// Expected sha256 of the file, lowercase hex.
    pub sha256: At<String>,
    /// The `[modules.NAME]` table.
    pub span: Range<usize>,
}

/// The repository's `strata.toml`.
#[derive(Debug, Clone, Default)]
pub struct RepoConfig {
    /// The file, when there is one.
    pub source: Option<Arc<SourceFile>>,
    /// Declared modules.
    pub modules: Vec<DeclaredModule>,
    /// Sandbox limits.
    pub sandbox: SandboxSettings,
}

/// The file name.
pub const FILE_NAME: &str = "strata.toml";

impl RepoConfig {
    /// Parse the text of a `strata.toml`.
    pub fn parse(source: Arc<SourceFile>) -> Result<Self, Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let document = DeTable::parse(&source.text)
            .map_err(|e| vec![super::raw::syntax_error(&source, &e)])?;
        let mut fields = Fields::new(&source, document.get_ref(), 0..0, format!("`{FILE_NAME}`"));
        let mut config = RepoConfig {
            source: Some(Arc::clone(&source)),
            ..Self::default()
        };
        if let Some((modules, _)) = fields.table("modules", &mut diagnostics) {
            for (name, table) in modules.iter() {
                let Some(inner) = table.get_ref().as_table() else {
                    diagnostics.push(
                        Diagnostic::error(format!(
                            "module `{}` must be a table with `path` and `sha256`",
                            name.get_ref()
                        ))
                        .at(&source, table.span(), "expected a table"),
                    );
                    continue;
                };
                let what = format!("module `{}`", name.get_ref());
                let mut module = Fields::new(&source, inner, table.span(), what);
                let path = module.required_string(
                    "path",
                    "add `path = \"modules/NAME.wasm\"`",
                    &mut diagnostics,
                );
                let sha256 = module.required_string(
                    "sha256",
                    "add `sha256 = \"...\"` (print it with `sha256sum FILE`)",
                    &mut diagnostics,
                );
                module.deny_unknown(&["path", "sha256"], &mut diagnostics);
                if let Some(digest) = &sha256 {
                    let d = digest.get_ref();
                    if d.len() != 64
                        || !d
                            .chars()
                            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
                    {
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "`sha256` of module `{}` is not a sha256 digest",
                                name.get_ref()
                            ))
                            .at(
                                &source,
                                digest.span(),
                                "expected 64 lowercase hex digits",
                            ),
                        );
                    }
                }
                if let (Some(path), Some(sha256)) = (path, sha256) {
                    config.modules.push(DeclaredModule {
                        name: toml::Spanned::new(name.span(), name.get_ref().to_string()),
                        path,
                        sha256,
                        span: table.span(),
                    });
                }
            }
        }
        if let Some((sandbox, span)) = fields.table("sandbox", &mut diagnostics) {
            let mut limits = Fields::new(&source, sandbox, span, "`[sandbox]`");
            let mut read = |key: &str,
                            range: std::ops::RangeInclusive<u64>,
                            target: &mut u64,
                            diagnostics: &mut Vec<Diagnostic>| {
                if let Some(value) = limits.integer(key, diagnostics) {
                    if range.contains(value.get_ref()) {
                        *target = *value.get_ref();
                    } else {
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "`{key}` must be between {} and {}, got {}",
                                range.start(),
                                range.end(),
                                value.get_ref()
                            ))
                            .at(&source, value.span(), "out of range"),
                        );
                    }
                }
            };
            read(
                "memory_mib",
                1..=4096,
                &mut config.sandbox.memory_mib,
                &mut diagnostics,
            );
            read(
                "timeout_ms",
                10..=600_000,
                &mut config.sandbox.timeout_ms,
                &mut diagnostics,
            );
            read(
                "output_mib",
                1..=1024,
                &mut config.sandbox.output_mib,
                &mut diagnostics,
            );
            limits.deny_unknown(
                &["memory_mib", "timeout_ms", "output_mib"],
                &mut diagnostics,
            );
        }
        // `[server]` configures `strata serve`, which reads it itself.
        fields.deny_unknown(&["modules", "sandbox", "server"], &mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            Err(diagnostics)
        } else {
            Ok(config)
        }
    }
}
