//! Git: which revisions to compare, the files of each side, and which paths
//! changed between them.
//!
//! `strata plan` renders an environment twice, at a *base* revision and at a
//! *head*, and diffs the templates. This module answers the git half of that:
//!
//! - [`Repository::resolve`] turns what the user typed (`HEAD~1`, `main`,
//!   `origin/main`, a tag, a sha) into a [`Revision`]; [`Repository::default_base`]
//!   picks the base when none is given (the merge-base of `HEAD` with the
//!   default branch, as a pull request would).
//! - [`Repository::snapshot`] gives a [`Snapshot`] of one [`Side`]: a commit,
//!   read straight from the object database (no checkout, so a bare clone
//!   works), or the working tree as it is on disk, uncommitted edits included.
//!   `plan` reads `strata.toml`, `environments/*.toml` and the declared `.wasm`
//!   modules through it (for instance with `Registry::load_with`).
//! - [`Repository::changed_paths`] lists the paths that differ between the
//!   sides, so `plan` can tell which environments a change touches.
//!
//! Only this module touches `git2`: everything it returns is our own types.

pub mod confine;
pub mod mirror;

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{DiffOptions, ErrorCode, ObjectType, Oid};

use crate::config::Diagnostic;
use crate::config::suggest;

/// How many hex digits a [`Revision::short`] id has.
const SHORT_LEN: usize = 7;

/// A git repository: a work tree or a bare clone.
pub struct Repository {
    inner: git2::Repository,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("path", &self.inner.path())
            .field("workdir", &self.inner.workdir())
            .finish()
    }
}

/// A commit, as plan output shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Revision {
    /// The full commit id, lowercase hex.
    pub id: String,
    /// The first seven hex digits of `id`, for display.
    pub short: String,
    /// The first line of the commit message.
    pub summary: String,
}

impl Revision {
    fn of(commit: &git2::Commit<'_>) -> Self {
        let id = commit.id().to_string();
        let summary = String::from_utf8_lossy(commit.summary_bytes().unwrap_or_default());
        Self {
            short: id.chars().take(SHORT_LEN).collect(),
            summary: summary.into_owned(),
            id,
        }
    }
}

/// One side of a comparison: what a [`Snapshot`] reads and what
/// [`Repository::changed_paths`] compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Side {
    /// The tree of a commit.
    Commit(Revision),
    /// The files on disk: committed, staged, unstaged and untracked alike.
    WorkingTree,
}

/// Why a git operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// Neither `path` nor any parent is inside a git repository.
    #[error("`{}` is not inside a git repository", path.display())]
    NotARepository {
        /// Where the search started.
        path: PathBuf,
    },
    /// The spec names nothing in the repository.
    #[error("unknown revision `{spec}`")]
    UnknownRevision {
        /// What was asked for.
        spec: String,
        /// What to try instead: a close branch name, the branches there are,
        /// or why there is nothing to resolve.
        help: String,
    },
    /// A short sha that starts more than one object's id.
    #[error("revision `{spec}` is ambiguous")]
    AmbiguousRevision {
        /// What was asked for.
        spec: String,
    },
    /// The spec names a tree, a blob or a tag of something other than a commit.
    #[error("`{spec}` names a {kind}, not a commit")]
    NotACommit {
        /// What was asked for.
        spec: String,
        /// What it names instead (`tree`, `blob`, ...).
        kind: String,
    },
    /// The working tree was asked for, but the repository is bare.
    #[error("`{}` is a bare repository: it has no working tree", path.display())]
    NoWorkingTree {
        /// The repository's directory.
        path: PathBuf,
    },
    /// A path that is not relative to the repository root, or leaves it.
    #[error("path `{path}` {rule}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Which rule it breaks.
        rule: &'static str,
    },
    /// A path that leads outside the repository through a symbolic link.
    #[error("`{path}` resolves to `{resolved}`, outside the repository")]
    OutsideRepository {
        /// Repo-relative path.
        path: String,
        /// Where its links lead.
        resolved: String,
    },
    /// A symbolic link whose target does not exist.
    #[error("`{path}` is a symbolic link to `{target}`, which does not exist")]
    DanglingSymlink {
        /// Repo-relative path.
        path: String,
        /// The link's target as written.
        target: String,
    },
    /// Symbolic links that lead back to themselves.
    #[error("`{path}` goes through a loop of symbolic links")]
    SymlinkLoop {
        /// Repo-relative path.
        path: String,
    },
    /// A directory, FIFO, socket or device where a file is needed.
    #[error("`{path}` is {kind}, not a regular file")]
    NotAFile {
        /// Repo-relative path.
        path: String,
        /// What it is instead: `a directory`, `a FIFO (named pipe)`, ...
        kind: &'static str,
    },
    /// A file over the size Strata reads.
    #[error("`{path}` is larger than {} MiB", limit >> 20)]
    TooLarge {
        /// Repo-relative path.
        path: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// A file of the working tree could not be read.
    #[error("cannot read `{path}` from the working tree: {error}")]
    Io {
        /// Repo-relative path.
        path: String,
        /// What the filesystem said.
        error: std::io::Error,
    },
    /// libgit2 failed.
    #[error("{context}: {message}")]
    Git {
        /// What we were doing, with its subject.
        context: String,
        /// What libgit2 said.
        message: String,
    },
}

