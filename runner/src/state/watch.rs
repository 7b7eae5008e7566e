//! What the watcher remembers: per repository and branch, the last commit it
//! handed to the workflows, a tip it refused (a force-push), and how the
//! last fetch went; when each workflow schedule last fired; and the last
//! drift check of each environment, with the issue that reports it.
//!
//! A restarted watcher reads these back, so commits pushed while it was down
//! are deployed in order, a refused force-push is not reported again, a
//! schedule does not fire twice for one minute, and a drift issue is edited
//! rather than opened anew.

use std::time::SystemTime;

use super::db::{DbError, OptionalExtension, Row, params};

use super::{State, StateError, from_unix, to_unix};

/// One watched branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The repository (`acme/infra`).
    pub repo: String,
    /// The branch (`main`).
    pub branch: String,
    /// Where it is fetched from (no credentials).
    pub url: String,
    /// The last commit handed to the workflows; `None` before the first.
    pub last_seen: Option<String>,
    /// A tip that does not descend from `last_seen`, refused and reported.
    pub refused: Option<String>,
    /// When the last fetch succeeded.
    pub polled_at: Option<SystemTime>,
    /// Why the last fetch failed, when it did.
    pub error: Option<String>,
}

/// The last drift check of an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftRecord {
    /// The repository.
    pub repo: String,
    /// The environment.
    pub environment: String,
    /// Whether drift was found.
    pub drifted: bool,
    /// A digest of what drifted, to tell "the same drift as last time".
    pub fingerprint: String,
    /// The issue that reports it, when one was opened.
    pub issue: Option<u64>,
    /// The report, as JSON text.
    pub report: String,
    /// When it was checked.
    pub checked_at: SystemTime,
}

const WATCH_COLUMNS: &str = "repo, branch, url, last_seen, refused, polled_at, error";
const DRIFT_COLUMNS: &str = "repo, environment, drifted, fingerprint, issue, report, checked_at";

