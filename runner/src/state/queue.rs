//! The shared job queue, the replicas that take from it, and leases.
//!
//! Several `strata serve` processes (replicas) can share one PostgreSQL
//! state database behind a load balancer. Whichever replica receives a
//! webhook delivery records it here ([`State::enqueue_job`]: the delivery
//! id is unique, so a delivery sent to two replicas is queued once), and any
//! replica takes it ([`State::claim_job`]).
//!
//! - **Order:** jobs carry a *turn* (a pull request, `acme/infra#7`; a
//!   repository's pushes, `acme/infra`). A job is taken only when no job of
//!   its turn is running and none queued before it waits, so the jobs of one
//!   pull request run one at a time, in the order they came, on any replica.
//! - **Leases:** a taken job belongs to its replica until `lease_until`;
//!   each replica's heartbeat ([`State::heartbeat`]) extends the leases of
//!   everything it holds. A replica that dies (kill -9) stops beating, its
//!   leases run out, and another replica takes its jobs over: the claim says
//!   whose job it was ([`QueuedJob::taken_from`]).
//! - **Named leases** ([`State::acquire_lease`]) make one replica at a time
//!   do a thing: apply an environment, advance a promotion.
//! - **Runs** remember the replica that started them (`runs.owner`), so the
//!   runs a dead replica left running are found ([`State::orphaned_runs`])
//!   and handed to exactly one survivor ([`State::adopt_run`]) to reconcile.
//!
//! Times here are unix milliseconds: a lease of a few seconds needs them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::db::{DbError, Row, params};
use super::runs::{COLUMNS as RUN_COLUMNS, Run, run_from_row, with_stacks};
use super::{RunId, RunStatus, State, StateError};

tokio::task_local! {
    /// The queued job the current task does: the runs it starts remember it.
    static JOB: i64;
}

/// Run `work` as the queued job `id`: every run started in its task records
/// the job, so a replica taking the job over knows whether it had begun
/// applying ([`State::job_started_apply`]).
pub async fn in_job<F: std::future::Future>(id: i64, work: F) -> F::Output {
    JOB.scope(id, work).await
}

/// The queued job the current task does, if any.
pub(super) fn current_job() -> Option<i64> {
    JOB.try_with(|id| *id).ok()
}

/// How many times a job is taken before it is given up: a delivery whose
/// handling kills every replica that takes it must not go round forever.
pub const MAX_ATTEMPTS: u32 = 3;

/// How long finished jobs are kept (for `strata jobs`-style inspection and
/// metrics) before they are deleted.
const DONE_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// A job taken from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedJob {
    /// Its id in the queue.
    pub id: i64,
    /// The webhook delivery it came from (`X-GitHub-Delivery`).
    pub delivery: String,
    /// The webhook event (`pull_request`).
    pub event: String,
    /// The delivery's body, as received.
    pub payload: String,
    /// Its turn: jobs of one turn run one at a time, in order.
    pub turn: String,
    /// How many times it has been taken, this time included.
    pub attempts: u32,
    /// The replica that held it before, when this claim takes over a job
    /// whose replica stopped renewing its lease.
    pub taken_from: Option<String>,
    /// When it was queued.
    pub enqueued_at: SystemTime,
}

/// A replica that shares the state database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// Its id (`host-pid-random`).
    pub id: String,
    /// The strata version it runs.
    pub version: String,
    /// The machine it runs on.
    pub host: String,
    /// When it started.
    pub started_at: SystemTime,
    /// Its last heartbeat.
    pub seen_at: SystemTime,
}

/// A named lease and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What it guards (`apply acme/infra prod`).
    pub name: String,
    /// The replica holding it.
    pub owner: String,
    /// When it runs out unless renewed.
    pub until: SystemTime,
    /// When its holder took it.
    pub acquired_at: SystemTime,
}

