//! Replicas: the worker as one of several `strata serve` processes sharing
//! a PostgreSQL state database.
//!
//! - Jobs come from the shared queue ([`State::claim_job`]) instead of
//!   memory: whichever replica received a delivery, any replica may take
//!   it, and the jobs of one pull request still run one at a time, in order.
//! - A heartbeat ([`State::heartbeat`]) every third of the lease keeps this
//!   replica's jobs and leases its own. When another replica stops beating
//!   (kill -9), its jobs are taken over once their leases run out: the runs
//!   it left running are adopted by exactly one survivor and reported as
//!   the single-process restart reports them (interrupted, with the stacks'
//!   real CloudFormation states). A job whose apply was interrupted is not
//!   run again — a person decides, as after a restart; any other job (a
//!   plan, a command that had not started applying) runs again.
//! - Named leases ([`State::acquire_lease`]) keep an environment's applies
//!   and a promotion's steps to one replica at a time.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Notify;
use tokio_util::task::TaskTracker;

use super::{Failure, Worker};
use crate::server::http::Job;
use crate::server::webhook::Event;
use crate::state::{QueuedJob, Replica, State};

/// How often the queue is looked at when nothing wakes the worker (another
/// replica received the delivery).
pub const QUEUE_POLL: Duration = Duration::from_millis(200);

/// How many jobs one replica runs at once; the rest stay queued for the
/// other replicas.
pub const MAX_RUNNING_JOBS: usize = 8;

/// How long a replica's jobs and leases stay its own without a heartbeat,
/// unless `--lease` says otherwise.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// The worker's part in a group of replicas.
#[derive(Debug, Clone)]
pub struct Replication {
    /// This replica.
    pub replica: Replica,
    /// How long its jobs and leases last without a heartbeat.
    pub lease: Duration,
    /// Rung by the listener when it queued a delivery.
    pub wake: Arc<Notify>,
}

impl Replication {
    /// A replica of this strata on this machine, with a fresh id.
    pub fn new(lease: Duration) -> Self {
        let host = hostname();
        let now = SystemTime::now();
        Self {
            replica: Replica {
                id: format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..)),
                version: env!("CARGO_PKG_VERSION").to_owned(),
                host,
                started_at: now,
                seen_at: now,
            },
            lease,
            wake: Arc::new(Notify::new()),
        }
    }
}

/// A named lease held while it lives; released when dropped.
pub(super) struct Exclusive {
    state: State,
    name: String,
    owner: String,
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        if let Err(error) = self.state.release_lease(&self.name, &self.owner) {
            tracing::warn!(%error, lease = %self.name, "cannot release a lease; it runs out by itself");
        }
    }
}

impl Worker {
    /// Take part in a group of replicas sharing the state database: jobs
    /// come from its queue, runs are recorded as this replica's.
    pub fn with_replication(mut self, replication: Replication) -> Self {
        self.state = self.state.for_replica(&replication.replica.id);
        self.replication = Some(replication);
        self
    }

    /// The replica this worker is, when it is one.
    pub fn replication(&self) -> Option<&Replication> {
        self.replication.as_ref()
    }

    /// Hold the lease `name` (waiting while another replica holds it), so one
    /// replica at a time does what it guards. `None` for a single process:
    /// its in-process turns are enough.
    pub(super) async fn exclusive(&self, name: String) -> Result<Option<Exclusive>, Failure> {
        let Some(replication) = &self.replication else {
            return Ok(None);
        };
        let owner = replication.replica.id.clone();
        let mut told = false;
        loop {
            match self
                .state
                .acquire_lease(&name, &owner, SystemTime::now(), replication.lease)
            {
                Ok(None) => {
                    return Ok(Some(Exclusive {
                        state: self.state.clone(),
                        name,
                        owner,
                    }));
                }
                Ok(Some(held)) if !told => {
                    tracing::info!(lease = %name, holder = %held.owner, "waiting for another replica");
                    told = true;
                }
                Ok(Some(_)) => {}
                Err(error) => return Err(error.into()),
            }
            tokio::select! {
                () = self.shutdown.cancelled() => {
                    return Err(Failure(format!("the server stopped while waiting for `{name}`")));
                }
                () = tokio::time::sleep(QUEUE_POLL) => {}
            }
        }
    }