impl State {
    /// The watch of `branch` of `repo`; `None` before its first poll.
    pub fn watch(&self, repo: &str, branch: &str) -> Result<Option<Watch>, StateError> {
        self.with(
            || format!("read the watch of `{repo}` `{branch}`"),
            |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {WATCH_COLUMNS} FROM watches WHERE repo = ?1 AND branch = ?2"
                        ),
                        params![repo, branch],
                        watch_from_row,
                    )
                    .optional()
            },
        )
    }

    /// Every watched branch.
    pub fn watches(&self) -> Result<Vec<Watch>, StateError> {
        self.with(
            || "list the watched branches".to_owned(),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {WATCH_COLUMNS} FROM watches ORDER BY repo, branch"
                ))?;
                let rows = statement.query_map(params![], watch_from_row)?;
                rows.collect()
            },
        )
    }

    /// A fetch of `branch` of `repo` from `url` succeeded at `now`; when
    /// `seen` is given, it is the new last-seen commit (and a refused tip is
    /// forgotten).
    pub fn record_poll(
        &self,
        repo: &str,
        branch: &str,
        url: &str,
        seen: Option<&str>,
        now: SystemTime,
    ) -> Result<(), StateError> {
        self.write(
            || format!("record a poll of `{repo}` `{branch}`"),
            |transaction| {
                transaction.execute(
                    "INSERT INTO watches (repo, branch, url, last_seen, polled_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) \
                     ON CONFLICT (repo, branch) DO UPDATE SET url = excluded.url, \
                     polled_at = excluded.polled_at, error = NULL, \
                     last_seen = COALESCE(excluded.last_seen, watches.last_seen), \
                     refused = CASE WHEN excluded.last_seen IS NULL THEN watches.refused ELSE NULL END",
                    params![repo, branch, url, seen, to_unix(now)],
                )?;
                Ok(())
            },
        )
    }

    /// A fetch failed: remembers why (the last success stays).
    pub fn record_poll_error(
        &self,
        repo: &str,
        branch: &str,
        url: &str,
        error: &str,
    ) -> Result<(), StateError> {
        self.write(
            || format!("record a failed poll of `{repo}` `{branch}`"),
            |transaction| {
                transaction.execute(
                    "INSERT INTO watches (repo, branch, url, error) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (repo, branch) DO UPDATE SET url = excluded.url, \
                     error = excluded.error",
                    params![repo, branch, url, error],
                )?;
                Ok(())
            },
        )
    }

    /// `tip` was refused (it does not descend from the last-seen commit);
    /// whether this is news (a different tip than the one refused before).
    pub fn record_refused(&self, repo: &str, branch: &str, tip: &str) -> Result<bool, StateError> {
        self.write(
            || format!("record a refused tip of `{repo}` `{branch}`"),
            |transaction| {
                let changed = transaction.execute(
                    "UPDATE watches SET refused = ?3 WHERE repo = ?1 AND branch = ?2 \
                     AND (refused IS NULL OR refused <> ?3)",
                    params![repo, branch, tip],
                )?;
                Ok(changed > 0)
            },
        )
    }

    /// Forget what was seen of `branch` of `repo` (every branch when
    /// `None`): the next poll takes the tip as new (after an intended
    /// force-push). Whether there was anything to forget.
    pub fn reset_watch(&self, repo: &str, branch: Option<&str>) -> Result<bool, StateError> {
        self.write(
            || format!("reset the watch of `{repo}`"),
            |transaction| {
                let changed = transaction.execute(
                    "UPDATE watches SET last_seen = NULL, refused = NULL \
                     WHERE repo = ?1 AND (CAST(?2 AS TEXT) IS NULL OR branch = ?2)",
                    params![repo, branch],
                )?;
                Ok(changed > 0)
            },
        )
    }

    /// When schedule `index` of `workflow` last fired (or was first seen).
    pub fn schedule_fired(
        &self,
        repo: &str,
        workflow: &str,
        index: usize,
    ) -> Result<Option<SystemTime>, StateError> {
        self.with(
            || format!("read when a schedule of `{workflow}` last fired"),
            |connection| {
                connection
                    .query_row(
                        "SELECT fired_at FROM schedules \
                         WHERE repo = ?1 AND workflow = ?2 AND schedule = ?3",
                        params![repo, workflow, index as i64],
                        |row| row.get::<_, i64>(0),
                    )
                    .optional()
                    .map(|at| at.map(from_unix))
            },
        )
    }

    /// Schedule `index` of `workflow` fired (or was first seen) at `at`.
    pub fn record_schedule_fired(
        &self,
        repo: &str,
        workflow: &str,
        index: usize,
        at: SystemTime,
    ) -> Result<(), StateError> {
        self.write(
            || format!("record that a schedule of `{workflow}` fired"),
            |transaction| {
                transaction.execute(
                    "INSERT INTO schedules (repo, workflow, schedule, fired_at) \
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT (repo, workflow, schedule) \
                     DO UPDATE SET fired_at = excluded.fired_at",
                    params![repo, workflow, index as i64, to_unix(at)],
                )?;
                Ok(())
            },
        )
    }

    /// The last drift check of `environment` of `repo`.
    pub fn drift(&self, repo: &str, environment: &str) -> Result<Option<DriftRecord>, StateError> {
        self.with(
            || format!("read the last drift check of `{environment}`"),
            |connection| {
                connection
                    .query_row(
                        &format!(
                            "SELECT {DRIFT_COLUMNS} FROM drift WHERE repo = ?1 AND environment = ?2"
                        ),
                        params![repo, environment],
                        drift_from_row,
                    )
                    .optional()
            },
        )
    }

    /// Every environment's last drift check, by repository and name.
    pub fn drifts(&self) -> Result<Vec<DriftRecord>, StateError> {
        self.with(
            || "list the drift checks".to_owned(),
            |connection| {
                let mut statement = connection.prepare(&format!(
                    "SELECT {DRIFT_COLUMNS} FROM drift ORDER BY repo, environment"
                ))?;
                let rows = statement.query_map(params![], drift_from_row)?;
                rows.collect()
            },
        )
    }

    /// Record a drift check (replacing the last one).
    pub fn record_drift(&self, record: &DriftRecord) -> Result<(), StateError> {
        self.write(
            || format!("record a drift check of `{}`", record.environment),
            |transaction| {
                transaction.execute(
                    &format!(
                        "INSERT INTO drift ({DRIFT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                         ON CONFLICT (repo, environment) DO UPDATE SET \
                         drifted = excluded.drifted, fingerprint = excluded.fingerprint, \
                         issue = excluded.issue, report = excluded.report, \
                         checked_at = excluded.checked_at"
                    ),
                    params![
                        record.repo,
                        record.environment,
                        record.drifted,
                        record.fingerprint,
                        record.issue.map(|n| n as i64),
                        record.report,
                        to_unix(record.checked_at)
                    ],
                )?;
                Ok(())
            },
        )
    }
}