impl State {
    /// Queue delivery `delivery` of webhook event `event`, with its body and
    /// turn: `true` when queued, `false` when the delivery was queued (or
    /// handled) before. Records the delivery as [`State::record_delivery`]
    /// does, in the same transaction.
    pub fn enqueue_job(
        &self,
        delivery: &str,
        event: &str,
        payload: &str,
        turn: &str,
        now: SystemTime,
    ) -> Result<bool, StateError> {
        let now_ms = millis(now);
        let cutoff = now_ms.saturating_sub(millis_of(DONE_RETENTION));
        self.write(
            || format!("queue webhook delivery `{delivery}`"),
            |sql| {
                if !super::deliveries::record(sql, delivery, event, now)? {
                    return Ok(false);
                }
                sql.execute(
                    "DELETE FROM jobs WHERE status = 'done' AND finished_at < ?1",
                    params![cutoff],
                )?;
                let queued = sql.execute(
                    "INSERT INTO jobs (delivery, event, payload, turn, status, enqueued_at) \
                     VALUES (?1, ?2, ?3, ?4, 'queued', ?5) ON CONFLICT (delivery) DO NOTHING",
                    params![delivery, event, payload, turn, now_ms],
                )?;
                Ok(queued == 1)
            },
        )
    }

    /// Take the next job for replica `owner`, leased until `now + lease`:
    /// the oldest queued job whose turn is free, or a running job whose
    /// lease ran out (its replica died). `None` when there is nothing to do.
    ///
    /// A job taken more than [`MAX_ATTEMPTS`] times is finished instead,
    /// and the next one looked for.
    pub fn claim_job(
        &self,
        owner: &str,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Option<QueuedJob>, StateError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(millis_of(lease));
        self.write(
            || format!("take a job from the queue for replica `{owner}`"),
            |sql| loop {
                let next = sql.query_opt(
                    "SELECT id, delivery, event, payload, turn, status, owner, attempts, \
                     enqueued_at FROM jobs j \
                     WHERE (j.status = 'queued' \
                            AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.turn = j.turn \
                                            AND r.status = 'running') \
                            AND NOT EXISTS (SELECT 1 FROM jobs e WHERE e.turn = j.turn \
                                            AND e.status = 'queued' AND e.id < j.id)) \
                        OR (j.status = 'running' AND j.lease_until < ?1) \
                     ORDER BY j.id LIMIT 1",
                    params![now_ms],
                    job_from_row,
                )?;
                let Some((mut job, previous)) = next else {
                    return Ok(None);
                };
                job.attempts += 1;
                if job.attempts > MAX_ATTEMPTS {
                    tracing::error!(
                        delivery = %job.delivery,
                        event = %job.event,
                        attempts = job.attempts - 1,
                        "a job was taken over too often (its replicas died handling it); giving it up"
                    );
                    sql.execute(
                        "UPDATE jobs SET status = 'done', owner = NULL, lease_until = NULL, \
                         finished_at = ?2 WHERE id = ?1",
                        params![job.id, now_ms],
                    )?;
                    continue;
                }
                sql.execute(
                    "UPDATE jobs SET status = 'running', owner = ?2, lease_until = ?3, \
                     attempts = ?4 WHERE id = ?1",
                    params![job.id, owner, until, job.attempts],
                )?;
                job.taken_from = previous.filter(|previous| previous != owner);
                return Ok(Some(job));
            },
        )
    }

    /// Finish job `id` of replica `owner`: `false` when the job is no longer
    /// its own (its lease ran out and another replica took it).
    pub fn finish_job(&self, id: i64, owner: &str, now: SystemTime) -> Result<bool, StateError> {
        self.with(
            || format!("finish job `{id}`"),
            |sql| {
                let finished = sql.execute(
                    "UPDATE jobs SET status = 'done', lease_until = NULL, finished_at = ?3 \
                     WHERE id = ?1 AND owner = ?2 AND status = 'running'",
                    params![id, owner, millis(now)],
                )?;
                Ok(finished == 1)
            },
        )
    }

    /// Put job `id` of replica `owner` back in the queue, first of its turn
    /// (its replica is shutting down before it started it).
    pub fn release_job(&self, id: i64, owner: &str) -> Result<bool, StateError> {
        self.with(
            || format!("put job `{id}` back in the queue"),
            |sql| {
                let released = sql.execute(
                    "UPDATE jobs SET status = 'queued', owner = NULL, lease_until = NULL, \
                     attempts = attempts - 1 WHERE id = ?1 AND owner = ?2 AND status = 'running'",
                    params![id, owner],
                )?;
                Ok(released == 1)
            },
        )
    }

    /// End the lease of every running job (a single server starting: the
    /// process that held them is gone): the next claim takes them over.
    pub fn expire_job_leases(&self) -> Result<usize, StateError> {
        self.with(
            || "take back the running jobs".to_owned(),
            |sql| {
                sql.execute(
                    "UPDATE jobs SET lease_until = 0 WHERE status = 'running'",
                    params![],
                )
            },
        )
    }

