//! The state database's contract, run against both backends: an SQLite file
//! (the embedded default) and a real PostgreSQL server started on a free
//! 127.0.0.1 port (Debian's `postgresql`; tests/run installs it). Every case
//! runs once per backend, on a database of its own.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use strata::state::stages::StageState;
use strata::state::waiting::Waiter;
use strata::state::{
    DriftRecord, Holder, LockOutcome, NewPromotion, NewRun, Replica, RunKind, RunStatus,
    StackRecord, State,
};
use strata_tests::postgres::Postgres;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One server for the whole binary; a database per case.
fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(|| Postgres::start().unwrap_or_else(|error| panic!("{error}")))
}

enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(String),
}

impl Backend {
    fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("temp dir"))
    }

    fn postgres(case: &str) -> Self {
        let url = postgres().database(case).expect("create a database");
        Self::Postgres(url)
    }

    fn location(&self) -> String {
        match self {
            Self::Sqlite(dir) => dir.path().join("state.db").display().to_string(),
            Self::Postgres(url) => url.clone(),
        }
    }

    fn open(&self) -> State {
        State::connect(&self.location()).expect("open the state database")
    }
}

/// `contract!(name, |backend| body)`: the case once on SQLite, once on
/// PostgreSQL.
macro_rules! contract {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[test]
            fn on_sqlite() -> TestResult {
                let run: fn(&Backend) -> TestResult = $body;
                run(&Backend::sqlite())
            }

            #[test]
            fn on_postgres() -> TestResult {
                let run: fn(&Backend) -> TestResult = $body;
                run(&Backend::postgres(stringify!($name)))
            }
        }
    };
}

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn holder(pr: u64) -> Holder {
    Holder {
        pr,
        url: format!("https://github.com/acme/infra/pull/{pr}"),
        head_sha: format!("{pr:040}"),
        user: "octocat".to_owned(),
    }
}

fn apply_run(pr: Option<u64>) -> NewRun {
    NewRun {
        repo: "acme/infra".to_owned(),
        pr,
        environment: "prod".to_owned(),
        head_sha: "abc".to_owned(),
        kind: RunKind::Apply,
        comment_id: None,
    }
}

fn replica(id: &str) -> Replica {
    Replica {
        id: id.to_owned(),
        version: "test".to_owned(),
        host: "localhost".to_owned(),
        started_at: at(1),
        seen_at: at(1),
    }
}

const LEASE: Duration = Duration::from_secs(10);

contract!(a_delivery_is_new_once, |backend| {
    let state = backend.open();
    assert!(state.record_delivery("d-1", "pull_request", at(1_000))?);
    assert!(!state.record_delivery("d-1", "pull_request", at(1_001))?);
    assert!(state.record_delivery("d-2", "pull_request", at(1_002))?);
    Ok(())
});

contract!(a_lock_is_held_refreshed_and_released, |backend| {
    let state = backend.open();
    assert_eq!(
        state.lock("acme/infra", "prod", holder(7), at(10))?,
        LockOutcome::Acquired
    );
    assert_eq!(
        state.lock("acme/infra", "prod", holder(7), at(20))?,
        LockOutcome::AlreadyHeld
    );
    let LockOutcome::HeldBy(lock) = state.lock("acme/infra", "prod", holder(8), at(30))? else {
        panic!("#8 took a lock #7 holds");
    };
    assert_eq!((lock.holder.pr, lock.acquired_at), (7, at(10)));
    assert!(!state.unlock("acme/infra", "prod", Some(8))?);
    assert!(state.unlock("acme/infra", "prod", Some(7))?);
    assert_eq!(state.lock_of("acme/infra", "prod")?, None);
    Ok(())
});

contract!(
    locks_list_in_byte_order_and_release_by_pull_request,
    |backend| {
        let state = backend.open();
        for environment in ["prod", "dev", "Staging", "_sandbox"] {
            state.lock("acme/infra", environment, holder(7), at(10))?;
        }
        state.lock("acme/other", "prod", holder(9), at(10))?;
        let names: Vec<String> = state
            .locks("acme/infra")?
            .into_iter()
            .map(|l| l.environment)
            .collect();
        // Byte order, as SQLite compares text, whatever the server's locale.
        assert_eq!(names, ["Staging", "_sandbox", "dev", "prod"]);
        assert_eq!(
            state.unlock_pr("acme/infra", 7)?,
            ["Staging", "_sandbox", "dev", "prod"]
        );
        assert_eq!(state.all_locks()?.len(), 1);
        // A forced unlock releases whoever holds it.
        assert!(state.unlock("acme/other", "prod", None)?);
        Ok(())
    }
);

