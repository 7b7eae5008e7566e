//! Webhook deliveries already handled, so a redelivery is not acted on twice.
//!
//! GitHub sends the same `X-GitHub-Delivery` id when a delivery is resent
//! (by hand, or by a proxy that retries). The server records each id before
//! it queues the work; only the first record says "new". Ids older than
//! [`DELIVERY_RETENTION`] are forgotten, so the table stays small.

use std::time::{Duration, SystemTime};

use super::db::{DbError, Sql, params};
use super::{State, StateError, to_unix};

/// How long a delivery id is remembered.
pub const DELIVERY_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl State {
    /// Record that delivery `id` (of webhook event `event`) arrived at `now`:
    /// `true` the first time the id is seen, `false` for a redelivery.
    ///
    /// Atomic across threads and processes: of any number of concurrent calls
    /// with one id, exactly one gets `true`. Also forgets ids received more
    /// than [`DELIVERY_RETENTION`] before `now`.
    pub fn record_delivery(
        &self,
        id: &str,
        event: &str,
        now: SystemTime,
    ) -> Result<bool, StateError> {
        self.write(
            || format!("record webhook delivery `{id}`"),
            |transaction| record(transaction, id, event, now),
        )
    }
}

/// Record delivery `id` in `sql`'s transaction, forgetting those past
/// [`DELIVERY_RETENTION`]: `true` the first time the id is seen. Shared with
/// [`State::enqueue_job`], which queues the job in the same transaction.
pub(super) fn record(
    sql: &mut Sql<'_>,
    id: &str,
    event: &str,
    now: SystemTime,
) -> Result<bool, DbError> {
    let now = to_unix(now);
    sql.execute(
        "DELETE FROM deliveries WHERE received_at < ?1",
        params![now.saturating_sub(retention_seconds())],
    )?;
    let inserted = sql.execute(
        "INSERT INTO deliveries (id, event, received_at) VALUES (?1, ?2, ?3) \
         ON CONFLICT (id) DO NOTHING",
        params![id, event, now],
    )?;
    Ok(inserted == 1)
}

fn retention_seconds() -> i64 {
    i64::try_from(DELIVERY_RETENTION.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_delivery_is_new_once() -> TestResult {
        let state = State::in_memory()?;
        assert!(state.record_delivery("d-1", "pull_request", at(1_000))?);
        assert!(!state.record_delivery("d-1", "pull_request", at(1_001))?);
        assert!(state.record_delivery("d-2", "pull_request", at(1_002))?);
        Ok(())
    }

    #[test]
    fn a_delivery_older_than_the_retention_is_forgotten() -> TestResult {
        let state = State::in_memory()?;
        let start = 1_000_000;
        let week = DELIVERY_RETENTION.as_secs();
        assert!(state.record_delivery("d-1", "push", at(start))?);
        assert!(!state.record_delivery("d-1", "push", at(start + week))?);
        assert!(state.record_delivery("d-1", "push", at(start + week + 1))?);
        Ok(())
    }

    #[test]
    fn pruning_keeps_deliveries_within_the_retention() -> TestResult {
        let state = State::in_memory()?;
        let start = 1_000_000;
        let week = DELIVERY_RETENTION.as_secs();
        assert!(state.record_delivery("old", "push", at(start))?);
        assert!(state.record_delivery("recent", "push", at(start + week))?);
        // Prunes "old" but not "recent".
        assert!(state.record_delivery("later", "push", at(start + week + 1))?);
        assert!(!state.record_delivery("recent", "push", at(start + week + 2))?);
        let count: i64 =
            state
                .connection()
                .query_row("SELECT count(*) FROM deliveries", [], |row| row.get(0))?;
        assert_eq!(count, 2);
        Ok(())
    }
}
