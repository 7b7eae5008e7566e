//! The git layer against real repositories made in temp dirs: revisions,
//! files at a revision and in the working tree, changed paths, merge-bases,
//! empty and bare repositories.

use std::path::Path;

use git2::build::{CheckoutBuilder, RepoBuilder};
use git2::{IndexAddOption, RepositoryInitOptions, Signature, Time};
use strata::repo::{RepoError, Repository, Revision, Side, Snapshot};
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A new non-bare repository whose first branch is `main`.
fn init() -> Result<(TempDir, git2::Repository), git2::Error> {
    let dir = tempfile::tempdir().map_err(|e| git2::Error::from_str(&e.to_string()))?;
    let repo = git2::Repository::init_opts(
        dir.path(),
        RepositoryInitOptions::new().initial_head("main"),
    )?;
    Ok((dir, repo))
}

fn write(repo: &git2::Repository, path: &str, contents: &str) -> std::io::Result<()> {
    let full = workdir(repo).join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(full, contents)
}

fn remove(repo: &git2::Repository, path: &str) -> std::io::Result<()> {
    std::fs::remove_file(workdir(repo).join(path))
}

fn workdir(repo: &git2::Repository) -> &Path {
    repo.workdir().unwrap_or_else(|| repo.path())
}

/// Stage every change in the work tree (additions, edits, deletions;
/// ignored files stay out).
fn stage_all(repo: &git2::Repository) -> Result<(), git2::Error> {
    let mut index = repo.index()?;
    index.add_all(["*"], IndexAddOption::DEFAULT, None)?;
    index.update_all(["*"], None)?;
    index.write()
}

/// Stage everything and commit it on the current branch, with a fixed author
/// and time so commit ids are the same on every run.
fn commit_all(repo: &git2::Repository, message: &str) -> Result<git2::Oid, git2::Error> {
    stage_all(repo)?;
    let mut index = repo.index()?;
    let tree = repo.find_tree(index.write_tree()?)?;
    let signature = Signature::new(
        "Strata Test",
        "test@strata.invalid",
        &Time::new(1_700_000_000, 0),
    )?;
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit()?),
        Err(_) => None,
    };
    let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        message,
        &tree,
        &parents,
    )
}

/// Point `HEAD` at `branch` and make the work tree match it.
fn switch(repo: &git2::Repository, branch: &str) -> Result<(), git2::Error> {
    repo.set_head(&format!("refs/heads/{branch}"))?;
    repo.checkout_head(Some(CheckoutBuilder::new().force()))
}

fn open(repo: &git2::Repository) -> Result<Repository, RepoError> {
    Repository::discover(workdir(repo))
}

fn read_text(snapshot: &Snapshot, path: &str) -> Result<Option<String>, RepoError> {
    Ok(snapshot
        .read(path)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// Three commits on `main`: environments added, prod edited, dev removed.
fn history() -> Result<(TempDir, git2::Repository), Box<dyn std::error::Error>> {
    let (dir, repo) = init()?;
    write(&repo, "strata.toml", "[sandbox]\n")?;
    write(&repo, "environments/dev.toml", "project = \"dev-1\"\n")?;
    write(&repo, "environments/prod.toml", "project = \"prod-1\"\n")?;
    commit_all(&repo, "Add environments\n\nWith a body.")?;
    write(&repo, "environments/prod.toml", "project = \"prod-2\"\n")?;
    commit_all(&repo, "Edit prod")?;
    write(
        &repo,
        "environments/staging.toml",
        "project = \"staging-1\"\n",
    )?;
    commit_all(&repo, "Add staging")?;
    Ok((dir, repo))
}

#[test]
fn resolves_head_and_its_parent() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    let head = repo.resolve("HEAD")?;
    let parent = repo.resolve("HEAD~1")?;
    assert_eq!(head.summary, "Add staging");
    assert_eq!(parent.summary, "Edit prod");
    assert_eq!(head.id.len(), 40);
    assert_eq!(head.short, head.id[..7]);
    assert_eq!(repo.head()?, Some(head));
    assert_eq!(repo.resolve("HEAD~2")?.summary, "Add environments");
    Ok(())
}

#[test]
fn resolves_a_branch_a_tag_and_a_short_sha() -> TestResult {
    let (_dir, git) = history()?;
    let first = git.revparse_single("HEAD~2")?;
    git.branch("old", &first.peel_to_commit()?, false)?;
    let signature = Signature::new("Strata Test", "test@strata.invalid", &Time::new(0, 0))?;
    git.tag("v1", &first, &signature, "release 1", false)?;
    let repo = open(&git)?;

    let by_branch = repo.resolve("old")?;
    assert_eq!(by_branch.summary, "Add environments");
    assert_eq!(repo.resolve("v1")?, by_branch, "an annotated tag peels");
    assert_eq!(repo.resolve(&by_branch.short)?, by_branch);
    assert_eq!(repo.resolve(&by_branch.id)?, by_branch);
    assert_eq!(repo.resolve("main")?.summary, "Add staging");
    Ok(())
}

#[test]
fn unknown_revision_says_which_and_suggests_a_close_branch() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    let Err(error) = repo.resolve("mian") else {
        return Err("`mian` resolved".into());
    };
    assert_eq!(error.to_string(), "unknown revision `mian`");
    assert_eq!(error.help().as_deref(), Some("did you mean `main`?"));
    assert!(matches!(error, RepoError::UnknownRevision { ref spec, .. } if spec == "mian"));
    let Err(ancestor) = repo.resolve("mian~1") else {
        return Err("`mian~1` resolved".into());
    };
    assert_eq!(ancestor.help().as_deref(), Some("did you mean `main`?"));
    Ok(())
}

