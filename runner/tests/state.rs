//! The state database through its public face, on real files in temp dirs:
//! what survives a reopen, what two pull requests see of each other's locks,
//! concurrent deliveries, run history, and the files it refuses to open.

use std::path::PathBuf;
use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata::state::{
    Holder, LockOutcome, NewRun, RunKind, RunStatus, SCHEMA_VERSION, StackRecord, State, StateError,
};
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const REPO: &str = "acme/infra";

/// A fresh temp dir and the path of a database inside it (not created yet).
fn database() -> std::io::Result<(TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("state.db");
    Ok((dir, path))
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn holder(pr: u64, head_sha: &str) -> Holder {
    Holder {
        pr,
        url: format!("https://github.com/{REPO}/pull/{pr}"),
        head_sha: head_sha.to_owned(),
        user: format!("user-{pr}"),
    }
}

fn new_run(pr: Option<u64>, kind: RunKind) -> NewRun {
    NewRun {
        repo: REPO.to_owned(),
        pr,
        environment: "prod".to_owned(),
        head_sha: "c0ffee".to_owned(),
        kind,
        comment_id: Some(77),
    }
}

fn stack(name: &str, status: &str, finished_at: Option<u64>, reason: Option<&str>) -> StackRecord {
    StackRecord {
        stack: name.to_owned(),
        status: status.to_owned(),
        started_at: at(100),
        finished_at: finished_at.map(at),
        reason: reason.map(str::to_owned),
    }
}

#[test]
fn the_state_handle_can_be_shared_between_threads() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    shareable::<State>();
}

#[test]
fn open_creates_missing_parent_directories() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("var/lib/strata/state.db");
    let state = State::open(&path)?;
    assert!(path.is_file());
    assert_eq!(state.path(), path);
    Ok(())
}

// Locks.

#[test]
fn locks_survive_reopening_the_file() -> TestResult {
    let (_dir, path) = database()?;
    {
        let state = State::open(&path)?;
        assert_eq!(
            state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?,
            LockOutcome::Acquired
        );
    }
    let reopened = State::open(&path)?;
    let lock = reopened.lock_of(REPO, "prod")?.ok_or("the lock was lost")?;
    assert_eq!(lock.repo, REPO);
    assert_eq!(lock.environment, "prod");
    assert_eq!(lock.holder, holder(12, "aaa"));
    assert_eq!(lock.acquired_at, at(1_000));
    Ok(())
}

#[test]
fn a_second_pr_is_told_which_pr_holds_the_lock() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    let outcome = state.lock(REPO, "prod", holder(13, "bbb"), at(1_001))?;
    let LockOutcome::HeldBy(lock) = outcome else {
        return Err(format!("pull request #13 got {outcome:?}").into());
    };
    assert_eq!(lock.holder, holder(12, "aaa"));
    assert_eq!(lock.acquired_at, at(1_000));
    // And #12 still holds it.
    let held = state.lock_of(REPO, "prod")?.ok_or("the lock was lost")?;
    assert_eq!(held.holder.pr, 12);
    Ok(())
}

#[test]
fn the_same_pr_locking_again_is_already_held_and_moves_the_head() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    let outcome = state.lock(REPO, "prod", holder(12, "bbb"), at(2_000))?;
    assert_eq!(outcome, LockOutcome::AlreadyHeld);
    let lock = state.lock_of(REPO, "prod")?.ok_or("the lock was lost")?;
    assert_eq!(lock.holder.head_sha, "bbb");
    assert_eq!(
        lock.acquired_at,
        at(1_000),
        "a refresh keeps the time it was taken"
    );
    Ok(())
}

#[test]
fn the_same_environment_of_another_repo_is_a_separate_lock() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    let outcome = state.lock("acme/other", "prod", holder(13, "bbb"), at(1_001))?;
    assert_eq!(outcome, LockOutcome::Acquired);
    assert_eq!(state.locks(REPO)?.len(), 1);
    assert_eq!(state.locks("acme/other")?.len(), 1);
    Ok(())
}

#[test]
fn unlock_by_another_pr_does_nothing() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    assert!(!state.unlock(REPO, "prod", Some(13))?);
    let lock = state
        .lock_of(REPO, "prod")?
        .ok_or("#13 released #12's lock")?;
    assert_eq!(lock.holder.pr, 12);
    Ok(())
}

