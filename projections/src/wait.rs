//! Read-your-writes (DESIGN.md §5): wait, bounded, until a projection has
//! applied the event at a given global position.

use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};

use crate::Error;

/// Longest wait accepted, in milliseconds; longer timeouts are cut to it.
pub const WAIT_TIMEOUT_MAX_MS: u64 = 60_000;

/// First delay between two reads of the checkpoint, in milliseconds. It
/// doubles up to `POLL_DELAY_MAX_MS`: a projection that is just behind is
/// seen at once, one that is far behind costs few queries.
const POLL_DELAY_FIRST_MS: u64 = 1;
const POLL_DELAY_MAX_MS: u64 = 50;

/// The position `projection` has applied up to (0 when it never ran).
pub async fn checkpoint(pool: &PgPool, projection: &str) -> Result<i64, Error> {
    let row = sqlx::query(include_str!("wait/checkpoint.sql"))
        .bind(projection)
        .fetch_one(pool)
        .await?;
    Ok(row.try_get(0)?)
}

/// Returns once `projection`'s checkpoint is at or past `position`, or
/// [`Error::Behind`] when `timeout` (at most `WAIT_TIMEOUT_MAX_MS`) passes
/// first. It polls the checkpoint with a growing delay rather than LISTEN:
/// a listener is a connection of its own, and one per waiting request would
/// exhaust Postgres under load, while a poll borrows a pooled connection
/// for a moment.
pub async fn wait_for_position(
    pool: &PgPool,
    projection: &str,
    position: i64,
    timeout: Duration,
) -> Result<(), Error> {
    let timeout = timeout.min(Duration::from_millis(WAIT_TIMEOUT_MAX_MS));
    let started = Instant::now();
    let mut reached = 0;
    // The whole wait is under the timeout, reads of the checkpoint included,
    // so a slow or exhausted pool cannot stretch it.
    let polled = tokio::time::timeout(timeout, async {
        let mut delay = Duration::from_millis(POLL_DELAY_FIRST_MS);
        loop {
            reached = checkpoint(pool, projection).await?;
            if reached >= position {
                return Ok::<(), Error>(());
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(POLL_DELAY_MAX_MS));
        }
    })
    .await;
    match polled {
        Ok(result) => result,
        Err(_elapsed) => Err(Error::Behind {
            projection: projection.to_owned(),
            wanted: position,
            reached,
            waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }),
    }
}