#[test]
fn unknown_revision_lists_the_local_branches_when_nothing_is_close() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    let Err(error) = repo.resolve("release-candidate") else {
        return Err("resolved".into());
    };
    assert_eq!(error.to_string(), "unknown revision `release-candidate`");
    assert_eq!(error.help().as_deref(), Some("local branches: `main`"));
    Ok(())
}

#[test]
fn unknown_revision_explains_a_missing_sha_and_a_too_short_history() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    let Err(missing) = repo.resolve("deadbeef") else {
        return Err("resolved".into());
    };
    assert_eq!(
        missing.help().as_deref(),
        Some("no commit id starts with `deadbeef`; if it was pushed elsewhere, fetch it first")
    );
    let Err(too_far) = repo.resolve("HEAD~10") else {
        return Err("resolved".into());
    };
    assert_eq!(too_far.to_string(), "unknown revision `HEAD~10`");
    assert_eq!(
        too_far.help().as_deref(),
        Some("`HEAD` exists, but its history is shorter than `HEAD~10` asks")
    );
    Ok(())
}

#[test]
fn a_tree_is_not_a_commit() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    let Err(error) = repo.resolve("HEAD^{tree}") else {
        return Err("resolved".into());
    };
    assert_eq!(
        error.to_string(),
        "`HEAD^{tree}` names a tree, not a commit"
    );
    Ok(())
}

#[test]
fn reads_a_file_at_an_older_revision_while_the_work_tree_has_moved_on() -> TestResult {
    let (_dir, git) = history()?;
    write(&git, "environments/prod.toml", "project = \"prod-3\"\n")?;
    remove(&git, "strata.toml")?;
    let repo = open(&git)?;
    let first = repo.resolve("HEAD~2")?;
    let old = repo.snapshot(&Side::Commit(first.clone()))?;

    assert_eq!(
        read_text(&old, "environments/prod.toml")?.as_deref(),
        Some("project = \"prod-1\"\n")
    );
    assert_eq!(
        read_text(&old, "strata.toml")?.as_deref(),
        Some("[sandbox]\n")
    );
    assert_eq!(old.read("environments/staging.toml")?, None);
    assert!(
        matches!(old.read("environments"), Err(RepoError::NotAFile { .. })),
        "a directory is not a file"
    );
    assert_eq!(old.read("nothing/here.toml")?, None);
    assert_eq!(old.label(), first.short);
    assert_eq!(old.revision(), Some(&first));
    Ok(())
}

