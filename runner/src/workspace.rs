//! A config repository on disk: its `strata.toml`, the modules it can use, and
//! its `environments/*.toml`.

use std::path::{Path, PathBuf};

use crate::config::{self, Diagnostic, Environment, RepoConfig};
use crate::modules::Registry;

/// Where environment files live, relative to the repository root.
pub const ENVIRONMENTS_DIR: &str = "environments";

/// A loaded repository.
#[derive(Debug)]
pub struct Workspace {
    /// The repository root.
    pub root: PathBuf,
    /// Its `strata.toml` (defaults when absent).
    pub repo: RepoConfig,
    /// Modules by stack type.
    pub registry: Registry,
}

impl Workspace {
    /// Load the repository at `root`: `strata.toml` and its declared modules.
    pub fn load(root: &Path) -> Result<Self, Vec<Diagnostic>> {
        if !root.is_dir() {
            return Err(vec![
                Diagnostic::error(format!("`{}` is not a directory", root.display()))
                    .with_help("pass the config repository with `--repo DIR`"),
            ]);
        }
        let repo = RepoConfig::load(root)?;
        let registry = Registry::load(root, &repo)?;
        Ok(Self {
            root: root.to_path_buf(),
            repo,
            registry,
        })
    }

    /// Environment names (file stems of `environments/*.toml`), sorted.
    pub fn environment_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root.join(ENVIRONMENTS_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "toml"))
            .filter_map(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        names
    }

    /// Path of environment `name`'s file, relative to the root.
    pub fn environment_path(name: &str) -> String {
        format!("{ENVIRONMENTS_DIR}/{name}.toml")
    }

    /// Load and validate environment `name` (`environments/NAME.toml`).
    /// `Ok` carries warnings.
    pub fn environment(
        &self,
        name: &str,
    ) -> Result<(Environment, Vec<Diagnostic>), Vec<Diagnostic>> {
        let relative = Self::environment_path(name);
        let path = self.root.join(&relative);
        if !path.is_file() {
            let known = self.environment_names();
            let known_refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let help = if known.is_empty() {
                Some(format!(
                    "no environment files found under `{}`; is `--repo` the config repository?",
                    self.root.join(ENVIRONMENTS_DIR).display()
                ))
            } else {
                config::suggest::help_for(name, &known_refs, "environments")
            };
            return Err(vec![
                Diagnostic::error(format!(
                    "no environment `{name}`: `{relative}` does not exist"
                ))
                .with_help_opt(help),
            ]);
        }
        let types = self.registry.types();
        config::load(&path, &relative, &types)
    }

    /// Settings for the module host from `strata.toml`'s `[sandbox]`.
    pub fn limits(&self) -> crate::host::Limits {
        let sandbox = self.repo.sandbox;
        crate::host::Limits {
            memory_bytes: (sandbox.memory_mib as usize) << 20,
            timeout: std::time::Duration::from_millis(sandbox.timeout_ms),
            output_bytes: (sandbox.output_mib as usize) << 20,
        }
    }
}