impl RepoError {
    /// What to do about it, when there is something to say: shown on its own
    /// `help:` line.
    pub fn help(&self) -> Option<String> {
        match self {
            Self::NotARepository { .. } => Some(
                "run strata inside the config repository, or pass it with `--repo DIR`".to_owned(),
            ),
            Self::UnknownRevision { help, .. } => Some(help.clone()),
            Self::AmbiguousRevision { spec } => Some(format!(
                "several objects have ids starting with `{spec}`; give more of the sha"
            )),
            Self::NotACommit { .. } => {
                Some("name a commit: a branch, a tag, or a commit sha".to_owned())
            }
            Self::NoWorkingTree { .. } => Some(
                "a bare clone has only commits: compare two revisions instead of the working tree"
                    .to_owned(),
            ),
            Self::OutsideRepository { .. } | Self::DanglingSymlink { .. } => Some(
                "Strata reads only files inside the repository: replace the link with the file"
                    .to_owned(),
            ),
            Self::SymlinkLoop { .. } => Some("remove the link or point it at a file".to_owned()),
            Self::NotAFile { path, .. } => Some(format!(
                "Strata reads only regular files; remove `{path}` or replace it with a file"
            )),
            Self::TooLarge { .. } => Some(
                "environment and workflow files may be at most 8 MiB, modules at most 64 MiB"
                    .to_owned(),
            ),
            Self::InvalidPath { .. } | Self::Io { .. } | Self::Git { .. } => None,
        }
    }

    /// Whether the user asked for something wrong (an unknown revision, no
    /// repository) rather than git failing at its work.
    pub fn is_input(&self) -> bool {
        !matches!(self, Self::Io { .. } | Self::Git { .. })
    }
}

impl From<RepoError> for Diagnostic {
    fn from(error: RepoError) -> Self {
        let diagnostic = Diagnostic::error(error.to_string()).with_help_opt(error.help());
        if error.is_input() {
            diagnostic
        } else {
            diagnostic.as_failure()
        }
    }
}

/// `map_err` adapter: a libgit2 error with what we were doing.
fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> RepoError {
    move |error| RepoError::Git {
        context: context.into(),
        message: error.message().to_owned(),
    }
}

impl Repository {
    /// The repository containing `path`: a work tree (found from any folder
    /// inside it) or a bare repository.
    pub fn discover(path: &Path) -> Result<Self, RepoError> {
        match git2::Repository::discover(path) {
            Ok(inner) => Ok(Self { inner }),
            Err(error) if error.code() == ErrorCode::NotFound => Err(RepoError::NotARepository {
                path: path.to_path_buf(),
            }),
            Err(error) => Err(git(format!(
                "cannot open the git repository at `{}`",
                path.display()
            ))(error)),
        }
    }