#[test]
fn the_holder_and_a_forced_unlock_release_the_lock() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    state.lock(REPO, "staging", holder(12, "aaa"), at(1_000))?;
    assert!(state.unlock(REPO, "prod", Some(12))?);
    assert!(state.unlock(REPO, "staging", None)?);
    assert_eq!(state.locks(REPO)?, []);
    assert!(
        !state.unlock(REPO, "prod", None)?,
        "nothing left to release"
    );
    assert_eq!(
        state.lock(REPO, "prod", holder(13, "bbb"), at(1_001))?,
        LockOutcome::Acquired
    );
    Ok(())
}

#[test]
fn unlock_pr_releases_every_environment_of_the_pr_and_nothing_else() -> TestResult {
    let state = State::in_memory()?;
    state.lock(REPO, "staging", holder(12, "aaa"), at(1_000))?;
    state.lock(REPO, "prod", holder(12, "aaa"), at(1_000))?;
    state.lock(REPO, "dev", holder(13, "bbb"), at(1_000))?;
    state.lock("acme/other", "prod", holder(12, "ccc"), at(1_000))?;

    assert_eq!(state.unlock_pr(REPO, 12)?, ["prod", "staging"]);

    let left: Vec<(String, u64)> = state
        .locks(REPO)?
        .into_iter()
        .map(|lock| (lock.environment, lock.holder.pr))
        .collect();
    assert_eq!(left, [("dev".to_owned(), 13)]);
    assert!(state.lock_of("acme/other", "prod")?.is_some());
    assert_eq!(state.unlock_pr(REPO, 12)?, Vec::<String>::new());
    Ok(())
}

#[test]
fn locks_are_listed_by_environment() -> TestResult {
    let state = State::in_memory()?;
    for environment in ["staging", "prod", "dev"] {
        state.lock(REPO, environment, holder(12, "aaa"), at(1_000))?;
    }
    let environments: Vec<String> = state
        .locks(REPO)?
        .into_iter()
        .map(|lock| lock.environment)
        .collect();
    assert_eq!(environments, ["dev", "prod", "staging"]);
    Ok(())
}

// Deliveries.

#[test]
fn a_delivery_seen_twice_is_new_only_the_first_time_even_across_reopen() -> TestResult {
    let (_dir, path) = database()?;
    {
        let state = State::open(&path)?;
        assert!(state.record_delivery("72d3162e", "pull_request", at(1_000))?);
        assert!(!state.record_delivery("72d3162e", "pull_request", at(1_010))?);
    }
    let reopened = State::open(&path)?;
    assert!(!reopened.record_delivery("72d3162e", "pull_request", at(1_020))?);
    assert!(reopened.record_delivery("9a1b2c3d", "pull_request", at(1_030))?);
    Ok(())
}

#[test]
fn eight_threads_recording_one_delivery_get_exactly_one_true() -> TestResult {
    let (_dir, path) = database()?;
    let state = State::open(&path)?;
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let state = state.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                state.record_delivery("72d3162e", "issue_comment", at(1_000))
            })
        })
        .collect();
    let mut firsts = 0;
    for thread in threads {
        let first = thread.join().map_err(|_| "a thread panicked")??;
        firsts += usize::from(first);
    }
    assert_eq!(firsts, 1);
    Ok(())
}

#[test]
fn eight_connections_to_one_file_recording_one_delivery_get_exactly_one_true() -> TestResult {
    // As separate processes would: each thread opens the file itself, and
    // the first opens race to create the schema.
    let (_dir, path) = database()?;
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let path = path.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || -> Result<bool, StateError> {
                barrier.wait();
                let state = State::open(&path)?;
                state.record_delivery("72d3162e", "issue_comment", at(1_000))
            })
        })
        .collect();
    let mut firsts = 0;
    for thread in threads {
        let first = thread.join().map_err(|_| "a thread panicked")??;
        firsts += usize::from(first);
    }
    assert_eq!(firsts, 1);
    Ok(())
}

// Saved plans.

