//! Which module renders which stack type: the first-party modules compiled
//! into this binary, plus the `.wasm` files a repository declares in
//! `strata.toml`, each pinned by sha256. Likewise the policy modules: the
//! built-in ones (`modules/policies/`) plus `[policies.NAME]` pins. Bytes and
//! digests only; compiling and running them is the host's job.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::repo::{DeclaredModule, Pin};
use crate::config::{Diagnostic, RepoConfig, SourceFile};
use crate::pins::{self, FetchError};

/// A module compiled into the binary by `runner/build.rs`.
#[derive(Debug)]
pub struct EmbeddedModule {
    /// Stack type.
    pub name: &'static str,
    /// sha256 of `bytes`, lowercase hex.
    pub sha256: &'static str,
    /// The component.
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded_modules.rs"));

/// Where a module came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into this binary.
    Embedded,
    /// Declared in `strata.toml`, read from this path (relative to the repo).
    Declared(String),
    /// Declared in `strata.toml` by URL, read from the download cache.
    Downloaded(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Embedded => f.write_str("built in"),
            Self::Declared(path) | Self::Downloaded(path) => write!(f, "{path}"),
        }
    }
}

/// A module's bytes and identity.
#[derive(Debug, Clone)]
pub struct ModuleSource {
    /// The stack type it renders.
    pub name: String,
    /// Where it came from.
    pub origin: Origin,
    /// The component.
    pub bytes: Cow<'static, [u8]>,
    /// sha256 of `bytes`, lowercase hex.
    pub sha256: String,
}