    /// How many jobs are queued and how many running, in every replica.
    pub fn job_counts(&self) -> Result<(u64, u64), StateError> {
        self.with(
            || "count the queued jobs".to_owned(),
            |sql| {
                sql.query_row(
                    "SELECT \
                     (SELECT count(*) FROM jobs WHERE status = 'queued') AS queued, \
                     (SELECT count(*) FROM jobs WHERE status = 'running') AS running",
                    params![],
                    |row| Ok((row.get("queued")?, row.get("running")?)),
                )
            },
        )
    }

    /// Replica `replica` is alive at `now`: record it, and extend the leases
    /// of every job and named lease it holds to `now + lease`.
    pub fn heartbeat(
        &self,
        replica: &Replica,
        now: SystemTime,
        lease: Duration,
    ) -> Result<(), StateError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(millis_of(lease));
        self.write(
            || format!("record the heartbeat of replica `{}`", replica.id),
            |sql| {
                sql.execute(
                    "INSERT INTO replicas (id, version, host, started_at, seen_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO UPDATE SET \
                     seen_at = excluded.seen_at",
                    params![
                        replica.id,
                        replica.version,
                        replica.host,
                        millis(replica.started_at),
                        now_ms
                    ],
                )?;
                sql.execute(
                    "UPDATE jobs SET lease_until = ?2 WHERE owner = ?1 AND status = 'running'",
                    params![replica.id, until],
                )?;
                sql.execute(
                    "UPDATE leases SET lease_until = ?2 WHERE owner = ?1",
                    params![replica.id, until],
                )?;
                // Replicas silent for a day are gone for good.
                sql.execute(
                    "DELETE FROM replicas WHERE seen_at < ?1",
                    params![now_ms.saturating_sub(millis_of(DONE_RETENTION))],
                )?;
                Ok(())
            },
        )
    }

    /// Replica `owner` stops (a clean shutdown): its named leases are
    /// released and it is forgotten. Jobs it still holds keep their leases
    /// and are taken over when those run out.
    pub fn leave(&self, owner: &str) -> Result<(), StateError> {
        self.write(
            || format!("record that replica `{owner}` stopped"),
            |sql| {
                sql.execute("DELETE FROM leases WHERE owner = ?1", params![owner])?;
                sql.execute("DELETE FROM replicas WHERE id = ?1", params![owner])?;
                Ok(())
            },
        )
    }

    /// The replicas that beat within `lease` before `now`, by id.
    pub fn replicas(&self, now: SystemTime, lease: Duration) -> Result<Vec<Replica>, StateError> {
        let since = millis(now).saturating_sub(millis_of(lease));
        self.with(
            || "list the replicas".to_owned(),
            |sql| {
                sql.query_map(
                    "SELECT id, version, host, started_at, seen_at FROM replicas \
                     WHERE seen_at >= ?1 ORDER BY id",
                    params![since],
                    |row| {
                        Ok(Replica {
                            id: row.get("id")?,
                            version: row.get("version")?,
                            host: row.get("host")?,
                            started_at: from_millis(row.get("started_at")?),
                            seen_at: from_millis(row.get("seen_at")?),
                        })
                    },
                )
            },
        )
    }

    /// Take the lease `name` for replica `owner` until `now + ttl`: `None`
    /// when it is now `owner`'s (taken, renewed, or taken over after its
    /// holder's ran out), or the lease another replica holds.
    pub fn acquire_lease(
        &self,
        name: &str,
        owner: &str,
        now: SystemTime,
        ttl: Duration,
    ) -> Result<Option<Lease>, StateError> {
        let now_ms = millis(now);
        let until = now_ms.saturating_add(millis_of(ttl));
        self.write(
            || format!("take the lease `{name}`"),
            |sql| {
                let held = sql.query_opt(
                    "SELECT name, owner, lease_until, acquired_at FROM leases WHERE name = ?1",
                    params![name],
                    lease_from_row,
                )?;
                match held {
                    Some(lease) if lease.owner != owner && millis(lease.until) >= now_ms => {
                        Ok(Some(lease))
                    }
                    Some(lease) if lease.owner == owner => {
                        sql.execute(
                            "UPDATE leases SET lease_until = ?2 WHERE name = ?1",
                            params![name, until],
                        )?;
                        Ok(None)
                    }
                    _ => {
                        sql.execute(
                            "INSERT INTO leases (name, owner, lease_until, acquired_at) \
                             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name) DO UPDATE SET \
                             owner = excluded.owner, lease_until = excluded.lease_until, \
                             acquired_at = excluded.acquired_at",
                            params![name, owner, until, now_ms],
                        )?;
                        Ok(None)
                    }
                }
            },
        )
    }

    /// Release lease `name` if `owner` holds it: whether it did.
    pub fn release_lease(&self, name: &str, owner: &str) -> Result<bool, StateError> {
        self.with(
            || format!("release the lease `{name}`"),
            |sql| {
                let released = sql.execute(
                    "DELETE FROM leases WHERE name = ?1 AND owner = ?2",
                    params![name, owner],
                )?;
                Ok(released == 1)
            },
        )
    }

    /// Every named lease held, by name.
    pub fn leases(&self) -> Result<Vec<Lease>, StateError> {
        self.with(
            || "list the leases".to_owned(),
            |sql| {
                sql.query_map(
                    "SELECT name, owner, lease_until, acquired_at FROM leases ORDER BY name",
                    params![],
                    lease_from_row,
                )
            },
        )
    }

    /// The runs still running whose replica is gone at `now`: it has not
    /// beaten within `lease`, and holds no job whose lease is current. Each
    /// with the replica that started it. Runs without an owner (written by
    /// a single server process) are left to [`State::unfinished_runs`].
    pub fn orphaned_runs(
        &self,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<(Run, String)>, StateError> {
        let now_ms = millis(now);
        let since = now_ms.saturating_sub(millis_of(lease));
        self.with(
            || "list the runs of stopped replicas".to_owned(),
            |sql| {
                let runs = sql.query_map(
                    &format!(
                        "SELECT {RUN_COLUMNS}, owner FROM runs r WHERE status = ?1 \
                         AND owner IS NOT NULL \
                         AND NOT EXISTS (SELECT 1 FROM replicas p WHERE p.id = r.owner \
                                         AND p.seen_at >= ?2) \
                         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.owner = r.owner \
                                         AND j.status = 'running' AND j.lease_until >= ?3) \
                         ORDER BY id"
                    ),
                    params![RunStatus::Running, since, now_ms],
                    |row| Ok((run_from_row(row)?, row.get::<_, String>("owner")?)),
                )?;
                runs.into_iter()
                    .map(|(run, owner)| Ok((with_stacks(sql, run)?, owner)))
                    .collect()
            },
        )
    }

    /// Whether queued job `id` started an apply (whatever became of it).
    pub fn job_started_apply(&self, id: i64) -> Result<bool, StateError> {
        self.with(
            || format!("read the runs of job `{id}`"),
            |sql| {
                sql.query_row(
                    "SELECT count(*) AS applies FROM runs WHERE job = ?1 AND kind = 'apply'",
                    params![id],
                    |row| row.get::<_, i64>("applies").map(|n| n > 0),
                )
            },
        )
    }

    /// Hand run `run` from stopped replica `from` to replica `to`: `true`
    /// for the one replica that gets it.
    pub fn adopt_run(&self, run: RunId, from: &str, to: &str) -> Result<bool, StateError> {
        self.with(
            || format!("take over run `{run}` from replica `{from}`"),
            |sql| {
                let adopted = sql.execute(
                    "UPDATE runs SET owner = ?3 WHERE id = ?1 AND owner = ?2",
                    params![run, from, to],
                )?;
                Ok(adopted == 1)
            },
        )
    }
}

fn job_from_row(row: &Row) -> Result<(QueuedJob, Option<String>), DbError> {
    let running = row.get::<_, String>("status")? == "running";
    Ok((
        QueuedJob {
            id: row.get("id")?,
            delivery: row.get("delivery")?,
            event: row.get("event")?,
            payload: row.get("payload")?,
            turn: row.get("turn")?,
            attempts: row.get("attempts")?,
            taken_from: None,
            enqueued_at: from_millis(row.get("enqueued_at")?),
        },
        if running { row.get("owner")? } else { None },
    ))
}

fn lease_from_row(row: &Row) -> Result<Lease, DbError> {
    Ok(Lease {
        name: row.get("name")?,
        owner: row.get("owner")?,
        until: from_millis(row.get("lease_until")?),
        acquired_at: from_millis(row.get("acquired_at")?),
    })
}

/// Milliseconds since the unix epoch; times before it are 0.
fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

fn millis_of(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}