contract!(two_processes_racing_for_a_lock_get_one_winner, |backend| {
    let states: Vec<State> = (0..2).map(|_| backend.open()).collect();
    for round in 0..10 {
        let environment = format!("env-{round}");
        let barrier = Arc::new(Barrier::new(2));
        let outcomes: Vec<LockOutcome> = std::thread::scope(|scope| {
            let handles: Vec<_> = states
                .iter()
                .enumerate()
                .map(|(i, state)| {
                    let barrier = Arc::clone(&barrier);
                    let environment = environment.clone();
                    scope.spawn(move || {
                        barrier.wait();
                        state
                            .lock("acme/infra", &environment, holder(i as u64 + 1), at(10))
                            .expect("lock")
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("thread"))
                .collect()
        });
        let won = outcomes
            .iter()
            .filter(|o| **o == LockOutcome::Acquired)
            .count();
        assert_eq!(won, 1, "round {round}: {outcomes:?}");
    }
    Ok(())
});

contract!(plans_are_saved_replaced_and_deleted, |backend| {
    let state = backend.open();
    state.save_plan("acme/infra", 7, "prod", "aaa", "{\"v\":1}", at(10))?;
    state.save_plan("acme/infra", 7, "prod", "bbb", "{\"v\":2}", at(20))?;
    state.save_plan("acme/infra", 7, "dev", "bbb", "{}", at(20))?;
    let plan = state.plan("acme/infra", 7, "prod")?.ok_or("no plan")?;
    assert_eq!(
        (plan.head_sha.as_str(), plan.plan_json.as_str()),
        ("bbb", "{\"v\":2}")
    );
    assert_eq!(state.plans("acme/infra", 7)?.len(), 2);
    assert_eq!(state.delete_plans("acme/infra", 7)?, 2);
    assert_eq!(state.plan("acme/infra", 7, "prod")?, None);
    Ok(())
});

contract!(
    runs_keep_their_stacks_in_the_order_they_started,
    |backend| {
        let state = backend.open();
        let id = state.start_run(apply_run(Some(7)), at(10))?;
        for stack in ["networking", "database", "compute"] {
            state.record_stack(
                id,
                StackRecord {
                    stack: stack.to_owned(),
                    status: "UPDATE_IN_PROGRESS".to_owned(),
                    started_at: at(11),
                    finished_at: None,
                    reason: None,
                },
            )?;
        }
        state.record_stack(
            id,
            StackRecord {
                stack: "networking".to_owned(),
                status: "UPDATE_COMPLETE".to_owned(),
                started_at: at(11),
                finished_at: Some(at(12)),
                reason: Some("done".to_owned()),
            },
        )?;
        assert_eq!(state.unfinished_runs()?.len(), 1);
        state.finish_run(
            id,
            RunStatus::Succeeded,
            Some("3 stacks".to_owned()),
            at(13),
        )?;
        let run = state.run(id)?.ok_or("run vanished")?;
        let stacks: Vec<&str> = run.stacks.iter().map(|s| s.stack.as_str()).collect();
        assert_eq!(stacks, ["networking", "database", "compute"]);
        assert_eq!(run.stacks[0].status, "UPDATE_COMPLETE");
        assert_eq!(run.status, RunStatus::Succeeded);
        assert!(state.unfinished_runs()?.is_empty());
        assert_eq!(state.applies_at("acme/infra", "prod", "abc")?.len(), 1);
        assert_eq!(state.runs("acme/infra", 7)?.len(), 1);
        // A run without a pull request keeps none.
        let other = state.start_run(apply_run(None), at(20))?;
        assert_eq!(state.run(other)?.ok_or("run vanished")?.pr, None);
        Ok(())
    }
);

contract!(deployed_templates_round_trip, |backend| {
    let state = backend.open();
    let templates = BTreeMap::from([("networking".to_owned(), "sha-1".to_owned())]);
    state.record_deployed(
        "acme/infra",
        "prod",
        "abc",
        &templates,
        &[],
        &[],
        true,
        None,
        at(10),
    )?;
    let deployed = state
        .deployed("acme/infra", "prod")?
        .ok_or("nothing deployed")?;
    assert_eq!(deployed.commit, "abc");
    assert_eq!(deployed.templates, templates);
    Ok(())
});

contract!(promotions_stages_and_approvals_round_trip, |backend| {
    let state = backend.open();
    let inputs = BTreeMap::new();
    let new = NewPromotion {
        repo: "acme/infra",
        workflow: "release",
        commit: "abc",
        pr: Some(7),
        branch: "main",
        clone_url: "https://github.com/acme/infra.git",
        base: "000",
        touched: &["prod".to_owned()],
        inputs: &inputs,
        dispatched: false,
    };
    let (_, created) = state.start_promotion(&new, at(10))?;
    assert!(created);
    let (_, created) = state.start_promotion(&new, at(11))?;
    assert!(!created);
    state.record_stage(
        "acme/infra",
        "release",
        "abc",
        "staging",
        StageState::Succeeded,
        at(12),
    )?;
    state.release_stage("acme/infra", "release", "abc", "prod", "alice", at(13))?;
    state.approve_promotion("acme/infra", "release", "abc", "bob", at(14))?;
    state.approve_promotion("acme/infra", "release", "abc", "bob", at(15))?;
    assert_eq!(state.stages("acme/infra", "release", "abc")?.len(), 1);
    assert_eq!(
        state.released_stages("acme/infra", "release", "abc")?,
        [("prod".to_owned(), "alice".to_owned())]
    );
    assert_eq!(
        state.promotion_approvals("acme/infra", "release", "abc")?,
        ["bob"]
    );
    assert_eq!(state.active_promotions(Some("acme/infra"))?.len(), 1);
    state.finish_promotion("acme/infra", "release", "abc")?;
    assert!(state.active_promotions(None)?.is_empty());
    Ok(())
});

contract!(waiting_pull_requests_round_trip, |backend| {
    let state = backend.open();
    let waiter = Waiter {
        environment: "prod".to_owned(),
        pr: 8,
        head_sha: "def".to_owned(),
        clone_url: "https://github.com/acme/infra.git".to_owned(),
        html_url: "https://github.com/acme/infra/pull/8".to_owned(),
        base_ref: "main".to_owned(),
        default_branch: "main".to_owned(),
        user: "octocat".to_owned(),
        since: at(10),
    };
    state.wait_for_lock("acme/infra", &waiter)?;
    state.wait_for_lock(
        "acme/infra",
        &Waiter {
            head_sha: "fed".to_owned(),
            ..waiter.clone()
        },
    )?;
    let waiting = state.waiting_for("acme/infra", &["prod".to_owned()])?;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].head_sha, "fed");
    state.stop_waiting("acme/infra", 8)?;
    assert!(
        state
            .waiting_for("acme/infra", &["prod".to_owned()])?
            .is_empty()
    );
    Ok(())
});

contract!(watches_schedules_and_drift_round_trip, |backend| {
    let state = backend.open();
    state.record_poll("acme/infra", "main", "https://x", Some("abc"), at(10))?;
    assert_eq!(
        state
            .watch("acme/infra", "main")?
            .ok_or("no watch")?
            .last_seen
            .as_deref(),
        Some("abc")
    );
    assert!(state.record_refused("acme/infra", "main", "fff")?);
    assert!(state.reset_watch("acme/infra", Some("main"))?);
    state.record_schedule_fired("acme/infra", "nightly", 0, at(20))?;
    assert_eq!(
        state.schedule_fired("acme/infra", "nightly", 0)?,
        Some(at(20))
    );
    let record = DriftRecord {
        repo: "acme/infra".to_owned(),
        environment: "prod".to_owned(),
        drifted: true,
        fingerprint: "f1".to_owned(),
        issue: Some(12),
        report: "{}".to_owned(),
        checked_at: at(30),
    };
    state.record_drift(&record)?;
    assert_eq!(state.drift("acme/infra", "prod")?, Some(record));
    assert_eq!(state.drifts()?.len(), 1);
    Ok(())
});

contract!(a_delivery_sent_to_two_replicas_is_queued_once, |backend| {
    let states: Vec<State> = (0..2).map(|_| backend.open()).collect();
    let barrier = Arc::new(Barrier::new(2));
    let queued: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = states
            .iter()
            .map(|state| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    state
                        .enqueue_job("d-1", "pull_request", "{}", "acme/infra#7", at(10))
                        .expect("enqueue")
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(queued.iter().filter(|q| **q).count(), 1, "{queued:?}");
    assert_eq!(states[0].job_counts()?, (1, 0));
    // A plain `record_delivery` of the same id is a redelivery too.
    assert!(!states[1].record_delivery("d-1", "pull_request", at(11))?);
    Ok(())
});

contract!(
    jobs_of_one_pull_request_run_in_order_one_at_a_time,
    |backend| {
        let state = backend.open();
        state.enqueue_job("d-1", "pull_request", "1", "acme/infra#7", at(10))?;
        state.enqueue_job("d-2", "issue_comment", "2", "acme/infra#7", at(11))?;
        state.enqueue_job("d-3", "pull_request", "3", "acme/infra#8", at(12))?;
        let first = state.claim_job("a", at(20), LEASE)?.ok_or("no job")?;
        assert_eq!(first.delivery, "d-1");
        // #7's next job waits for d-1; #8's does not.
        let second = state.claim_job("b", at(20), LEASE)?.ok_or("no job")?;
        assert_eq!(second.delivery, "d-3");
        assert_eq!(state.claim_job("b", at(20), LEASE)?, None);
        assert!(state.finish_job(first.id, "a", at(21))?);
        let third = state.claim_job("b", at(22), LEASE)?.ok_or("no job")?;
        assert_eq!(
            (third.delivery.as_str(), third.payload.as_str()),
            ("d-2", "2")
        );
        assert_eq!(third.taken_from, None);
        Ok(())
    }
);

contract!(
    a_dead_replicas_job_is_taken_over_when_its_lease_runs_out,
    |backend| {
        let state = backend.open();
        state.enqueue_job("d-1", "issue_comment", "{}", "acme/infra#7", at(10))?;
        state.heartbeat(&replica("a"), at(10), LEASE)?;
        let job = state.claim_job("a", at(10), LEASE)?.ok_or("no job")?;
        // While "a" beats, its lease is renewed and nobody takes the job.
        state.heartbeat(&replica("a"), at(15), LEASE)?;
        assert_eq!(state.claim_job("b", at(24), LEASE)?, None);
        // "a" stops beating: after its lease, "b" takes the job over.
        let taken = state
            .claim_job("b", at(26), LEASE)?
            .ok_or("not taken over")?;
        assert_eq!(taken.id, job.id);
        assert_eq!(taken.taken_from.as_deref(), Some("a"));
        assert_eq!(taken.attempts, 2);
        // The dead replica cannot finish what is no longer its own.
        assert!(!state.finish_job(job.id, "a", at(27))?);
        assert!(state.finish_job(job.id, "b", at(27))?);
        Ok(())
    }
);

contract!(a_job_taken_over_too_often_is_given_up, |backend| {
    let state = backend.open();
    state.enqueue_job("d-1", "pull_request", "{}", "acme/infra#7", at(10))?;
    let mut now = 10;
    for attempt in 1..=3 {
        let job = state
            .claim_job(&format!("r{attempt}"), at(now), LEASE)?
            .ok_or("no job")?;
        assert_eq!(job.attempts, attempt);
        now += 11;
    }
    assert_eq!(state.claim_job("r4", at(now), LEASE)?, None);
    assert_eq!(state.job_counts()?, (0, 0));
    Ok(())
});

contract!(a_named_lease_has_one_holder_until_it_runs_out, |backend| {
    let state = backend.open();
    assert_eq!(state.acquire_lease("apply prod", "a", at(10), LEASE)?, None);
    let held = state
        .acquire_lease("apply prod", "b", at(15), LEASE)?
        .ok_or("b took a's lease")?;
    assert_eq!(held.owner, "a");
    // Renewed by a's heartbeat.
    state.heartbeat(&replica("a"), at(18), LEASE)?;
    assert!(
        state
            .acquire_lease("apply prod", "b", at(25), LEASE)?
            .is_some()
    );
    // Released: b takes it at once.
    assert!(state.release_lease("apply prod", "a")?);
    assert_eq!(state.acquire_lease("apply prod", "b", at(26), LEASE)?, None);
    // Run out: c takes it over.
    assert_eq!(state.acquire_lease("apply prod", "c", at(40), LEASE)?, None);
    assert_eq!(state.leases()?[0].owner, "c");
    Ok(())
});

contract!(
    runs_of_a_dead_replica_are_adopted_by_one_survivor,
    |backend| {
        let state = backend.open();
        state.heartbeat(&replica("a"), at(10), LEASE)?;
        let run = state
            .for_replica("a")
            .start_run(apply_run(Some(7)), at(10))?;
        let single = state.start_run(apply_run(Some(8)), at(10))?;
        assert!(state.orphaned_runs(at(15), LEASE)?.is_empty(), "a is alive");
        let orphaned = state.orphaned_runs(at(30), LEASE)?;
        assert_eq!(orphaned.len(), 1, "{orphaned:?}");
        assert_eq!((orphaned[0].0.id, orphaned[0].1.as_str()), (run, "a"));
        assert!(state.adopt_run(run, "a", "b")?);
        assert!(!state.adopt_run(run, "a", "c")?);
        assert_ne!(single, run);
        state.heartbeat(&replica("b"), at(30), LEASE)?;
        assert!(state.orphaned_runs(at(31), LEASE)?.is_empty(), "b is alive");
        assert_eq!(state.replicas(at(31), LEASE)?.len(), 1);
        Ok(())
    }
);

contract!(a_job_knows_whether_it_began_an_apply, |backend| {
    let state = backend.open();
    state.enqueue_job("d-1", "issue_comment", "{}", "acme/infra#7", at(10))?;
    state.enqueue_job("d-2", "pull_request", "{}", "acme/infra#8", at(10))?;
    let apply = state.claim_job("a", at(10), LEASE)?.ok_or("no job")?;
    let plan = state.claim_job("a", at(10), LEASE)?.ok_or("no job")?;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    runtime.block_on(strata::state::in_job(apply.id, async {
        state.start_run(apply_run(Some(7)), at(11))
    }))?;
    assert!(state.job_started_apply(apply.id)?);
    assert!(!state.job_started_apply(plan.id)?);
    // A run outside any job belongs to none.
    state.start_run(apply_run(Some(8)), at(12))?;
    assert!(!state.job_started_apply(plan.id)?);
    Ok(())
});

contract!(a_second_open_finds_the_schema_migrated, |backend| {
    let first = backend.open();
    first.record_delivery("d-1", "push", at(10))?;
    let second = backend.open();
    assert!(!second.record_delivery("d-1", "push", at(11))?);
    assert!(second.ping().is_ok());
    Ok(())
});

#[test]
fn several_replicas_starting_together_migrate_once() -> TestResult {
    let url = postgres().database("starting_together")?;
    let barrier = Arc::new(Barrier::new(4));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let barrier = Arc::clone(&barrier);
                let url = url.clone();
                scope.spawn(move || {
                    barrier.wait();
                    State::connect(&url).map(|_| ())
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("thread").expect("open");
        }
    });
    let version = postgres().psql("starting_together", "SELECT version FROM strata_schema")?;
    assert_eq!(version, strata::state::SCHEMA_VERSION.to_string());
    Ok(())
}

#[test]
fn a_database_of_a_newer_schema_is_refused_politely() -> TestResult {
    let url = postgres().database("newer_schema")?;
    State::connect(&url)?;
    postgres().psql("newer_schema", "UPDATE strata_schema SET version = 99")?;
    let error = State::connect(&url)
        .err()
        .ok_or("a newer schema was opened")?;
    let message = error.to_string();
    assert!(message.contains("schema version 99"), "{message}");
    assert!(message.contains("rolling upgrade"), "{message}");
    Ok(())
}

#[test]
fn a_replica_of_the_previous_version_keeps_working_after_the_upgrade() -> TestResult {
    // The previous version's statements, against the schema this version
    // migrates to: every migration is additive.
    let url = postgres().database("previous_version")?;
    let state = State::connect(&url)?;
    postgres().psql(
        "previous_version",
        "INSERT INTO runs (repo, pr, environment, head_sha, kind, status, started_at) \
         VALUES ('acme/infra', 7, 'prod', 'abc', 'apply', 'running', 10)",
    )?;
    postgres().psql(
        "previous_version",
        "INSERT INTO deliveries (id, event, received_at) VALUES ('old-1', 'push', 10)",
    )?;
    assert_eq!(state.unfinished_runs()?.len(), 1);
    assert!(!state.record_delivery("old-1", "push", at(11))?);
    Ok(())
}

#[test]
fn the_password_comes_from_the_environment_and_never_shows() -> TestResult {
    let error = State::connect("postgres://strata:hunter2@127.0.0.1:1/nothing")
        .err()
        .ok_or("connected to port 1")?;
    let message = error.to_string();
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        message.contains("postgres://strata@127.0.0.1:1/nothing"),
        "{message}"
    );
    Ok(())
}

