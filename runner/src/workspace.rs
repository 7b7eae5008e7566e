//! A config repository as Strata reads it: its `strata.toml`, the modules it
//! can use, its `environments/*.toml` and its `workflows/*.toml`, from the
//! files on disk or from a git revision ([`Files`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::config::{self, Diagnostic, Environment, RepoConfig, SourceFile};
use crate::modules::Registry;
use crate::repo;
use crate::workflow::{EnvironmentInfo, Known, WORKFLOWS_DIR, Workflows};

/// Where environment files live, relative to the repository root.
pub const ENVIRONMENTS_DIR: &str = "environments";

/// Where a workspace's files come from.
pub enum Files {
    /// A directory on disk.
    Disk(PathBuf),
    /// A side of a git repository (a commit, or the working tree). Behind a
    /// mutex so a workspace can be shared across threads.
    Git(Mutex<repo::Snapshot>),
}

impl std::fmt::Debug for Files {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Disk(root) => write!(f, "Disk({})", root.display()),
            Self::Git(_) => f.write_str("Git"),
        }
    }
}

impl Files {
    /// The bytes of `path` (relative, `/`-separated); `None` when absent.
    /// Only regular files inside the repository, of at most 64 MiB, are read
    /// ([`repo::confine`]).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Diagnostic> {
        self.read_capped(path, repo::confine::MAX_FILE_BYTES)
    }

    fn read_capped(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, Diagnostic> {
        match self {
            Self::Disk(root) => repo::normalize(path)
                .and_then(|relative| repo::confine::read_on_disk(root, &relative, limit))
                .map_err(Diagnostic::from),
            Self::Git(snapshot) => snapshot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .read_capped(path, limit)
                .map_err(Diagnostic::from),
        }
    }

    /// Names of the entries directly in `dir`, sorted, of any kind (a
    /// folder or a FIFO named `dev.toml` is listed, so reading it reports
    /// it); empty when it does not exist.
    pub fn list(&self, dir: &str) -> Vec<String> {
        match self {
            Self::Disk(root) => repo::normalize(dir)
                .and_then(|relative| repo::confine::list_on_disk(root, &relative))
                .unwrap_or_default(),
            Self::Git(snapshot) => snapshot
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .list(dir)
                .unwrap_or_default(),
        }
    }

    fn read_text(&self, path: &str) -> Result<Option<String>, Diagnostic> {
        match self.read_capped(path, repo::confine::MAX_TEXT_BYTES)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes).map(Some).map_err(|error| {
                // Point at the first byte that is not UTF-8, in the text as
                // far as it reads.
                let offset = error.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
                let lossy_offset = String::from_utf8_lossy(&error.as_bytes()[..offset]).len();
                let source = SourceFile::new(path, text);
                Diagnostic::error(format!("`{path}` is not UTF-8 text"))
                    .at(
                        &source,
                        lossy_offset..lossy_offset + '\u{FFFD}'.len_utf8(),
                        "this byte",
                    )
                    .with_help("save the file as UTF-8")
            }),
        }
    }
}

/// A loaded repository.
#[derive(Debug)]
pub struct Workspace {
    /// The repository root (for messages; a git side reads from its revision).
    pub root: PathBuf,
    /// Where its files come from.
    pub files: Files,
    /// Its `strata.toml` (defaults when absent).
    pub repo: RepoConfig,
    /// Modules by stack type.
    pub registry: Registry,
    /// Errors in `strata.toml` that left a usable configuration (a bad
    /// `[sandbox]` value, replaced by its default): `validate` reports them
    /// and goes on; every other command refuses to run.
    pub problems: Vec<Diagnostic>,
}

impl Workspace {
    /// Load the repository at `root` from disk: `strata.toml` and its declared modules.
    pub fn load(root: &Path) -> Result<Self, Vec<Diagnostic>> {
        if !root.is_dir() {
            return Err(vec![
                Diagnostic::error(format!("`{}` is not a directory", root.display()))
                    .with_help("pass the config repository with `--repo DIR`"),
            ]);
        }
        Self::from_files(root, Files::Disk(root.to_path_buf()))
    }

    /// [`Workspace::load`], keeping going past `strata.toml` problems that
    /// leave a usable configuration (they are in [`Workspace::problems`]),
    /// for `strata validate`, which reports everything at once.
    pub fn load_lenient(root: &Path) -> Result<Self, Vec<Diagnostic>> {
        if !root.is_dir() {
            return Self::load(root);
        }
        Self::from_files_lenient(root, Files::Disk(root.to_path_buf()))
    }

    /// Load a repository whose files come from `files` (a git side).
    pub fn from_files(root: &Path, files: Files) -> Result<Self, Vec<Diagnostic>> {
        let workspace = Self::from_files_lenient(root, files)?;
        if workspace.problems.is_empty() {
            Ok(workspace)
        } else {
            Err(workspace.problems)
        }
    }

