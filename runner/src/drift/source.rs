//! [`GitSource`]: git's side of a drift check, read from a repository and
//! rendered through the module host, as `strata plan` reads a revision.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Desired, Scope, Source};
use crate::config::Diagnostic;
use crate::host::Host;
use crate::render::render_environment;
use crate::repo::{Repository, Side};
use crate::workspace::{Files, Workspace};

/// Environments of the repository at `root`, rendered with `host`: at a
/// commit from git's object database (no checkout), or, when no commit is
/// known, from the files on disk ([`GitSource::new`]) or from a head
/// revision ([`GitSource::at`], for a bare mirror).
pub struct GitSource<'a> {
    host: &'a Host,
    root: PathBuf,
    /// Read this revision instead of the files on disk.
    head: Option<String>,
}

impl<'a> GitSource<'a> {
    /// The config repository checked out at `root`: environments' regions
    /// and prefixes, and git's side when no commit is known, come from the
    /// files on disk.
    pub fn new(host: &'a Host, root: &Path) -> Self {
        Self {
            host,
            root: root.to_path_buf(),
            head: None,
        }
    }

    /// The repository at `root` (a bare mirror too) read at revision `head`
    /// (`main`, `refs/heads/main`, a SHA) wherever [`GitSource::new`] reads
    /// the disk: what `strata serve` uses, since its mirrors have no work tree.
    pub fn at(host: &'a Host, root: &Path, head: &str) -> Self {
        Self {
            host,
            root: root.to_path_buf(),
            head: Some(head.to_owned()),
        }
    }

    fn repository(&self) -> Result<Repository, String> {
        Repository::discover(&self.root).map_err(|e| e.to_string())
    }

    /// The workspace at `commit`, or on disk.
    fn workspace(&self, commit: Option<&str>) -> Result<(Workspace, Option<String>), String> {
        let Some(commit) = commit.or(self.head.as_deref()) else {
            return Workspace::load(&self.root)
                .map(|w| (w, None))
                .map_err(|d| messages(&d));
        };
        let repository = self.repository()?;
        let revision = repository.resolve(commit).map_err(|e| e.to_string())?;
        let git_root = repository
            .workdir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.root.clone());
        let snapshot = repository
            .snapshot(&Side::Commit(revision.clone()))
            .map_err(|e| e.to_string())?;
        let workspace = Workspace::from_files(&git_root, Files::Git(Mutex::new(snapshot)))
            .map_err(|d| format!("{} (at {})", messages(&d), revision.short))?;
        Ok((workspace, Some(revision.id)))
    }
}

/// Error diagnostics, one line.
fn messages(diagnostics: &[Diagnostic]) -> String {
    let errors: Vec<&str> = diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.message.as_str())
        .collect();
    if errors.is_empty() {
        "unknown error".to_owned()
    } else {
        errors.join("; ")
    }
}

impl Source for GitSource<'_> {
    fn scope(&self, environment: &str) -> Result<Scope, String> {
        let (workspace, _) = self.workspace(None)?;
        let (loaded, _) = workspace
            .environment(environment)
            .map_err(|d| messages(&d))?;
        Ok(Scope::of(&loaded))
    }

    fn render(&self, environment: &str, commit: Option<&str>) -> Result<Desired, String> {
        let (workspace, commit) = self.workspace(commit)?;
        let at = commit.as_deref().map_or_else(
            || "the working tree".to_owned(),
            |c| format!("`{}`", &c[..c.len().min(7)]),
        );
        let (loaded, _) = workspace.environment(environment).map_err(|d| {
            format!(
                "environment `{environment}` is invalid at {at}: {}",
                messages(&d)
            )
        })?;
        let outcome = render_environment(self.host, &workspace.registry, &loaded);
        if !outcome.ok {
            return Err(format!(
                "environment `{environment}` does not render at {at}: {}",
                messages(&outcome.diagnostics)
            ));
        }
        let rendered = outcome.partial;
        Ok(Desired {
            commit,
            stacks: rendered
                .stacks
                .into_iter()
                .map(|(name, stack)| (name.to_string(), stack.template()))
                .collect(),
        })
    }

    fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Option<bool> {
        self.repository()
            .ok()?
            .is_ancestor(ancestor, descendant)
            .ok()
    }
}