    /// The root of the working tree; `None` for a bare repository.
    pub fn workdir(&self) -> Option<&Path> {
        self.inner.workdir()
    }

    /// True when the repository has no working tree.
    pub fn is_bare(&self) -> bool {
        self.inner.is_bare()
    }

    /// The commit `spec` names: anything `git rev-parse` accepts (`HEAD`,
    /// `HEAD~1`, `main`, `origin/main`, a tag, a full or short sha), peeled to
    /// a commit.
    pub fn resolve(&self, spec: &str) -> Result<Revision, RepoError> {
        let object = match self.inner.revparse_single(spec) {
            Ok(object) => object,
            Err(error) if error.code() == ErrorCode::Ambiguous => {
                return Err(RepoError::AmbiguousRevision {
                    spec: spec.to_owned(),
                });
            }
            Err(error)
                if matches!(
                    error.code(),
                    ErrorCode::NotFound | ErrorCode::InvalidSpec | ErrorCode::UnbornBranch
                ) =>
            {
                return Err(RepoError::UnknownRevision {
                    spec: spec.to_owned(),
                    help: self.unknown_revision_help(spec),
                });
            }
            Err(error) => return Err(git(format!("cannot resolve revision `{spec}`"))(error)),
        };
        let kind = object.kind();
        let commit = object.peel_to_commit().map_err(|_| RepoError::NotACommit {
            spec: spec.to_owned(),
            kind: kind.map_or("object", |kind| kind.str()).to_owned(),
        })?;
        Ok(Revision::of(&commit))
    }

    /// The commit `HEAD` points at; `None` while the branch is unborn (a new
    /// repository without commits).
    pub fn head(&self) -> Result<Option<Revision>, RepoError> {
        let head = match self.inner.head() {
            Ok(head) => head,
            Err(error) if matches!(error.code(), ErrorCode::UnbornBranch | ErrorCode::NotFound) => {
                return Ok(None);
            }
            Err(error) => return Err(git("cannot read `HEAD`")(error)),
        };
        let commit = head
            .peel_to_commit()
            .map_err(git("cannot read the commit `HEAD` points at"))?;
        Ok(Some(Revision::of(&commit)))
    }

    /// The branch pull requests merge into, as a revision spec: the target of
    /// `refs/remotes/origin/HEAD` (e.g. `origin/main`), else `main`, else
    /// `master`, whichever exists first.
    pub fn default_branch(&self) -> Option<String> {
        self.default_branch_ref().map(|(name, _)| name)
    }

    /// The default branch as (what to show, full reference name). Resolving
    /// the full name keeps a tag called `main` from shadowing the branch.
    fn default_branch_ref(&self) -> Option<(String, String)> {
        let origin_head = self
            .inner
            .find_reference("refs/remotes/origin/HEAD")
            .ok()
            .and_then(|reference| {
                reference
                    .symbolic_target()
                    .ok()
                    .flatten()
                    .map(str::to_owned)
            })
            .filter(|target| self.inner.refname_to_id(target).is_ok());
        if let Some(target) = origin_head {
            let name = target
                .strip_prefix("refs/remotes/")
                .unwrap_or(&target)
                .to_owned();
            return Some((name, target));
        }
        ["main", "master"].into_iter().find_map(|branch| {
            let full = format!("refs/heads/{branch}");
            self.inner
                .refname_to_id(&full)
                .is_ok()
                .then(|| (branch.to_owned(), full))
        })
    }