#[test]
fn lists_environments_at_a_revision() -> TestResult {
    let (_dir, git) = history()?;
    write(&git, "environments/regions/eu.toml", "")?;
    commit_all(&git, "Add a nested folder")?;
    let repo = open(&git)?;

    let first = repo.snapshot(&Side::Commit(repo.resolve("HEAD~3")?))?;
    assert_eq!(first.list("environments")?, ["dev.toml", "prod.toml"]);
    let last = repo.snapshot(&Side::Commit(repo.resolve("HEAD")?))?;
    assert_eq!(
        last.list("environments/")?,
        ["dev.toml", "prod.toml", "regions", "staging.toml"],
        "every entry: callers pick by name, and reading a folder says it is one"
    );
    assert_eq!(last.list("")?, ["environments", "strata.toml"]);
    assert!(last.list("workflows")?.is_empty());
    assert!(last.list("strata.toml")?.is_empty());
    Ok(())
}

#[test]
fn the_working_tree_snapshot_sees_uncommitted_edits_and_untracked_files() -> TestResult {
    let (_dir, git) = history()?;
    write(&git, "environments/prod.toml", "project = \"prod-3\"\n")?;
    write(&git, "environments/qa.toml", "project = \"qa-1\"\n")?;
    remove(&git, "environments/dev.toml")?;
    let repo = open(&git)?;
    let tree = repo.snapshot(&Side::WorkingTree)?;

    assert_eq!(
        read_text(&tree, "environments/prod.toml")?.as_deref(),
        Some("project = \"prod-3\"\n")
    );
    assert_eq!(
        read_text(&tree, "./environments/qa.toml")?.as_deref(),
        Some("project = \"qa-1\"\n")
    );
    assert_eq!(tree.read("environments/dev.toml")?, None);
    assert!(matches!(
        tree.read("environments"),
        Err(RepoError::NotAFile { .. })
    ));
    assert_eq!(
        tree.read(".git/HEAD")?,
        None,
        "git's own files are not content"
    );
    assert_eq!(
        tree.list("environments")?,
        ["prod.toml", "qa.toml", "staging.toml"]
    );
    assert!(tree.list("workflows")?.is_empty());
    assert_eq!(tree.label(), "working tree");
    assert_eq!(tree.revision(), None);
    Ok(())
}

#[test]
fn paths_that_leave_the_repository_are_refused() -> TestResult {
    let (_dir, git) = history()?;
    let repo = open(&git)?;
    for side in [Side::WorkingTree, Side::Commit(repo.resolve("HEAD")?)] {
        let snapshot = repo.snapshot(&side)?;
        let Err(up) = snapshot.read("../secret.toml") else {
            return Err("`..` was accepted".into());
        };
        assert_eq!(
            up.to_string(),
            "path `../secret.toml` must stay inside the repository (no `..`)"
        );
        let Err(absolute) = snapshot.list("/etc") else {
            return Err("an absolute path was accepted".into());
        };
        assert_eq!(
            absolute.to_string(),
            "path `/etc` must be relative to the repository root, with `/` between parts"
        );
    }
    Ok(())
}

#[test]
fn changed_paths_between_two_commits_are_modified_added_deleted_and_renamed() -> TestResult {
    let (_dir, git) = history()?;
    write(&git, "environments/prod.toml", "project = \"prod-3\"\n")?;
    write(&git, "modules/cache.wasm", "\0asm")?;
    remove(&git, "environments/dev.toml")?;
    std::fs::rename(
        workdir(&git).join("environments/staging.toml"),
        workdir(&git).join("environments/stage.toml"),
    )?;
    commit_all(&git, "Rework")?;
    let repo = open(&git)?;
    let base = repo.resolve("HEAD~1")?;
    let head = Side::Commit(repo.resolve("HEAD")?);

    assert_eq!(
        repo.changed_paths(Some(&base), &head)?,
        [
            "environments/dev.toml",
            "environments/prod.toml",
            "environments/stage.toml",
            "environments/staging.toml",
            "modules/cache.wasm",
        ]
    );
    assert!(
        repo.changed_paths(Some(&base), &Side::Commit(base.clone()))?
            .is_empty()
    );
    Ok(())
}