#[test]
fn an_address_strata_cannot_read_is_named_with_help() -> TestResult {
    let error = State::connect("postgres://h/db?sslmode=sometimes")
        .err()
        .ok_or("an invalid sslmode was accepted")?;
    assert!(error.to_string().contains("postgres://h/db"), "{error}");
    assert!(
        error
            .help()
            .is_some_and(|help| help.contains("postgres://USER@HOST"))
    );
    Ok(())
}

#[test]
fn sslmode_require_speaks_tls_to_a_server_whose_certificate_it_trusts() -> TestResult {
    // This server rejects plain connections, so one that works is TLS.
    let (server, tls) = Postgres::start_tls_only()?;
    let url = server.database("over_tls")?;
    assert!(
        State::connect(&format!("{url}?sslmode=disable")).is_err(),
        "the server took a plain connection"
    );
    let modes = [("require", "a"), ("verify-ca", "b"), ("verify-full", "c")];
    for (before, (mode, replica)) in modes.into_iter().enumerate() {
        let state = State::connect(&format!(
            "{url}?sslmode={mode}&sslrootcert={}",
            tls.ca().display()
        ))
        .map_err(|e| format!("sslmode={mode}: {e}"))?;
        assert_eq!(
            state.acquire_lease(&format!("over {mode}"), replica, at(10), LEASE)?,
            None
        );
        assert_eq!(
            state.leases()?.len(),
            before + 1,
            "each mode's lease is kept"
        );
    }
    // A certificate no trusted CA signed is refused, and the error says so.
    let stranger = tls.another_ca("stranger")?;
    let error = State::connect(&format!(
        "{url}?sslmode=require&sslrootcert={}",
        stranger.display()
    ))
    .err()
    .ok_or("connected to a server whose certificate no trusted CA signed")?;
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    assert!(
        error
            .help()
            .is_some_and(|help| help.contains("sslrootcert=")),
        "{:?}",
        error.help()
    );
    Ok(())
}

#[test]
fn sslmode_require_insists_on_tls_and_says_so() -> TestResult {
    // The tests' server has no certificate: a connection that requires TLS
    // must fail rather than fall back to plain text.
    let url = postgres().database("tls_required")?;
    let error = State::connect(&format!("{url}?sslmode=require"))
        .err()
        .ok_or("connected without TLS although sslmode=require")?;
    let message = error.to_string().to_lowercase();
    assert!(
        message.contains("tls") || message.contains("ssl"),
        "{message}"
    );
    // A CA file that is not there is named.
    let error = State::connect(&format!(
        "{url}?sslmode=require&sslrootcert=/nonexistent/ca.pem"
    ))
    .err()
    .ok_or("a missing CA file was accepted")?;
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    assert!(State::connect(&format!("{url}?sslmode=disable")).is_ok());
    Ok(())
}