    /// Where the current line of work left the default branch: the
    /// merge-base of `HEAD` with [`Repository::default_branch`]. `None` when
    /// there is no `HEAD` commit, no default branch, or no common ancestor.
    /// On the default branch itself this is `HEAD`.
    pub fn default_base(&self) -> Result<Option<Revision>, RepoError> {
        let Some(head) = self.head()? else {
            return Ok(None);
        };
        let Some((name, full)) = self.default_branch_ref() else {
            return Ok(None);
        };
        let head_id = oid(&head)?;
        let branch_id = self
            .inner
            .refname_to_id(&full)
            .map_err(git(format!("cannot read branch `{name}`")))?;
        let base = match self.inner.merge_base(head_id, branch_id) {
            Ok(base) => base,
            Err(error) if error.code() == ErrorCode::NotFound => return Ok(None),
            Err(error) => {
                return Err(git(format!(
                    "cannot find where `HEAD` and `{name}` diverged"
                ))(error));
            }
        };
        let commit = self
            .inner
            .find_commit(base)
            .map_err(git(format!("cannot read commit `{base}`")))?;
        Ok(Some(Revision::of(&commit)))
    }

    /// The merge-base of two revisions (`None` when they share no history).
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<Revision>, RepoError> {
        let a = oid(&self.resolve(a)?)?;
        let b = oid(&self.resolve(b)?)?;
        match self.inner.merge_base(a, b) {
            Ok(base) => {
                let commit = self
                    .inner
                    .find_commit(base)
                    .map_err(git(format!("cannot read commit `{base}`")))?;
                Ok(Some(Revision::of(&commit)))
            }
            Err(error) if error.code() == ErrorCode::NotFound => Ok(None),
            Err(error) => Err(git(format!("cannot find where `{a}` and `{b}` diverged"))(
                error,
            )),
        }
    }

    /// `head` merged into `base` (a pull request merged into the tip of
    /// its base branch), written as a commit object in this repository
    /// without moving any reference, so plans can read it like any commit.
    ///
    /// Deterministic: the same two commits always give the same merge commit
    /// (a fixed author, the later of the two commit times), so a plan made
    /// now and a check made later name the same sha. When `base` already
    /// contains `head` the result is `base`; when `head` contains `base`
    /// (the branch is up to date) it is `head`. `Ok(None)`: the two conflict.
    pub fn merge(&self, base: &str, head: &str) -> Result<Option<Revision>, RepoError> {
        let base_rev = self.resolve(base)?;
        let head_rev = self.resolve(head)?;
        let base_id = oid(&base_rev)?;
        let head_id = oid(&head_rev)?;
        let contains = |ancestor, descendant| {
            ancestor == descendant
                || self
                    .inner
                    .graph_descendant_of(descendant, ancestor)
                    .unwrap_or(false)
        };
        if contains(head_id, base_id) {
            return Ok(Some(base_rev));
        }
        if contains(base_id, head_id) {
            return Ok(Some(head_rev));
        }
        let read = |id| {
            self.inner
                .find_commit(id)
                .map_err(git(format!("cannot read commit `{id}`")))
        };
        let (ours, theirs) = (read(base_id)?, read(head_id)?);
        let mut index = self
            .inner
            .merge_commits(&ours, &theirs, None)
            .map_err(git(format!(
                "cannot merge `{}` into `{}`",
                head_rev.short, base_rev.short
            )))?;
        if index.has_conflicts() {
            return Ok(None);
        }
        let tree_id = index
            .write_tree_to(&self.inner)
            .map_err(git("cannot write the merged tree"))?;
        let tree = self
            .inner
            .find_tree(tree_id)
            .map_err(git("cannot read the merged tree"))?;
        let when = ours.time().seconds().max(theirs.time().seconds());
        let signature =
            git2::Signature::new("strata", "strata@localhost", &git2::Time::new(when, 0))
                .map_err(git("cannot make the merge's signature"))?;
        let message = format!("Merge {} into {}\n", head_rev.short, base_rev.short);
        let id = self
            .inner
            .commit(
                None,
                &signature,
                &signature,
                &message,
                &tree,
                &[&ours, &theirs],
            )
            .map_err(git("cannot write the merge commit"))?;
        Ok(Some(Revision::of(&read(id)?)))
    }