#[test]
fn changed_paths_against_the_working_tree_are_staged_unstaged_and_untracked_not_ignored()
-> TestResult {
    let (_dir, git) = history()?;
    write(&git, ".gitignore", "build/\n*.log\n")?;
    commit_all(&git, "Ignore build output")?;
    // Staged: an edit and a deletion.
    write(&git, "environments/prod.toml", "project = \"prod-3\"\n")?;
    remove(&git, "environments/dev.toml")?;
    stage_all(&git)?;
    // Unstaged: an edit on top of the index.
    write(&git, "strata.toml", "[sandbox]\nmemory_mib = 64\n")?;
    // Untracked, in a new folder too.
    write(&git, "environments/qa.toml", "")?;
    write(&git, "modules/new/cache.wasm", "\0asm")?;
    // Ignored.
    write(&git, "build/out.json", "{}")?;
    write(&git, "debug.log", "")?;
    let repo = open(&git)?;
    let head = repo.resolve("HEAD")?;

    assert_eq!(
        repo.changed_paths(Some(&head), &Side::WorkingTree)?,
        [
            "environments/dev.toml",
            "environments/prod.toml",
            "environments/qa.toml",
            "modules/new/cache.wasm",
            "strata.toml",
        ]
    );
    let older = repo.resolve("HEAD~1")?;
    assert!(
        repo.changed_paths(Some(&older), &Side::WorkingTree)?
            .contains(&".gitignore".to_owned()),
        "against an older base, committed changes count too"
    );
    Ok(())
}

#[test]
fn from_the_empty_tree_everything_is_changed() -> TestResult {
    let (_dir, git) = history()?;
    write(&git, "environments/qa.toml", "")?;
    let repo = open(&git)?;
    let all = [
        "environments/dev.toml",
        "environments/prod.toml",
        "environments/staging.toml",
        "strata.toml",
    ];
    assert_eq!(
        repo.changed_paths(None, &Side::Commit(repo.resolve("HEAD")?))?,
        all
    );
    let mut with_untracked = all.to_vec();
    with_untracked.insert(2, "environments/qa.toml");
    assert_eq!(
        repo.changed_paths(None, &Side::WorkingTree)?,
        with_untracked
    );
    Ok(())
}

/// `main`: base, then a later commit; `feature` forks at base.
fn forked() -> Result<(TempDir, git2::Repository, git2::Oid), Box<dyn std::error::Error>> {
    let (dir, repo) = init()?;
    write(&repo, "environments/prod.toml", "project = \"prod-1\"\n")?;
    let fork = commit_all(&repo, "Base")?;
    repo.branch("feature", &repo.find_commit(fork)?, false)?;
    write(&repo, "environments/dev.toml", "")?;
    commit_all(&repo, "Later on main")?;
    switch(&repo, "feature")?;
    write(&repo, "environments/prod.toml", "project = \"prod-2\"\n")?;
    commit_all(&repo, "Feature work")?;
    Ok((dir, repo, fork))
}

#[test]
fn the_merge_base_of_a_feature_branch_with_main_is_found_via_main() -> TestResult {
    let (_dir, git, fork) = forked()?;
    let repo = open(&git)?;
    assert_eq!(repo.default_branch().as_deref(), Some("main"));
    let base = repo.default_base()?.ok_or("no default base")?;
    assert_eq!(base.id, fork.to_string());
    assert_eq!(base.summary, "Base");
    assert_eq!(
        repo.changed_paths(Some(&base), &Side::WorkingTree)?,
        ["environments/prod.toml"],
        "main's later commit is not part of the change"
    );
    Ok(())
}

#[test]
fn the_merge_base_is_found_via_origin_head() -> TestResult {
    let (_dir, git, fork) = forked()?;
    let main = git.refname_to_id("refs/heads/main")?;
    git.reference("refs/remotes/origin/main", main, false, "test: remote")?;
    git.reference_symbolic(
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/main",
        false,
        "test: remote head",
    )?;
    // Local `main` is stale: only `origin/HEAD` leads to the right base.
    git.find_reference("refs/heads/main")?.delete()?;
    let repo = open(&git)?;
    assert_eq!(repo.default_branch().as_deref(), Some("origin/main"));
    assert_eq!(
        repo.default_base()?.map(|base| base.id),
        Some(fork.to_string())
    );
    Ok(())
}