    fn from_files_lenient(root: &Path, files: Files) -> Result<Self, Vec<Diagnostic>> {
        let (repo, problems) = match files
            .read_text(config::repo::FILE_NAME)
            .map_err(|d| vec![d])?
        {
            Some(text) => {
                RepoConfig::parse_lenient(SourceFile::new(config::repo::FILE_NAME, text))?
            }
            None => (RepoConfig::default(), Vec::new()),
        };
        let registry = Registry::load_with(&repo, |path| {
            files
                .read(path)
                .map_err(|d| std::io::Error::other(d.message))?
                .ok_or_else(|| std::io::ErrorKind::NotFound.into())
        })?;
        Ok(Self {
            root: root.to_path_buf(),
            files,
            repo,
            registry,
            problems,
        })
    }

    /// Environment names (file stems of `environments/*.toml`), sorted.
    pub fn environment_names(&self) -> Vec<String> {
        self.files
            .list(ENVIRONMENTS_DIR)
            .into_iter()
            .filter_map(|name| name.strip_suffix(".toml").map(str::to_owned))
            .collect()
    }

    /// Path of environment `name`'s file, relative to the root.
    pub fn environment_path(name: &str) -> String {
        format!("{ENVIRONMENTS_DIR}/{name}.toml")
    }

    /// Whether environment `name` exists.
    pub fn has_environment(&self, name: &str) -> bool {
        self.environment_names().iter().any(|n| n == name)
    }

    /// Load and validate environment `name` (`environments/NAME.toml`).
    /// `Ok` carries warnings.
    pub fn environment(
        &self,
        name: &str,
    ) -> Result<(Environment, Vec<Diagnostic>), Vec<Diagnostic>> {
        let relative = Self::environment_path(name);
        let text = match self.files.read_text(&relative) {
            Ok(Some(text)) => text,
            Ok(None) => {
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
            Err(diagnostic) => return Err(vec![diagnostic]),
        };
        let types = self.registry.types();
        config::parse_environment(name, SourceFile::new(relative, text), &types)
    }

    /// Load and check every `workflows/*.toml` against the environments (or
    /// the built-in default when there are none), with `main` as the default
    /// branch. `Ok` carries warnings.
    pub fn workflows(&self) -> Result<(Workflows, Vec<Diagnostic>), Vec<Diagnostic>> {
        self.workflows_on("main")
    }

    /// [`Workspace::workflows`] for a repository whose default branch is
    /// `default_branch` (a branch list left out means that branch).
    pub fn workflows_on(
        &self,
        default_branch: &str,
    ) -> Result<(Workflows, Vec<Diagnostic>), Vec<Diagnostic>> {
        let sources = self.workflow_sources().map_err(|d| vec![d])?;
        let environments = self.environment_infos();
        let known = Known {
            default_branch,
            environments: &environments,
        };
        Workflows::load(&sources, &known)
    }

    /// Workflow file names (`release.toml`), sorted.
    pub fn workflow_files(&self) -> Vec<String> {
        self.files
            .list(WORKFLOWS_DIR)
            .into_iter()
            .filter(|name| name.ends_with(".toml"))
            .collect()
    }

    /// The text of every `workflows/*.toml`, named by its path from the root.
    pub fn workflow_sources(&self) -> Result<Vec<Arc<SourceFile>>, Diagnostic> {
        let mut sources = Vec::new();
        for name in self.workflow_files() {
            let path = format!("{WORKFLOWS_DIR}/{name}");
            if let Some(text) = self.files.read_text(&path)? {
                sources.push(SourceFile::new(path, text));
            }
        }
        Ok(sources)
    }

    /// What workflows need to know of each environment: whether it is
    /// protected, and its stacks' names. Read from the files as written
    /// (an environment with other problems still counts; one that is not
    /// valid TOML has no stacks here), so workflow checks do not wait for
    /// modules to render.
    pub fn environment_infos(&self) -> BTreeMap<String, EnvironmentInfo> {
        let mut infos = BTreeMap::new();
        for name in self.environment_names() {
            let text = self
                .files
                .read_text(&Self::environment_path(&name))
                .ok()
                .flatten()
                .unwrap_or_default();
            let source = SourceFile::new(Self::environment_path(&name), text);
            let info = match config::raw::parse(&source).0 {
                Some(file) => EnvironmentInfo {
                    protected: file.protected.is_some_and(|p| *p.get_ref()),
                    stacks: file
                        .stacks
                        .iter()
                        .map(|s| s.name.get_ref().clone())
                        .collect(),
                },
                None => EnvironmentInfo::default(),
            };
            infos.insert(name, info);
        }
        infos
    }

    /// Settings for the module host from `strata.toml`'s `[sandbox]`.
    pub fn limits(&self) -> crate::host::Limits {
        limits(self.repo.sandbox)
    }
}

/// The module host's limits for a `[sandbox]` table.
pub fn limits(sandbox: config::repo::SandboxSettings) -> crate::host::Limits {
    crate::host::Limits {
        memory_bytes: (sandbox.memory_mib as usize) << 20,
        timeout: std::time::Duration::from_millis(sandbox.timeout_ms),
        output_bytes: (sandbox.output_mib as usize) << 20,
    }
}