    /// The commits `after` adds to `before`, oldest first, along first
    /// parents (a merge is one commit, as it landed on the branch); at most
    /// `limit` (`None` past that). Empty when `after` is `before` or behind it.
    pub fn first_parents_between(
        &self,
        before: &str,
        after: &str,
        limit: usize,
    ) -> Result<Option<Vec<String>>, RepoError> {
        let from = oid(&self.resolve(before)?)?;
        let to = oid(&self.resolve(after)?)?;
        let mut walk = self
            .inner
            .revwalk()
            .map_err(git("cannot walk the history"))?;
        walk.simplify_first_parent()
            .map_err(git("cannot walk the history"))?;
        walk.push(to)
            .map_err(git(format!("cannot walk from `{after}`")))?;
        walk.hide(from)
            .map_err(git(format!("cannot walk down to `{before}`")))?;
        let mut commits = Vec::new();
        for id in walk {
            let id = id.map_err(git("cannot walk the history"))?;
            if commits.len() == limit {
                return Ok(None);
            }
            commits.push(id.to_string());
        }
        commits.reverse();
        Ok(Some(commits))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool, RepoError> {
        let a = oid(&self.resolve(ancestor)?)?;
        let d = oid(&self.resolve(descendant)?)?;
        if a == d {
            return Ok(true);
        }
        self.inner.graph_descendant_of(d, a).map_err(git(format!(
            "cannot tell whether `{ancestor}` precedes `{descendant}`"
        )))
    }

    /// A reader for the files of `side`. A commit is read from the object
    /// database, so it needs no checkout; the working tree needs one.
    pub fn snapshot(&self, side: &Side) -> Result<Snapshot, RepoError> {
        let source = match side {
            Side::Commit(revision) => {
                let tree = self.tree_of(revision)?.id();
                // A second handle, so a snapshot owns its reader and can move
                // to another thread (`git2::Repository` is `Send`, not `Sync`).
                let repo = git2::Repository::open(self.inner.path()).map_err(git(format!(
                    "cannot open the git repository at `{}`",
                    self.inner.path().display()
                )))?;
                Source::Commit {
                    repo,
                    tree,
                    revision: revision.clone(),
                }
            }
            Side::WorkingTree => Source::WorkingTree {
                root: self.require_workdir()?.to_path_buf(),
            },
        };
        Ok(Snapshot { source })
    }

    /// Repo-relative paths added, removed or modified between `base` and
    /// `head`, sorted, each once. `None` as the base is the empty tree, so
    /// every file at `head` counts as changed. Against the working tree this
    /// includes staged and unstaged changes and untracked files, but not
    /// ignored ones. A rename is reported as both its old and its new path.
    pub fn changed_paths(
        &self,
        base: Option<&Revision>,
        head: &Side,
    ) -> Result<Vec<String>, RepoError> {
        let base_tree = base.map(|revision| self.tree_of(revision)).transpose()?;
        let mut options = DiffOptions::new();
        options.include_typechange(true);
        // No rename detection: without it a rename is a deletion plus an
        // addition, which already names both paths, and costs nothing.
        let diff = match head {
            Side::Commit(revision) => {
                let head_tree = self.tree_of(revision)?;
                self.inner
                    .diff_tree_to_tree(base_tree.as_ref(), Some(&head_tree), Some(&mut options))
                    .map_err(git(format!(
                        "cannot compare {} with `{}`",
                        base_label(base),
                        revision.short
                    )))?
            }
            Side::WorkingTree => {
                self.require_workdir()?;
                options
                    .include_untracked(true)
                    .recurse_untracked_dirs(true)
                    .include_ignored(false);
                self.inner
                    .diff_tree_to_workdir_with_index(base_tree.as_ref(), Some(&mut options))
                    .map_err(git(format!(
                        "cannot compare {} with the working tree",
                        base_label(base)
                    )))?
            }
        };
        let paths: BTreeSet<String> = diff
            .deltas()
            .flat_map(|delta| [delta.old_file().path_bytes(), delta.new_file().path_bytes()])
            .flatten()
            .map(|path| String::from_utf8_lossy(path).into_owned())
            .collect();
        Ok(paths.into_iter().collect())
    }

    fn require_workdir(&self) -> Result<&Path, RepoError> {
        self.inner
            .workdir()
            .ok_or_else(|| RepoError::NoWorkingTree {
                // Without libgit2's trailing `/`.
                path: self.inner.path().components().collect(),
            })
    }

    fn tree_of(&self, revision: &Revision) -> Result<git2::Tree<'_>, RepoError> {
        let commit = self
            .inner
            .find_commit(oid(revision)?)
            .map_err(git(format!("cannot find commit `{}`", revision.short)))?;
        commit
            .tree()
            .map_err(git(format!("cannot read the tree of `{}`", revision.short)))
    }