#[test]
fn a_saved_plan_is_replaced_per_environment_and_deleted_per_pr() -> TestResult {
    let state = State::in_memory()?;
    state.save_plan(REPO, 12, "prod", "aaa", r#"{"v":1}"#, at(1_000))?;
    state.save_plan(REPO, 12, "prod", "bbb", r#"{"v":2}"#, at(2_000))?;
    state.save_plan(REPO, 12, "dev", "bbb", r#"{"v":3}"#, at(2_000))?;
    state.save_plan(REPO, 13, "prod", "ccc", r#"{"v":4}"#, at(2_000))?;

    let prod = state.plan(REPO, 12, "prod")?.ok_or("the plan was lost")?;
    assert_eq!(prod.head_sha, "bbb");
    assert_eq!(prod.plan_json, r#"{"v":2}"#);
    assert_eq!(prod.saved_at, at(2_000));
    let environments: Vec<String> = state
        .plans(REPO, 12)?
        .into_iter()
        .map(|plan| plan.environment)
        .collect();
    assert_eq!(environments, ["dev", "prod"]);

    assert_eq!(state.delete_plans(REPO, 12)?, 2);
    assert_eq!(state.plans(REPO, 12)?, []);
    assert!(state.plan(REPO, 13, "prod")?.is_some(), "#13's plan stays");
    Ok(())
}

// Runs.

#[test]
fn an_unfinished_run_is_listed_after_reopen_and_disappears_once_finished() -> TestResult {
    let (_dir, path) = database()?;
    let (running, done) = {
        let state = State::open(&path)?;
        let running = state.start_run(new_run(Some(12), RunKind::Apply), at(1_000))?;
        let done = state.start_run(new_run(Some(12), RunKind::Plan), at(1_000))?;
        state.finish_run(done, RunStatus::Succeeded, None, at(1_005))?;
        (running, done)
    };
    let reopened = State::open(&path)?;
    let unfinished = reopened.unfinished_runs()?;
    let ids: Vec<_> = unfinished.iter().map(|run| run.id).collect();
    assert_eq!(ids, [running]);
    assert_ne!(running, done);

    reopened.finish_run(
        running,
        RunStatus::Interrupted,
        Some("the server restarted".to_owned()),
        at(2_000),
    )?;
    assert_eq!(reopened.unfinished_runs()?, []);
    let run = reopened.run(running)?.ok_or("the run was lost")?;
    assert_eq!(run.status, RunStatus::Interrupted);
    assert_eq!(run.finished_at, Some(at(2_000)));
    assert_eq!(run.summary.as_deref(), Some("the server restarted"));
    Ok(())
}

#[test]
fn a_started_run_reads_back_as_running_with_what_it_was_given() -> TestResult {
    let state = State::in_memory()?;
    let id = state.start_run(new_run(Some(12), RunKind::Apply), at(1_000))?;
    let run = state.run(id)?.ok_or("the run was lost")?;
    assert_eq!(run.id, id);
    assert_eq!(run.repo, REPO);
    assert_eq!(run.pr, Some(12));
    assert_eq!(run.environment, "prod");
    assert_eq!(run.head_sha, "c0ffee");
    assert_eq!(run.kind, RunKind::Apply);
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.started_at, at(1_000));
    assert_eq!(run.finished_at, None);
    assert_eq!(run.comment_id, Some(77));
    assert_eq!(run.summary, None);
    assert_eq!(run.stacks, []);
    state.set_run_comment(id, 78)?;
    assert_eq!(
        state.run(id)?.ok_or("the run was lost")?.comment_id,
        Some(78)
    );
    Ok(())
}

#[test]
fn stack_records_upsert_by_run_and_stack_in_first_recorded_order() -> TestResult {
    let state = State::in_memory()?;
    let id = state.start_run(new_run(Some(12), RunKind::Apply), at(1_000))?;
    let other = state.start_run(new_run(Some(12), RunKind::Apply), at(1_000))?;
    state.record_stack(id, stack("networking", "UPDATE_IN_PROGRESS", None, None))?;
    state.record_stack(id, stack("database", "UPDATE_IN_PROGRESS", None, None))?;
    state.record_stack(other, stack("networking", "UPDATE_IN_PROGRESS", None, None))?;
    state.record_stack(id, stack("networking", "UPDATE_COMPLETE", Some(160), None))?;
    state.record_stack(
        id,
        stack(
            "database",
            "UPDATE_FAILED",
            Some(170),
            Some("DBInstance: quota exceeded"),
        ),
    )?;

    let run = state.run(id)?.ok_or("the run was lost")?;
    assert_eq!(
        run.stacks,
        [
            stack("networking", "UPDATE_COMPLETE", Some(160), None),
            stack(
                "database",
                "UPDATE_FAILED",
                Some(170),
                Some("DBInstance: quota exceeded")
            ),
        ]
    );
    let other = state.run(other)?.ok_or("the run was lost")?;
    assert_eq!(
        other.stacks,
        [stack("networking", "UPDATE_IN_PROGRESS", None, None)]
    );
    Ok(())
}

#[test]
fn runs_of_a_pr_are_listed_oldest_first_with_their_stacks() -> TestResult {
    let state = State::in_memory()?;
    let first = state.start_run(new_run(Some(12), RunKind::Plan), at(1_000))?;
    state.start_run(new_run(Some(13), RunKind::Plan), at(1_001))?;
    state.start_run(new_run(None, RunKind::Apply), at(1_002))?;
    let second = state.start_run(new_run(Some(12), RunKind::Apply), at(1_003))?;
    state.record_stack(
        second,
        stack("networking", "CREATE_COMPLETE", Some(1_010), None),
    )?;

    let runs = state.runs(REPO, 12)?;
    let ids: Vec<_> = runs.iter().map(|run| run.id).collect();
    assert_eq!(ids, [first, second]);
    assert_eq!(runs[1].stacks.len(), 1);
    assert_eq!(state.runs("acme/other", 12)?, []);
    Ok(())
}

#[test]
fn an_unknown_run_is_named_when_recorded_or_finished() -> TestResult {
    let state = State::in_memory()?;
    let id = state.start_run(new_run(Some(12), RunKind::Plan), at(1_000))?;
    let unknown = strata::state::RunId(id.0 + 1);

    let error = state
        .record_stack(
            unknown,
            stack("networking", "CREATE_IN_PROGRESS", None, None),
        )
        .err()
        .ok_or("a stack of an unknown run was recorded")?;
    assert_eq!(
        error.to_string(),
        format!("no run `{unknown}` in the state database `:memory:`")
    );
    let error = state
        .finish_run(unknown, RunStatus::Failed, None, at(1_001))
        .err()
        .ok_or("an unknown run was finished")?;
    assert!(matches!(error, StateError::UnknownRun { run, .. } if run == unknown));
    assert_eq!(state.run(unknown)?, None);
    Ok(())
}

#[test]
fn finishing_a_run_as_running_is_refused() -> TestResult {
    let state = State::in_memory()?;
    let id = state.start_run(new_run(Some(12), RunKind::Plan), at(1_000))?;
    let error = state
        .finish_run(id, RunStatus::Running, None, at(1_001))
        .err()
        .ok_or("a run was finished as running")?;
    assert_eq!(
        error.to_string(),
        format!("cannot finish run `{id}` as `running`")
    );
    assert!(error.help().is_some());
    Ok(())
}

// Files it refuses.

#[test]
fn a_garbage_file_is_refused_with_an_error_naming_it_and_a_hint() -> TestResult {
    let (_dir, path) = database()?;
    let garbage = "this is a config file, not a database\n".repeat(100);
    std::fs::write(&path, &garbage)?;

    let error = State::open(&path)
        .err()
        .ok_or("a garbage file was opened")?;
    assert!(
        matches!(error, StateError::NotADatabase { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "cannot open the state database `{}`: file is not a database",
            path.display()
        )
    );
    let help = error.help().ok_or("no help")?;
    assert!(help.contains("move"), "{help}");
    assert_eq!(
        std::fs::read_to_string(&path)?,
        garbage,
        "the file was changed"
    );
    Ok(())
}

#[test]
fn a_database_from_a_newer_schema_is_refused_naming_both_versions() -> TestResult {
    let (_dir, path) = database()?;
    drop(State::open(&path)?);
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)?.pragma_update(None, "user_version", newer)?;

    let error = State::open(&path)
        .err()
        .ok_or("a newer database was opened")?;
    assert!(
        matches!(error, StateError::TooNew { found, supported, .. }
            if found == newer && supported == SCHEMA_VERSION),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(
        message.contains(&format!("schema version {newer}")),
        "{message}"
    );
    assert!(
        message.contains(&format!("versions up to {SCHEMA_VERSION}")),
        "{message}"
    );
    assert!(error.help().is_some());
    Ok(())
}

#[test]
fn every_lock_of_every_repository_is_listed_for_reconciliation() -> TestResult {
    let (_dir, path) = database()?;
    let state = State::open(&path)?;
    state.lock(REPO, "prod", holder(7, "a"), at(1))?;
    state.lock("acme/web", "dev", holder(3, "b"), at(2))?;
    state.lock(REPO, "dev", holder(8, "c"), at(3))?;
    let all: Vec<(String, String, u64)> = state
        .all_locks()?
        .into_iter()
        .map(|l| (l.repo, l.environment, l.holder.pr))
        .collect();
    assert_eq!(
        all,
        [
            ("acme/infra".to_owned(), "dev".to_owned(), 8),
            ("acme/infra".to_owned(), "prod".to_owned(), 7),
            ("acme/web".to_owned(), "dev".to_owned(), 3),
        ]
    );
    Ok(())
}

#[test]
fn an_apply_at_a_commit_is_found_while_running_or_succeeded_but_not_after_failing() -> TestResult {
    let (_dir, path) = database()?;
    let state = State::open(&path)?;
    assert_eq!(state.applies_at(REPO, "prod", "c0ffee")?, []);
    let failed = state.start_run(new_run(Some(7), RunKind::Apply), at(10))?;
    state.finish_run(failed, RunStatus::Failed, None, at(11))?;
    let planned = state.start_run(new_run(Some(7), RunKind::Plan), at(12))?;
    state.finish_run(planned, RunStatus::Succeeded, None, at(13))?;
    assert_eq!(state.applies_at(REPO, "prod", "c0ffee")?, []);

    let running = state.start_run(new_run(None, RunKind::Apply), at(14))?;
    let found: Vec<_> = state
        .applies_at(REPO, "prod", "c0ffee")?
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(found, [running]);
    state.finish_run(running, RunStatus::Succeeded, None, at(15))?;
    assert_eq!(state.applies_at(REPO, "prod", "c0ffee")?.len(), 1);
    assert_eq!(state.applies_at(REPO, "dev", "c0ffee")?, []);
    assert_eq!(state.applies_at(REPO, "prod", "other")?, []);
    Ok(())
}

fn promotion<'a>(
    commit: &'a str,
    pr: Option<u64>,
    touched: &'a [String],
    inputs: &'a std::collections::BTreeMap<String, String>,
) -> strata::state::NewPromotion<'a> {
    strata::state::NewPromotion {
        repo: REPO,
        workflow: "release",
        commit,
        pr,
        branch: "main",
        clone_url: "https://github.com/acme/infra.git",
        base: "c0",
        touched,
        inputs,
        dispatched: false,
    }
}

#[test]
fn what_an_environment_runs_survives_reopening_and_a_failed_apply_keeps_the_commit() -> TestResult {
    use std::collections::BTreeMap;
    use strata::state::Override;
    let (_dir, path) = database()?;
    let state = State::open(&path)?;
    assert_eq!(state.deployed(REPO, "dev")?, None);
    let all: BTreeMap<String, String> = [("networking", "n1"), ("s3", "s1")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    state.record_deployed(REPO, "dev", "c1", &all, &[], &[], true, None, at(10))?;
    drop(state);

    let state = State::open(&path)?;
    let deployed = state.deployed(REPO, "dev")?.ok_or("recorded")?;
    assert_eq!(deployed.commit, "c1");
    assert_eq!(deployed.templates, all);

    // A failed apply at c2 moved only s3: the environment still runs c1.
    let s3: BTreeMap<String, String> = [("s3".to_owned(), "s2".to_owned())].into();
    state.record_deployed(REPO, "dev", "c2", &s3, &[], &[], false, None, at(20))?;
    let deployed = state.deployed(REPO, "dev")?.ok_or("recorded")?;
    assert_eq!(deployed.commit, "c1");
    assert_eq!(deployed.templates["s3"], "s2");
    assert_eq!(deployed.templates["networking"], "n1");

    // A code-only deploy's overrides stay until the stack is deployed from git again.
    let image = Override {
        stack: "compute".to_owned(),
        parameter: "ApiImageTag".to_owned(),
        value: "1.42.0".to_owned(),
        run: 12,
    };
    state.record_deployed(
        REPO,
        "dev",
        "c2",
        &BTreeMap::new(),
        &[],
        std::slice::from_ref(&image),
        false,
        None,
        at(30),
    )?;
    assert_eq!(
        state.deployed(REPO, "dev")?.ok_or("recorded")?.overrides,
        [image]
    );
    let compute: BTreeMap<String, String> = [("compute".to_owned(), "k3".to_owned())].into();
    state.record_deployed(
        REPO,
        "dev",
        "c3",
        &compute,
        &["s3".to_owned()],
        &[],
        true,
        None,
        at(40),
    )?;
    let deployed = state.deployed(REPO, "dev")?.ok_or("recorded")?;
    assert_eq!(deployed.commit, "c3");
    assert!(deployed.overrides.is_empty());
    assert!(
        !deployed.templates.contains_key("s3"),
        "{:?}",
        deployed.templates
    );
    Ok(())
}

#[test]
fn a_merge_and_its_push_start_one_promotion_which_the_later_one_gives_its_pull_request()
-> TestResult {
    let state = State::in_memory()?;
    let touched = vec!["dev".to_owned()];
    let inputs = std::collections::BTreeMap::new();
    let (first, new) = state.start_promotion(&promotion("c1", None, &touched, &inputs), at(1))?;
    assert!(new);
    assert_eq!(first.pr, None);
    let (again, new) =
        state.start_promotion(&promotion("c1", Some(7), &touched, &inputs), at(2))?;
    assert!(!new);
    assert_eq!(again.pr, Some(7));
    assert_eq!(again.touched, touched);
    assert_eq!(state.promotions_of_pr(REPO, 7)?.len(), 1);
    Ok(())
}

#[test]
fn a_newer_promotion_supersedes_older_ones_of_the_same_workflow() -> TestResult {
    let state = State::in_memory()?;
    let touched = vec!["dev".to_owned()];
    let inputs = std::collections::BTreeMap::new();
    state.start_promotion(&promotion("c1", Some(1), &touched, &inputs), at(1))?;
    state.start_promotion(&promotion("c2", Some(2), &touched, &inputs), at(2))?;
    let active: Vec<String> = state
        .active_promotions(Some(REPO))?
        .into_iter()
        .map(|p| p.commit)
        .collect();
    assert_eq!(active, ["c2"]);
    state.finish_promotion(REPO, "release", "c2")?;
    assert!(state.active_promotions(None)?.is_empty());
    Ok(())
}

#[test]
fn stages_releases_and_approvals_are_recorded_per_promotion_and_a_restart_forgets_them()
-> TestResult {
    use strata::state::StageState;
    let state = State::in_memory()?;
    let touched = vec!["dev".to_owned(), "prod".to_owned()];
    let inputs = std::collections::BTreeMap::new();
    state.start_promotion(&promotion("c1", Some(7), &touched, &inputs), at(1))?;
    state.record_stage(REPO, "release", "c1", "dev", StageState::Running, at(2))?;
    state.record_stage(REPO, "release", "c1", "dev", StageState::Succeeded, at(5))?;
    state.release_stage(REPO, "release", "c1", "prod", "bob", at(6))?;
    state.release_stage(REPO, "release", "c1", "prod", "carol", at(7))?;
    state.approve_promotion(REPO, "release", "c1", "dave", at(8))?;
    state.approve_promotion(REPO, "release", "c1", "dave", at(9))?;
    let stages = state.stages(REPO, "release", "c1")?;
    assert_eq!(stages.len(), 1);
    assert_eq!(stages[0].state, StageState::Succeeded);
    assert_eq!(stages[0].started_at, at(2));
    assert_eq!(stages[0].finished_at, Some(at(5)));
    assert_eq!(
        state.released_stages(REPO, "release", "c1")?,
        [("prod".to_owned(), "bob".to_owned())]
    );
    assert_eq!(state.promotion_approvals(REPO, "release", "c1")?, ["dave"]);

    let mut inputs = std::collections::BTreeMap::new();
    inputs.insert("image_tag".to_owned(), "1.42.0".to_owned());
    let (restarted, new) =
        state.restart_promotion(&promotion("c1", Some(8), &touched, &inputs), at(10))?;
    assert!(new);
    assert_eq!(restarted.inputs, inputs);
    assert!(state.stages(REPO, "release", "c1")?.is_empty());
    assert!(state.released_stages(REPO, "release", "c1")?.is_empty());
    assert!(state.promotion_approvals(REPO, "release", "c1")?.is_empty());
    Ok(())
}