#[test]
fn origin_head_is_preferred_over_a_local_master() -> TestResult {
    let (_dir, git) = init()?;
    write(&git, "strata.toml", "")?;
    let first = commit_all(&git, "First")?;
    git.branch("master", &git.find_commit(first)?, false)?;
    let repo = open(&git)?;
    assert_eq!(repo.default_branch().as_deref(), Some("main"));
    git.find_reference("refs/heads/main")?
        .rename("refs/heads/trunk", false, "test")?;
    assert_eq!(repo.default_branch().as_deref(), Some("master"));
    git.reference("refs/remotes/origin/trunk", first, false, "test")?;
    git.reference_symbolic(
        "refs/remotes/origin/HEAD",
        "refs/remotes/origin/trunk",
        false,
        "test",
    )?;
    assert_eq!(repo.default_branch().as_deref(), Some("origin/trunk"));
    Ok(())
}

#[test]
fn no_default_base_without_a_default_branch() -> TestResult {
    let (_dir, git) = init()?;
    write(&git, "strata.toml", "")?;
    commit_all(&git, "First")?;
    git.find_reference("refs/heads/main")?
        .rename("refs/heads/trunk", false, "test")?;
    let repo = open(&git)?;
    assert_eq!(repo.default_branch(), None);
    assert_eq!(repo.default_base()?, None);
    Ok(())
}

#[test]
fn an_empty_repository_has_no_head() -> TestResult {
    let (_dir, git) = init()?;
    write(&git, "environments/dev.toml", "")?;
    let repo = open(&git)?;
    assert_eq!(repo.head()?, None);
    assert_eq!(repo.default_branch(), None);
    assert_eq!(repo.default_base()?, None);
    let Err(error) = repo.resolve("HEAD") else {
        return Err("`HEAD` resolved".into());
    };
    assert_eq!(error.to_string(), "unknown revision `HEAD`");
    assert_eq!(
        error.help().as_deref(),
        Some("the repository has no commits yet")
    );
    assert_eq!(
        repo.changed_paths(None, &Side::WorkingTree)?,
        ["environments/dev.toml"]
    );
    assert_eq!(
        repo.snapshot(&Side::WorkingTree)?.list("environments")?,
        ["dev.toml"]
    );
    Ok(())
}

#[test]
fn a_bare_clone_resolves_and_reads_files_and_refuses_a_working_tree_snapshot() -> TestResult {
    let (_dir, git) = history()?;
    let clone_dir = tempfile::tempdir()?;
    let dest = clone_dir.path().join("config.git");
    RepoBuilder::new()
        .bare(true)
        .clone(&workdir(&git).display().to_string(), &dest)?;
    let repo = Repository::discover(&dest)?;
    assert!(repo.is_bare());
    assert_eq!(repo.workdir(), None);

    let head = repo.head()?.ok_or("no head")?;
    assert_eq!(head.summary, "Add staging");
    assert_eq!(repo.resolve("origin/main")?, head);
    assert_eq!(repo.default_branch().as_deref(), Some("origin/main"));
    assert_eq!(
        repo.default_base()?.as_ref(),
        Some(&head),
        "on the default branch itself, the base is `HEAD`"
    );
    let parent = repo.resolve("HEAD~1")?;
    let snapshot = repo.snapshot(&Side::Commit(parent.clone()))?;
    assert_eq!(snapshot.list("environments")?, ["dev.toml", "prod.toml"]);
    assert_eq!(
        read_text(&snapshot, "environments/prod.toml")?.as_deref(),
        Some("project = \"prod-2\"\n")
    );
    assert_eq!(
        repo.changed_paths(Some(&parent), &Side::Commit(head))?,
        ["environments/staging.toml"]
    );

    let Err(error) = repo.snapshot(&Side::WorkingTree) else {
        return Err("a bare clone gave a working-tree snapshot".into());
    };
    assert!(matches!(error, RepoError::NoWorkingTree { .. }));
    assert_eq!(
        error.to_string(),
        format!(
            "`{}` is a bare repository: it has no working tree",
            dest.display()
        )
    );
    assert!(matches!(
        repo.changed_paths(Some(&parent), &Side::WorkingTree),
        Err(RepoError::NoWorkingTree { .. })
    ));
    Ok(())
}

#[test]
fn discovers_the_repository_from_a_subfolder() -> TestResult {
    let (_dir, git) = history()?;
    let repo = Repository::discover(&workdir(&git).join("environments"))?;
    assert!(!repo.is_bare());
    let root = repo.workdir().ok_or("no workdir")?;
    assert_eq!(root.canonicalize()?, workdir(&git).canonicalize()?);
    Ok(())
}