    /// Help for a spec that resolved to nothing: why, or what was meant.
    fn unknown_revision_help(&self, spec: &str) -> String {
        let mut local = Vec::new();
        let mut others = Vec::new();
        if let Ok(references) = self.inner.references() {
            for reference in references.flatten() {
                let (Ok(name), Ok(short)) = (reference.name(), reference.shorthand()) else {
                    continue;
                };
                if name.starts_with("refs/heads/") {
                    local.push(short.to_owned());
                } else if (name.starts_with("refs/remotes/") && !name.ends_with("/HEAD"))
                    || name.starts_with("refs/tags/")
                {
                    others.push(short.to_owned());
                }
            }
        }
        if local.is_empty() && others.is_empty() && matches!(self.head(), Ok(None)) {
            return "the repository has no commits yet".to_owned();
        }
        local.sort();
        others.sort();
        // `mian~2` is a typo in `mian`; `main~99` reaches past the history.
        let name = spec.split(['~', '^', '@', ':']).next().unwrap_or(spec);
        let ancestry = &spec[name.len()..];
        let walks_back = !ancestry.is_empty()
            && ancestry
                .chars()
                .all(|c| matches!(c, '~' | '^') || c.is_ascii_digit());
        if walks_back && !name.is_empty() && self.inner.revparse_single(name).is_ok() {
            let shallow = if self.inner.is_shallow() {
                "; this is a shallow clone, so fetch more history (`git fetch --unshallow`)"
            } else {
                ""
            };
            return format!(
                "`{name}` exists, but its history is shorter than `{spec}` asks{shallow}"
            );
        }
        let candidates: Vec<&str> = local.iter().chain(&others).map(String::as_str).collect();
        if let Some(best) = suggest::did_you_mean(name, candidates.iter().copied()) {
            return format!("did you mean `{best}`?");
        }
        if name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            let fetch = if self.inner.is_shallow() {
                "this is a shallow clone: fetch more history (`git fetch --unshallow`)"
            } else {
                "if it was pushed elsewhere, fetch it first"
            };
            return format!("no commit id starts with `{name}`; {fetch}");
        }
        let local_refs: Vec<&str> = local.iter().map(String::as_str).collect();
        suggest::help_for(name, &local_refs, "local branches")
            .unwrap_or_else(|| "name a branch, a tag, or a commit sha".to_owned())
    }
}

fn oid(revision: &Revision) -> Result<Oid, RepoError> {
    Oid::from_str(&revision.id).map_err(git(format!("`{}` is not a commit id", revision.id)))
}

fn base_label(base: Option<&Revision>) -> String {
    base.map_or_else(
        || "the empty tree".to_owned(),
        |revision| format!("`{}`", revision.short),
    )
}

/// The files of one [`Side`], read by repo-relative path (`/`-separated).
///
/// A commit's files come from the object database: blobs as committed, with
/// no checkout filters (line endings, LFS) applied. The working tree is the
/// filesystem as it is, ignored files included: a file is readable there
/// even when [`Repository::changed_paths`] would not report it.
pub struct Snapshot {
    source: Source,
}

enum Source {
    Commit {
        repo: git2::Repository,
        tree: Oid,
        revision: Revision,
    },
    WorkingTree {
        root: PathBuf,
    },
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Snapshot").field(&self.label()).finish()
    }
}