    /// Take every job this replica may run now from the shared queue, and
    /// start them on `running`.
    pub(super) fn claim_jobs(self: &Arc<Self>, running: &TaskTracker) {
        let Some(replication) = &self.replication else {
            return;
        };
        while self.queued_running.load(Ordering::SeqCst) < MAX_RUNNING_JOBS {
            let claimed = self.state.claim_job(
                &replication.replica.id,
                SystemTime::now(),
                replication.lease,
            );
            match claimed {
                Ok(Some(job)) => {
                    self.queued_running.fetch_add(1, Ordering::SeqCst);
                    let worker = Arc::clone(self);
                    running.spawn(async move {
                        worker.handle_queued(job).await;
                        worker.queued_running.fetch_sub(1, Ordering::SeqCst);
                    });
                }
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "cannot take a job from the queue");
                    return;
                }
            }
        }
    }

    /// Do one job from the shared queue, then mark it done.
    async fn handle_queued(&self, queued: QueuedJob) {
        let Some(replication) = &self.replication else {
            return;
        };
        let me = replication.replica.id.as_str();
        if let Some(from) = &queued.taken_from {
            tracing::warn!(
                delivery = %queued.delivery,
                replica = %from,
                "took over a job from a replica that stopped"
            );
            // What it left running is reported (by this replica, or by
            // another's sweep); whether it had begun applying decides.
            self.take_over(Some(from)).await;
            if self.state.job_started_apply(queued.id).unwrap_or(true) {
                tracing::warn!(
                    delivery = %queued.delivery,
                    "its apply was interrupted and is reported; it is not run again"
                );
                self.finish_queued(&queued, me);
                return;
            }
        }
        match Event::parse(&queued.event, queued.payload.as_bytes()) {
            Ok(event) => {
                let waited = SystemTime::now()
                    .duration_since(queued.enqueued_at)
                    .unwrap_or_default();
                let received_at = Instant::now()
                    .checked_sub(waited)
                    .unwrap_or_else(Instant::now);
                let job = Job {
                    delivery: queued.delivery.clone(),
                    event,
                    received_at,
                };
                crate::state::in_job(queued.id, self.handle(job)).await;
            }
            Err(error) => {
                tracing::error!(delivery = %queued.delivery, %error, "a queued delivery cannot be read");
            }
        }
        self.finish_queued(&queued, me);
    }

    fn finish_queued(&self, queued: &QueuedJob, me: &str) {
        match self.state.finish_job(queued.id, me, SystemTime::now()) {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                delivery = %queued.delivery,
                "another replica took this job over while it ran (this replica's lease ran out)"
            ),
            Err(error) => {
                tracing::warn!(%error, delivery = %queued.delivery, "cannot mark a job done")
            }
        }
    }

    /// Beat until shutdown, every third of the lease; after each beat, take
    /// over what stopped replicas left running. On shutdown, leave the
    /// group (named leases released).
    pub(super) async fn beat(self: Arc<Self>) {
        let Some(replication) = self.replication.clone() else {
            return;
        };
        let every = (replication.lease / 3).max(Duration::from_millis(100));
        loop {
            if let Err(error) =
                self.state
                    .heartbeat(&replication.replica, SystemTime::now(), replication.lease)
            {
                tracing::warn!(%error, "cannot record this replica's heartbeat");
            } else {
                self.take_over(None).await;
            }
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                () = tokio::time::sleep(every) => {}
            }
        }
    }

    /// Leave the group of replicas: named leases released, this replica
    /// forgotten. Jobs still held are taken over when their leases run out.
    pub(super) fn leave(&self) {
        if let Some(replication) = &self.replication
            && let Err(error) = self.state.leave(&replication.replica.id)
        {
            tracing::warn!(%error, "cannot record that this replica stopped");
        }
    }

    /// Adopt and report the runs stopped replicas left running (only those
    /// of replica `from`, when given): how many this replica took.
    pub(super) async fn take_over(&self, from: Option<&str>) -> usize {
        let Some(replication) = &self.replication else {
            return 0;
        };
        let orphans = match self
            .state
            .orphaned_runs(SystemTime::now(), replication.lease)
        {
            Ok(orphans) => orphans,
            Err(error) => {
                tracing::warn!(%error, "cannot list the runs of stopped replicas");
                return 0;
            }
        };
        let mut taken = 0;
        for (run, owner) in orphans {
            if from.is_some_and(|from| from != owner) {
                continue;
            }
            match self
                .state
                .adopt_run(run.id, &owner, &replication.replica.id)
            {
                Ok(true) => {
                    tracing::warn!(run = %run.id, replica = %owner, "took over a run of a replica that stopped");
                    taken += 1;
                    self.report_interrupted(run).await;
                }
                Ok(false) => {}
                Err(error) => tracing::warn!(%error, "cannot take over a run"),
            }
        }
        taken
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "strata".to_owned())
}