/// The modules available to an environment, by stack type.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    modules: BTreeMap<String, ModuleSource>,
    /// Policy modules by name: the built-in ones, then those `strata.toml`
    /// pins (a pinned policy of a built-in's name replaces it).
    policies: BTreeMap<String, ModuleSource>,
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Registry {
    /// Only the first-party modules and the built-in policies.
    pub fn embedded() -> Self {
        let modules = EMBEDDED
            .iter()
            .map(|m| {
                let source = ModuleSource {
                    name: m.name.to_owned(),
                    origin: Origin::Embedded,
                    bytes: Cow::Borrowed(m.bytes),
                    sha256: m.sha256.to_owned(),
                };
                (m.name.to_owned(), source)
            })
            .collect();
        let policies = EMBEDDED_POLICIES
            .iter()
            .map(|m| {
                let source = ModuleSource {
                    name: m.name.to_owned(),
                    origin: Origin::Embedded,
                    bytes: Cow::Borrowed(m.bytes),
                    sha256: m.sha256.to_owned(),
                };
                (m.name.to_owned(), source)
            })
            .collect();
        Self { modules, policies }
    }

    /// The first-party modules plus those `repo` declares, read from under
    /// `root` and checked against their pins (and the policies likewise). A
    /// declared module replaces a first-party one of the same name.
    pub fn load(root: &Path, repo: &RepoConfig) -> Result<Self, Vec<Diagnostic>> {
        Self::load_with(repo, |path| std::fs::read(root.join(path)))
    }

    /// Like [`Registry::load`], reading declared files through `read` (a
    /// working tree, or a git revision).
    pub fn load_with(
        repo: &RepoConfig,
        read: impl Fn(&str) -> std::io::Result<Vec<u8>>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let mut registry = Self::embedded();
        let mut diagnostics = Vec::new();
        let Some(source) = &repo.source else {
            return Ok(registry);
        };
        for declared in &repo.modules {
            let name = declared.name.get_ref();
            if let Err(rule) = crate::config::StackName::parse(name) {
                diagnostics.push(
                    Diagnostic::error(format!("module name `{name}` {rule}")).at(
                        source,
                        declared.name.span(),
                        "used as `type = \"...\"`",
                    ),
                );
                continue;
            }
            match load_declared(source, declared, "module", &read) {
                Ok(module) => {
                    registry.modules.insert(name.clone(), module);
                }
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        for policy in &repo.policies {
            let Some(declared) = &policy.pin else {
                continue;
            };
            let name = declared.name.get_ref();
            if let Err(rule) = crate::config::StackName::parse(name) {
                diagnostics.push(
                    Diagnostic::error(format!("policy name `{name}` {rule}")).at(
                        source,
                        declared.name.span(),
                        "declared here",
                    ),
                );
                continue;
            }
            match load_declared(source, declared, "policy", &read) {
                Ok(loaded) => {
                    registry.policies.insert(name.clone(), loaded);
                }
                Err(diagnostic) => diagnostics.push(diagnostic),
            }
        }
        if diagnostics.is_empty() {
            Ok(registry)
        } else {
            Err(diagnostics)
        }
    }

    /// Add `source` (replacing a module of the same name): how
    /// `strata module check` renders a module no `strata.toml` declares yet.
    pub fn insert(&mut self, source: ModuleSource) {
        self.modules.insert(source.name.clone(), source);
    }

    /// Stack type names, sorted.
    pub fn types(&self) -> Vec<&str> {
        self.modules.keys().map(String::as_str).collect()
    }

    /// The module for a stack type.
    pub fn get(&self, name: &str) -> Option<&ModuleSource> {
        self.modules.get(name)
    }

    /// Every module, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &ModuleSource> {
        self.modules.values()
    }

    /// Every policy module (built in and pinned), sorted by name.
    pub fn policies(&self) -> impl Iterator<Item = &ModuleSource> {
        self.policies.values()
    }

    /// The policy named `name`.
    pub fn policy(&self, name: &str) -> Option<&ModuleSource> {
        self.policies.get(name)
    }
}

/// A declared module's (or policy's, as `kind` says) bytes: read from the
/// repository or the download cache, checked against the pin.
fn load_declared(
    source: &Arc<SourceFile>,
    declared: &DeclaredModule,
    kind: &str,
    read: &impl Fn(&str) -> std::io::Result<Vec<u8>>,
) -> Result<ModuleSource, Diagnostic> {
    let name = declared.name.get_ref();
    let path = declared.path.get_ref();
    if declared.pin == Pin::Url {
        let bytes = fetch_pinned(source, declared, kind)?;
        return Ok(ModuleSource {
            name: name.clone(),
            origin: Origin::Downloaded(path.clone()),
            bytes: Cow::Owned(bytes),
            sha256: declared.sha256.get_ref().clone(),
        });
    }
    let bytes = read(path).map_err(|error| {
        Diagnostic::error(format!(
            "cannot read {kind} `{name}` from `{path}`: {error}"
        ))
        .at(source, declared.path.span(), "declared here")
        .with_help(format!(
            "a {kind} is a regular file inside the repository, its path relative to the root"
        ))
    })?;
    let actual = sha256_hex(&bytes);
    if &actual != declared.sha256.get_ref() {
        return Err(digest_mismatch(source, declared, kind, &actual));
    }
    Ok(ModuleSource {
        name: name.clone(),
        origin: Origin::Declared(path.clone()),
        bytes: Cow::Owned(bytes),
        sha256: actual,
    })
}

/// A URL pin's bytes, from the download cache or the URL.
fn fetch_pinned(
    source: &Arc<SourceFile>,
    declared: &DeclaredModule,
    kind: &str,
) -> Result<Vec<u8>, Diagnostic> {
    let name = declared.name.get_ref();
    let url = declared.path.get_ref();
    let Some(dir) = pins::cache_dir() else {
        return Err(Diagnostic::error(format!(
            "cannot download {kind} `{name}`: there is no cache directory"
        ))
        .at(source, declared.path.span(), "pinned by URL")
        .with_help("set STRATA_CACHE_DIR (or HOME) so downloads can be kept"));
    };
    pins::fetch(url, declared.sha256.get_ref(), &dir).map_err(|error| match error {
        FetchError::Mismatch { actual } => Diagnostic::error(format!(
            "{kind} `{name}` downloaded from `{url}` does not match its pinned sha256"
        ))
        .at(source, declared.sha256.span(), "pinned here")
        .with_note(format!("pinned:   {}", declared.sha256.get_ref()))
        .with_note(format!("download: {actual}"))
        .with_help("the file at the URL changed, or the pin is wrong: pin the published digest; nothing was cached"),
        other => Diagnostic::error(format!("{kind} `{name}`: {other}"))
            .at(source, declared.path.span(), "pinned by URL")
            .with_help(format!(
                "check the URL, or put the file in the cache by hand: `{}`",
                dir.join(format!("{}.wasm", declared.sha256.get_ref())).display()
            )),
    })
}

fn digest_mismatch(
    source: &Arc<SourceFile>,
    declared: &crate::config::repo::DeclaredModule,
    kind: &str,
    actual: &str,
) -> Diagnostic {
    let name = declared.name.get_ref();
    let path = declared.path.get_ref();
    Diagnostic::error(format!(
        "{kind} `{name}` at `{path}` does not match its pinned sha256"
    ))
    .at(source, declared.sha256.span(), "pinned here")
    .with_note(format!("pinned:   {}", declared.sha256.get_ref()))
    .with_note(format!("actual:   {actual}"))
    .with_help(format!(
        "if you rebuilt `{path}` on purpose, pin the new build: sha256 = \"{actual}\""
    ))
}
