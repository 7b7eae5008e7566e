//! `strata.toml` at the root of a config repository: modules the repository
//! adds (each pinned by sha256, from a path in the repository or a URL) and
//! sandbox limits. The file is optional.

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

/// Where a declared module's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pin {
    /// `path = "modules/NAME.wasm"`: a file of the repository.
    Path,
    /// `url = "https://…"`: downloaded once into the cache, verified, then
    /// read from the cache.
    Url,
}

/// A module the repository declares: `[modules.NAME]`.
#[derive(Debug, Clone)]
pub struct DeclaredModule {
    /// The stack type it provides.
    pub name: At<String>,
    /// Whether `path` is a path or a URL.
    pub pin: Pin,
    /// Path of the `.wasm` component (relative to the repository root), or
    /// its URL.
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

/// Whether `url` may be downloaded from: `https://`, or `http://` to the
/// local machine (a test server, a local mirror).
fn url_rule(url: &str) -> Result<(), &'static str> {
    let host_of = |rest: &str| {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h)
            .to_owned()
    };
    if let Some(rest) = url.strip_prefix("https://") {
        if host_of(rest).is_empty() {
            return Err("has no host");
        }
        return Ok(());
    }
    if let Some(rest) = url.strip_prefix("http://") {
        return match host_of(rest).as_str() {
            "127.0.0.1" | "localhost" | "[::1]" => Ok(()),
            _ => Err(
                "must use `https://`: a module fetched over plain HTTP could be swapped on the way (the digest would refuse it, but say so early)",
            ),
        };
    }
    Err("must be an `https://` URL")
}

impl RepoConfig {
    /// Parse the text of a `strata.toml`.
    pub fn parse(source: Arc<SourceFile>) -> Result<Self, Vec<Diagnostic>> {
        match Self::parse_lenient(source) {
            Ok((config, problems)) if problems.is_empty() => Ok(config),
            Ok((_, problems)) => Err(problems),
            Err(diagnostics) => Err(diagnostics),
        }
    }

    /// Parse a `strata.toml`, keeping going past problems that leave a
    /// usable configuration: a bad `[sandbox]` value falls back to its
    /// default and is returned beside the configuration, so `validate` can
    /// still report every environment file's errors. Anything else wrong is
    /// `Err`.
    pub fn parse_lenient(
        source: Arc<SourceFile>,
    ) -> Result<(Self, Vec<Diagnostic>), Vec<Diagnostic>> {
        let mut diagnostics = Vec::new();
        let mut problems = Vec::new();
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
                            "module `{}` must be a table with `path` (or `url`) and `sha256`",
                            name.get_ref()
                        ))
                        .at(&source, table.span(), "expected a table"),
                    );
                    continue;
                };
                let what = format!("module `{}`", name.get_ref());
                let mut module = Fields::new(&source, inner, table.span(), what);
                let path = module.string("path", &mut diagnostics);
                let url = module.string("url", &mut diagnostics);
                let located = match (path, url) {
                    (Some(path), None) => Some((Pin::Path, path)),
                    (None, Some(url)) => {
                        let text = url.get_ref();
                        match url_rule(text) {
                            Ok(()) => Some((Pin::Url, url)),
                            Err(rule) => {
                                diagnostics.push(
                                    Diagnostic::error(format!(
                                        "`url` of module `{}` {rule}",
                                        name.get_ref()
                                    ))
                                    .at(&source, url.span(), "not a download URL")
                                    .with_help("use `https://…` (plain `http://` only on 127.0.0.1 or localhost)"),
                                );
                                None
                            }
                        }
                    }
                    (Some(_), Some(url)) => {
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "module `{}` has both `path` and `url`",
                                name.get_ref()
                            ))
                            .at(&source, url.span(), "one of the two")
                            .with_help(
                                "keep `path` for a file in the repository, or `url` to download it",
                            ),
                        );
                        None
                    }
                    (None, None) => {
                        diagnostics.push(
                            Diagnostic::error(format!(
                                "module `{}` needs `path` or `url`",
                                name.get_ref()
                            ))
                            .at(&source, table.span(), "declared here")
                            .with_help("add `path = \"modules/NAME.wasm\"`, or `url = \"https://…/NAME.wasm\"`"),
                        );
                        None
                    }
                };
                let sha256 = module.required_string(
                    "sha256",
                    "add `sha256 = \"...\"` (print it with `sha256sum FILE`)",
                    &mut diagnostics,
                );
                module.deny_unknown(&["path", "url", "sha256"], &mut diagnostics);
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
                if let (Some((pin, path)), Some(sha256)) = (located, sha256) {
                    config.modules.push(DeclaredModule {
                        name: toml::Spanned::new(name.span(), name.get_ref().to_string()),
                        pin,
                        path,
                        sha256,
                        span: table.span(),
                    });
                }
            }
        }
        if let Some((sandbox, span)) = fields.table("sandbox", &mut problems) {
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
                &mut problems,
            );
            read(
                "timeout_ms",
                10..=600_000,
                &mut config.sandbox.timeout_ms,
                &mut problems,
            );
            read(
                "output_mib",
                1..=1024,
                &mut config.sandbox.output_mib,
                &mut problems,
            );
            limits.deny_unknown(&["memory_mib", "timeout_ms", "output_mib"], &mut problems);
        }
        // `[server]` configures `strata serve`, which reads it itself.
        fields.deny_unknown(&["modules", "sandbox", "server"], &mut diagnostics);
        if diagnostics.iter().any(Diagnostic::is_error) {
            diagnostics.extend(problems);
            Err(diagnostics)
        } else {
            diagnostics.extend(problems);
            if !diagnostics.iter().any(Diagnostic::is_error) {
                diagnostics.clear();
            }
            Ok((config, diagnostics))
        }
    }
}