#[test]
fn a_folder_outside_any_repository_is_not_a_repository() -> TestResult {
    let dir = tempfile::tempdir()?;
    let Err(error) = Repository::discover(dir.path()) else {
        return Err("the temp dir lies inside a git repository".into());
    };
    assert_eq!(
        error.to_string(),
        format!("`{}` is not inside a git repository", dir.path().display())
    );
    assert!(error.help().is_some_and(|help| help.contains("--repo")));
    Ok(())
}

#[test]
fn snapshots_and_revisions_can_move_to_other_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Snapshot>();
    assert_send::<Revision>();
    assert_send::<Repository>();
}

#[test]
fn reads_workflows_at_a_revision() -> TestResult {
    use std::sync::Mutex;
    use strata::workspace::{Files, Workspace};

    let (_dir, git) = history()?;
    write(
        &git,
        "environments/prod.toml",
        "project = \"prod-3\"\nprotected = true\n[stacks.compute]\ntype = \"compute\"\n",
    )?;
    write(
        &git,
        "workflows/release.toml",
        "[on.push]\n[[stages]]\nname = \"prod\"\nenvironments = [\"prod\"]\nonly = [\"compute\"]\n",
    )?;
    write(&git, "workflows/README.md", "not a workflow\n")?;
    commit_all(&git, "Add a workflow")?;
    remove(&git, "workflows/release.toml")?;
    let repo = open(&git)?;
    let at = |revision: &str| -> Result<Workspace, Box<dyn std::error::Error>> {
        let snapshot = repo.snapshot(&Side::Commit(repo.resolve(revision)?))?;
        Workspace::from_files(workdir(&git), Files::Git(Mutex::new(snapshot)))
            .map_err(|d| format!("{d:?}").into())
    };

    let committed = at("HEAD")?;
    let infos = committed.environment_infos();
    assert!(infos["prod"].protected);
    assert_eq!(infos["prod"].stacks, ["compute"]);
    let (workflows, warnings) = committed.workflows().map_err(|d| format!("{d:?}"))?;
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!workflows.builtin);
    assert_eq!(
        workflows.get("release").map(|w| w.path.as_str()),
        Some("workflows/release.toml")
    );

    let before = at("HEAD~1")?;
    let (workflows, _) = before.workflows().map_err(|d| format!("{d:?}"))?;
    assert!(workflows.builtin, "no workflow files: the built-in default");

    let tree = Workspace::load(workdir(&git)).map_err(|d| format!("{d:?}"))?;
    assert!(
        tree.workflow_files().is_empty(),
        "removed from the work tree"
    );
    Ok(())
}

#[test]
fn a_committed_link_is_followed_inside_the_repository_and_refused_outside() -> TestResult {
    let (_dir, git) = history()?;
    let root = workdir(&git).to_path_buf();
    std::fs::create_dir_all(root.join("modules"))?;
    std::os::unix::fs::symlink("../environments/dev.toml", root.join("modules/inside.toml"))?;
    std::os::unix::fs::symlink("../../../etc/passwd", root.join("modules/evil.wasm"))?;
    std::os::unix::fs::symlink("/etc/passwd", root.join("modules/absolute.wasm"))?;
    std::os::unix::fs::symlink("loop.wasm", root.join("modules/loop.wasm"))?;
    commit_all(&git, "Add links")?;
    let repo = open(&git)?;
    for side in [Side::Commit(repo.resolve("HEAD")?), Side::WorkingTree] {
        let snapshot = repo.snapshot(&side)?;
        assert_eq!(
            read_text(&snapshot, "modules/inside.toml")?,
            read_text(&snapshot, "environments/dev.toml")?,
            "{side:?}: a link to a file in the repository reads that file"
        );
        for path in ["modules/evil.wasm", "modules/absolute.wasm"] {
            let error = snapshot.read(path).expect_err(path);
            assert!(
                matches!(error, RepoError::OutsideRepository { .. }),
                "{side:?}: {path}: {error}"
            );
        }
        let error = snapshot.read("modules/loop.wasm").expect_err("loop");
        assert!(
            matches!(error, RepoError::SymlinkLoop { .. }),
            "{side:?}: {error}"
        );
    }
    Ok(())
}