impl Snapshot {
    /// The contents of the file at `path`; `None` when there is nothing
    /// there. Symbolic links are followed only inside the repository, and
    /// only regular files of at most [`confine::MAX_FILE_BYTES`] are read
    /// (see [`confine`]).
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>, RepoError> {
        self.read_capped(path, confine::MAX_FILE_BYTES)
    }

    /// [`Snapshot::read`] with a size cap of `limit` bytes.
    pub fn read_capped(&self, path: &str, limit: u64) -> Result<Option<Vec<u8>>, RepoError> {
        let relative = normalize(path)?;
        if relative.is_empty() || is_git_dir(&relative) {
            return Ok(None);
        }
        match &self.source {
            Source::Commit {
                repo,
                tree,
                revision,
            } => {
                let context = format!("cannot read `{relative}` at `{}`", revision.short);
                confine::read_in_tree(repo, *tree, &relative, limit, &|error| {
                    git(context.clone())(error)
                })
            }
            Source::WorkingTree { root } => confine::read_on_disk(root, &relative, limit),
        }
    }

    /// Names of the entries directly in `dir` (files, links, folders: the
    /// caller picks by name, and reading one that is not a regular file says
    /// so), sorted; empty when there is no such directory. `""` is the root.
    pub fn list(&self, dir: &str) -> Result<Vec<String>, RepoError> {
        let relative = normalize(dir)?;
        if is_git_dir(&relative) {
            return Ok(Vec::new());
        }
        let mut names = match &self.source {
            Source::Commit {
                repo,
                tree,
                revision,
            } => {
                let context = || format!("cannot list `{relative}` at `{}`", revision.short);
                let root = repo.find_tree(*tree).map_err(git(context()))?;
                let listed = if relative.is_empty() {
                    root
                } else {
                    let entry = match root.get_path(Path::new(&relative)) {
                        Ok(entry) => entry,
                        Err(error) if error.code() == ErrorCode::NotFound => {
                            return Ok(Vec::new());
                        }
                        Err(error) => return Err(git(context())(error)),
                    };
                    if entry.kind() != Some(ObjectType::Tree) {
                        return Ok(Vec::new());
                    }
                    repo.find_tree(entry.id()).map_err(git(context()))?
                };
                // Every kind of entry: a folder named `dev.toml` is listed,
                // so reading it says what is wrong instead of skipping it.
                listed
                    .iter()
                    .map(|entry| String::from_utf8_lossy(entry.name_bytes()).into_owned())
                    .collect::<Vec<_>>()
            }
            Source::WorkingTree { root } => confine::list_on_disk(root, &relative)?,
        };
        names.sort();
        Ok(names)
    }

    /// What the user sees for this side: the short id, or `working tree`.
    pub fn label(&self) -> String {
        match &self.source {
            Source::Commit { revision, .. } => revision.short.clone(),
            Source::WorkingTree { .. } => "working tree".to_owned(),
        }
    }

    /// The commit this snapshot reads; `None` for the working tree.
    pub fn revision(&self) -> Option<&Revision> {
        match &self.source {
            Source::Commit { revision, .. } => Some(revision),
            Source::WorkingTree { .. } => None,
        }
    }
}

/// `path` as `a/b/c`: no empty or `.` parts; refuses absolute paths and
/// `..`, which would leave the repository on one side and not the other.
pub fn normalize(path: &str) -> Result<String, RepoError> {
    let invalid = |rule| RepoError::InvalidPath {
        path: path.to_owned(),
        rule,
    };
    if path.starts_with('/') || path.contains('\\') {
        return Err(invalid(
            "must be relative to the repository root, with `/` between parts",
        ));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(invalid("must stay inside the repository (no `..`)"));
    }
    Ok(parts.join("/"))
}

/// Git's own folder is not part of either side.
fn is_git_dir(relative: &str) -> bool {
    relative == ".git" || relative.starts_with(".git/")
}