fn watch_from_row(row: &Row) -> Result<Watch, DbError> {
    Ok(Watch {
        repo: row.get("repo")?,
        branch: row.get("branch")?,
        url: row.get("url")?,
        last_seen: row.get("last_seen")?,
        refused: row.get("refused")?,
        polled_at: row.get::<_, Option<i64>>("polled_at")?.map(from_unix),
        error: row.get("error")?,
    })
}

fn drift_from_row(row: &Row) -> Result<DriftRecord, DbError> {
    Ok(DriftRecord {
        repo: row.get("repo")?,
        environment: row.get("environment")?,
        drifted: row.get("drifted")?,
        fingerprint: row.get("fingerprint")?,
        issue: row.get::<_, Option<i64>>("issue")?.map(|n| n as u64),
        report: row.get("report")?,
        checked_at: from_unix(row.get("checked_at")?),
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_watch_remembers_the_last_seen_commit_across_failed_polls() {
        let state = State::in_memory().expect("state");
        state
            .record_poll("acme/infra", "main", "/srv/infra.git", Some("aaa"), at(10))
            .expect("poll");
        state
            .record_poll_error("acme/infra", "main", "/srv/infra.git", "connection refused")
            .expect("error");
        let watch = state
            .watch("acme/infra", "main")
            .expect("read")
            .expect("a watch");
        assert_eq!(watch.last_seen.as_deref(), Some("aaa"));
        assert_eq!(watch.error.as_deref(), Some("connection refused"));
        assert_eq!(watch.polled_at, Some(at(10)));
        state
            .record_poll("acme/infra", "main", "/srv/infra.git", None, at(20))
            .expect("poll");
        let watch = state
            .watch("acme/infra", "main")
            .expect("read")
            .expect("a watch");
        assert_eq!(watch.last_seen.as_deref(), Some("aaa"));
        assert_eq!(watch.error, None);
    }

    #[test]
    fn a_refused_tip_is_news_once_and_forgotten_when_a_commit_is_seen() {
        let state = State::in_memory().expect("state");
        state
            .record_poll("acme/infra", "main", "u", Some("aaa"), at(1))
            .expect("poll");
        assert!(
            state
                .record_refused("acme/infra", "main", "bbb")
                .expect("refuse")
        );
        assert!(
            !state
                .record_refused("acme/infra", "main", "bbb")
                .expect("refuse")
        );
        assert!(
            state
                .record_refused("acme/infra", "main", "ccc")
                .expect("refuse")
        );
        assert!(state.reset_watch("acme/infra", None).expect("reset"));
        let watch = state
            .watch("acme/infra", "main")
            .expect("read")
            .expect("a watch");
        assert_eq!((watch.last_seen, watch.refused), (None, None));
    }

    #[test]
    fn schedules_and_drift_checks_are_kept_per_environment() {
        let state = State::in_memory().expect("state");
        assert_eq!(
            state.schedule_fired("r/x", "release", 0).expect("read"),
            None
        );
        state
            .record_schedule_fired("r/x", "release", 0, at(60))
            .expect("fired");
        assert_eq!(
            state.schedule_fired("r/x", "release", 0).expect("read"),
            Some(at(60))
        );
        let record = DriftRecord {
            repo: "r/x".into(),
            environment: "prod".into(),
            drifted: true,
            fingerprint: "f1".into(),
            issue: Some(7),
            report: "{}".into(),
            checked_at: at(120),
        };
        state.record_drift(&record).expect("record");
        assert_eq!(state.drift("r/x", "prod").expect("read"), Some(record));
        assert_eq!(state.drifts().expect("list").len(), 1);
    }
}
