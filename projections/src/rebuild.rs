//! Rebuilding a projection from position 0 into fresh tables while the live
//! ones keep serving, then swapping them in (ADR 0004).
//!
//! While a rebuild of projection `p` runs, it keeps two things:
//! - the schema `rebuild_p`, holding a fresh copy (`LIKE ... INCLUDING ALL`)
//!   of each of the tables `p` declares ([`Projection::tables`]);
//! - the checkpoint `p@rebuild`, moved with the copies' rows.
//!
//! It steps the projection's own [`Runner`] with `rebuild_p` first on the
//! search path, so the same `apply` fills the copies. Both survive a crash
//! or a stop, and a rebuild started again goes on from its checkpoint.
//!
//! At the visible end of the log it swaps, in one transaction: it locks the
//! live checkpoint's row (the live runner, in any process, waits on it),
//! applies to the copies whatever the live runner had applied beyond them,
//! moves the live tables to `retired_p` and the copies in their place,
//! gives them the live tables' owner and grants, and moves the live
//! checkpoint to the copies' position. Then it drops `retired_p`.

mod names;

use std::time::{Duration, Instant};

use ledger::store::EventStore;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool, Postgres, Row, Transaction};

use crate::runner::{lock_checkpoint, Target};
use crate::{Error, Projection, ProjectionsConfig, Runner, Step};
use names::{Ident, Names};

/// Longest lock wait a swap may be given, in milliseconds.
pub const SWAP_LOCK_TIMEOUT_MAX_MS: u64 = 60_000;

/// Swaps tried before the rebuild gives up (and keeps what it built). Each
/// failed one waits for a lock at most `swap_lock_timeout_ms`, or finds the
/// live projection further ahead than one swap catches up.
const SWAP_ATTEMPTS_MAX: u32 = 20;

/// Most steps a swap applies while it holds the live checkpoint's lock,
/// to catch the copies up with the live projection. The rebuild only swaps
/// from the visible end of the log, so one step is the rule.
const SWAP_STEPS_MAX: usize = 4;

/// Pause before another swap attempt, in milliseconds; the catch-up steps
/// between attempts take their own time besides.
const SWAP_RETRY_DELAY_MS: u64 = 50;

/// Whether a rebuild goes on from where an earlier run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Go on from the rebuild's checkpoint if one is left, else begin.
    Resume,
    /// Drop what an earlier run left and begin at position 0.
    Over,
}

/// How a rebuild runs. A plain struct: the CLI maps its flags onto it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildOptions {
    pub start: Start,
    /// Most events applied per transaction (1 to `BATCH_EVENTS_LIMIT`).
    pub batch_events_max: usize,
    /// How long the swap waits for a lock (the live checkpoint's row, the
    /// live tables) before it gives way and tries again, so that it never
    /// queues the readers of the live tables behind it for longer.
    pub swap_lock_timeout_ms: u64,
    /// Stop, without swapping, once at least this many events were applied
    /// by this run: the rebuild is left to be resumed.
    pub stop_after_events: Option<u64>,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            start: Start::Resume,
            batch_events_max: ProjectionsConfig::default().batch_events_max,
            swap_lock_timeout_ms: 2_000,
            stop_after_events: None,
        }
    }
}

/// Where a running rebuild stands, after each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// The copies' checkpoint.
    pub position: i64,
    /// The last position committed to the log, as last read.
    pub head: i64,
    /// Events passed by this run so far.
    pub events: u64,
}

/// How a run of a rebuild ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The copies are live; the old tables are dropped.
    Swapped,
    /// The copies are live, but the old tables could not be dropped at
    /// once (a reader still held them); they wait in the retired schema,
    /// which the next rebuild of the projection drops.
    SwappedRetiredKept,
    /// Stopped after `stop_after_events`; run it again to go on.
    Paused,
}

/// What a run of a rebuild did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rebuilt {
    pub ended: Ended,
    /// Where this run began: 0, or the checkpoint an earlier run left.
    pub resumed_from: i64,
    /// Where the copies are: the live checkpoint, once swapped.
    pub position: i64,
    /// Events passed by this run (those the projection skips included).
    pub events: u64,
    pub elapsed: Duration,
}

/// A live table of the projection: its name and the schema it is in.
#[derive(Debug, Clone)]
struct Table {
    name: Ident,
    live_schema: Ident,
}

/// A rebuild of one projection, ready to run.
pub struct Rebuild<S, P> {
    runner: Runner<S, P>,
    pool: PgPool,
    names: Names,
    tables: Vec<Table>,
    options: RebuildOptions,
    resumed_from: i64,
    /// Holds the lock that makes this the projection's only rebuild.
    guard: PgConnection,
}

impl<S: EventStore + Clone + 'static, P: Projection> Rebuild<S, P> {
    /// Takes the projection's rebuild lock and prepares the copies: new ones
    /// (`Start::Over`, or nothing left), or those an earlier run left.
    ///
    /// `pool` must be the rebuild's own, of at least 3 connections, not
    /// one the live runners use: the swap reads the log through it while
    /// it holds the lock they wait on, holding their connections.
    pub async fn start(
        store: S,
        pool: PgPool,
        projection: P,
        options: RebuildOptions,
    ) -> Result<Self, Error> {
        let projection_name = projection.name().to_owned();
        let fail = |problem: String| Error::Rebuild {
            projection: projection_name.clone(),
            problem,
        };
        if options.swap_lock_timeout_ms == 0
            || options.swap_lock_timeout_ms > SWAP_LOCK_TIMEOUT_MAX_MS
        {
            return Err(Error::Config(format!(
                "swap_lock_timeout_ms is {}; it must be 1 to {SWAP_LOCK_TIMEOUT_MAX_MS}",
                options.swap_lock_timeout_ms
            )));
        }
        if projection.tables().is_empty() {
            return Err(fail("the projection declares no tables".to_owned()));
        }
        let names = Names::of(projection.name()).map_err(fail)?;
        let config = ProjectionsConfig {
            batch_events_max: options.batch_events_max,
            ..ProjectionsConfig::default()
        };
        let target = Target::Shadow {
            schema: names.shadow.as_str().to_owned(),
            checkpoint: names.checkpoint.clone(),
        };
        let runner = Runner::with_target(store, pool.clone(), projection, config, target)?;
        let guard = take_lock(&pool, &names).await?;
        let tables = live_tables(&pool, &names, runner.projection().tables()).await?;
        let resumed_from = prepare(&pool, &names, &tables, options.start).await?;
        Ok(Self {
            runner,
            pool,
            names,
            tables,
            options,
            resumed_from,
            guard,
        })
    }

    /// Where the run begins: 0, or the checkpoint an earlier run left.
    pub fn resumed_from(&self) -> i64 {
        self.resumed_from
    }

    /// Steps the copies to the visible end of the log, then swaps them in
    /// (or stops early, per `stop_after_events`). `on_progress` is called
    /// after each step.
    ///
    /// The catch-up has no bound of its own: it ends when it reaches the
    /// end of the log, which it does as long as it applies events faster
    /// than they are appended (a projection replays much faster than the
    /// command side writes). Swap attempts are bounded.
    pub async fn run(self, mut on_progress: impl FnMut(&Progress)) -> Result<Rebuilt, Error> {
        let started = Instant::now();
        let batch_events_max = self.runner.config().batch_events_max;
        let mut progress = Progress {
            position: self.resumed_from,
            head: self.log_head().await?,
            events: 0,
        };
        let mut analyzed = false;
        let mut attempts = 0;
        loop {
            if let Step::Worked { events, position } = self.runner.step().await? {
                progress.events += events as u64;
                progress.position = position;
                if position > progress.head {
                    progress.head = self.log_head().await?;
                }
                on_progress(&progress);
                if let Some(stop) = self.options.stop_after_events {
                    if progress.events >= stop {
                        return self.finish(Ended::Paused, progress, started).await;
                    }
                }
                if events == batch_events_max {
                    continue;
                }
            }
            if !analyzed {
                // Fresh tables have no statistics: without them the first
                // queries after the swap could be planned badly.
                self.analyze().await?;
                analyzed = true;
            }
            match self.try_swap().await? {
                Swap::Done { position, events } => {
                    progress.events += events;
                    progress.position = position;
                    progress.head = progress.head.max(position);
                    on_progress(&progress);
                    let ended = self.drop_retired().await?;
                    return self.finish(ended, progress, started).await;
                }
                Swap::Retry(reason) => {
                    attempts += 1;
                    if attempts >= SWAP_ATTEMPTS_MAX {
                        return Err(self.fail(format!(
                            "no swap in {SWAP_ATTEMPTS_MAX} attempts (the last: {reason}); the copies are kept, run the rebuild again to go on"
                        )));
                    }
                    tracing::info!(projection = self.names.projection, reason, "swap deferred");
                    tokio::time::sleep(Duration::from_millis(SWAP_RETRY_DELAY_MS)).await;
                    progress.head = self.log_head().await?;
                }
            }
        }
    }

    async fn finish(
        self,
        ended: Ended,
        progress: Progress,
        started: Instant,
    ) -> Result<Rebuilt, Error> {
        // Closing the connection releases the rebuild lock.
        self.guard.close().await?;
        Ok(Rebuilt {
            ended,
            resumed_from: self.resumed_from,
            position: progress.position,
            events: progress.events,
            elapsed: started.elapsed(),
        })
    }

    fn fail(&self, problem: String) -> Error {
        Error::Rebuild {
            projection: self.names.projection.clone(),
            problem,
        }
    }

    async fn log_head(&self) -> Result<i64, Error> {
        Ok(sqlx::query_scalar(include_str!("rebuild/log_head.sql"))
            .fetch_one(&self.pool)
            .await?)
    }

    async fn analyze(&self) -> Result<(), Error> {
        for table in &self.tables {
            ddl(
                &self.pool,
                format!("ANALYZE {}.{}", self.names.shadow, table.name),
            )
            .await?;
        }
        Ok(())
    }

    /// One attempt at the swap, in one transaction; `Retry` when a lock was
    /// not granted in time or the live projection was too far ahead.
    async fn try_swap(&self) -> Result<Swap, Error> {
        let mut tx = self.runner.begin().await?;
        // The runner's steps do not wait for their WAL flush (ADR 0003);
        // the swap is one commit, and its caller is told it happened.
        sqlx::query("SET LOCAL synchronous_commit = on")
            .execute(&mut *tx)
            .await?;
        sqlx::query(include_str!("rebuild/lock_timeout.sql"))
            .bind(format!("{}ms", self.options.swap_lock_timeout_ms))
            .execute(&mut *tx)
            .await?;
        match self.swap_in(&mut tx).await {
            Ok(Some(done)) => {
                tx.commit().await?;
                Ok(done)
            }
            // Dropping the transaction rolls it back.
            Ok(None) => Ok(Swap::Retry("the live projection was ahead of the copies")),
            Err(error) if lock_not_granted(&error) => {
                Ok(Swap::Retry("a lock was not granted in time"))
            }
            Err(error) => Err(error),
        }
    }

    async fn swap_in(
        &self,
        tx: &mut Transaction<'static, Postgres>,
    ) -> Result<Option<Swap>, Error> {
        let live = self.names.projection.as_str();
        sqlx::query(include_str!("runner/checkpoint_create.sql"))
            .bind(live)
            .execute(&mut **tx)
            .await?;
        // From here until commit the live runner cannot step: the tables
        // it writes are about to change under it.
        let live_at = lock_checkpoint(tx, live).await?.unwrap_or(0);
        let mut position = checkpoint_at(tx, &self.names.checkpoint).await?;
        let mut events = 0u64;
        for _ in 0..SWAP_STEPS_MAX {
            if position >= live_at {
                break;
            }
            match self.runner.step_in(tx).await? {
                Step::Worked {
                    events: n,
                    position: p,
                } => {
                    events += n as u64;
                    position = p;
                }
                Step::Idle => break,
            }
        }
        if position < live_at {
            // Swapping now would take the live read model back in time,
            // and a reader who waited for `live_at` would not find it.
            return Ok(None);
        }
        let tx_conn: &mut PgConnection = tx;
        for table in &self.tables {
            check_same_shape(&mut *tx_conn, &self.names, table).await?;
        }
        ddl(
            &mut *tx_conn,
            format!("CREATE SCHEMA {}", self.names.retired),
        )
        .await?;
        for table in &self.tables {
            ddl(
                &mut *tx_conn,
                format!(
                    "ALTER TABLE {}.{} SET SCHEMA {}",
                    table.live_schema, table.name, self.names.retired
                ),
            )
            .await?;
            ddl(
                &mut *tx_conn,
                format!(
                    "ALTER TABLE {}.{} SET SCHEMA {}",
                    self.names.shadow, table.name, table.live_schema
                ),
            )
            .await?;
            let statements: Vec<String> =
                sqlx::query_scalar(include_str!("rebuild/privileges.sql"))
                    .bind(table.live_schema.as_str())
                    .bind(table.name.as_str())
                    .bind(self.names.retired.as_str())
                    .fetch_all(&mut *tx_conn)
                    .await?;
            for statement in statements {
                // Built by Postgres' format() with %I from the catalog.
                ddl(&mut *tx_conn, statement).await?;
            }
        }
        let moved = sqlx::query(include_str!("rebuild/checkpoint_set.sql"))
            .bind(live)
            .bind(position)
            .fetch_optional(&mut *tx_conn)
            .await?;
        if moved.is_none() {
            return Err(Error::CheckpointMoved {
                projection: live.to_owned(),
                position,
            });
        }
        sqlx::query(include_str!("rebuild/checkpoint_delete.sql"))
            .bind(&self.names.checkpoint)
            .execute(&mut *tx_conn)
            .await?;
        // Without CASCADE: the schema holds nothing else by now, and if it
        // did, dropping it would be a surprise to whoever put it there.
        ddl(&mut *tx_conn, format!("DROP SCHEMA {}", self.names.shadow)).await?;
        Ok(Some(Swap::Done { position, events }))
    }

    /// Drops the retired tables, in a transaction of its own after the
    /// swap: dropping a large table costs time at commit, which the swap's
    /// locks should not be held for. A reader still on the old tables
    /// makes it wait; after the lock timeout they are left for the next
    /// rebuild to drop.
    async fn drop_retired(&self) -> Result<Ended, Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(include_str!("rebuild/lock_timeout.sql"))
            .bind(format!("{}ms", self.options.swap_lock_timeout_ms))
            .execute(&mut *tx)
            .await?;
        let dropped = ddl(
            &mut *tx,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.names.retired),
        )
        .await;
        match dropped {
            Ok(()) => {
                tx.commit().await?;
                Ok(Ended::Swapped)
            }
            Err(error) if lock_not_granted(&error) => {
                tracing::warn!(
                    projection = self.names.projection,
                    schema = self.names.retired.as_str(),
                    "the retired tables are still in use; the next rebuild drops them"
                );
                Ok(Ended::SwappedRetiredKept)
            }
            Err(error) => Err(error),
        }
    }
}

enum Swap {
    Done { position: i64, events: u64 },
    Retry(&'static str),
}

/// Runs a statement built from [`Ident`]s (or by Postgres' own quoting) as
/// a simple query: DDL takes no parameters, and none of these is worth a
/// prepared statement.
async fn ddl(conn: impl sqlx::PgExecutor<'_>, statement: String) -> Result<(), Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether the statement failed for a lock not granted within the lock
/// timeout, or a deadlock: either way, trying again later may succeed.
fn lock_not_granted(error: &Error) -> bool {
    let Error::Database(sqlx::Error::Database(db)) = error else {
        return false;
    };
    matches!(db.code().as_deref(), Some("55P03" | "40P01"))
}

async fn take_lock(pool: &PgPool, names: &Names) -> Result<PgConnection, Error> {
    let mut conn = pool.connect_options().connect().await?;
    let locked: bool = sqlx::query_scalar(include_str!("rebuild/lock.sql"))
        .bind(&names.projection)
        .fetch_one(&mut conn)
        .await?;
    if !locked {
        return Err(Error::Rebuild {
            projection: names.projection.clone(),
            problem: "another rebuild of it is running".to_owned(),
        });
    }
    Ok(conn)
}

/// Finds each live table and checks that it may be moved and dropped.
async fn live_tables(pool: &PgPool, names: &Names, tables: &[&str]) -> Result<Vec<Table>, Error> {
    let fail = |problem: String| Error::Rebuild {
        projection: names.projection.clone(),
        problem,
    };
    let mut found = Vec::with_capacity(tables.len());
    for &table in tables {
        let name = Ident::parse(table).map_err(fail)?;
        let schema: Option<String> = sqlx::query_scalar(include_str!("rebuild/live_schema.sql"))
            .bind(name.as_str())
            .fetch_optional(pool)
            .await?;
        let Some(schema) = schema else {
            return Err(fail(format!(
                "its table {table} does not exist (are the migrations applied?)"
            )));
        };
        let live_schema = Ident::parse(&schema).map_err(fail)?;
        let blockers: Vec<String> = sqlx::query_scalar(include_str!("rebuild/blockers.sql"))
            .bind(live_schema.as_str())
            .bind(name.as_str())
            .fetch_all(pool)
            .await?;
        if !blockers.is_empty() {
            return Err(fail(format!(
                "table {schema}.{table} cannot be swapped: {}",
                blockers.join(", ")
            )));
        }
        found.push(Table { name, live_schema });
    }
    Ok(found)
}

/// Makes the copies, or checks those an earlier run left; returns the
/// position the rebuild goes on from.
async fn prepare(
    pool: &PgPool,
    names: &Names,
    tables: &[Table],
    start: Start,
) -> Result<i64, Error> {
    let fail = |problem: String| Error::Rebuild {
        projection: names.projection.clone(),
        problem,
    };
    let mut tx = pool.begin().await?;
    // Left by a run that swapped and then could not drop them.
    ddl(
        &mut *tx,
        format!("DROP SCHEMA IF EXISTS {} CASCADE", names.retired),
    )
    .await?;
    if start == Start::Over {
        ddl(
            &mut *tx,
            format!("DROP SCHEMA IF EXISTS {} CASCADE", names.shadow),
        )
        .await?;
        sqlx::query(include_str!("rebuild/checkpoint_delete.sql"))
            .bind(&names.checkpoint)
            .execute(&mut *tx)
            .await?;
    }
    let state = sqlx::query(include_str!("rebuild/shadow_state.sql"))
        .bind(names.shadow.as_str())
        .bind(&names.checkpoint)
        .fetch_one(&mut *tx)
        .await?;
    let schema_exists: bool = state.try_get("schema_exists")?;
    let position: Option<i64> = state.try_get("position")?;
    let resumed_from = match (schema_exists, position) {
        (false, None) => {
            create_copies(&mut tx, names, tables).await?;
            0
        }
        (true, Some(position)) => {
            for table in tables {
                check_same_shape(&mut tx, names, table).await?;
            }
            position
        }
        (true, None) => {
            return Err(fail(format!(
                "schema {} is left without checkpoint {}; start the rebuild over",
                names.shadow.as_str(),
                names.checkpoint
            )))
        }
        (false, Some(_)) => {
            return Err(fail(format!(
                "checkpoint {} is left without schema {}; start the rebuild over",
                names.checkpoint,
                names.shadow.as_str()
            )))
        }
    };
    tx.commit().await?;
    Ok(resumed_from)
}

async fn create_copies(
    tx: &mut Transaction<'static, Postgres>,
    names: &Names,
    tables: &[Table],
) -> Result<(), Error> {
    ddl(&mut **tx, format!("CREATE SCHEMA {}", names.shadow)).await?;
    for table in tables {
        ddl(
            &mut **tx,
            format!(
                "CREATE TABLE {}.{} (LIKE {}.{} INCLUDING ALL)",
                names.shadow, table.name, table.live_schema, table.name
            ),
        )
        .await?;
        let renames: Vec<String> = sqlx::query_scalar(include_str!("rebuild/index_renames.sql"))
            .bind(table.live_schema.as_str())
            .bind(names.shadow.as_str())
            .bind(table.name.as_str())
            .fetch_all(&mut **tx)
            .await?;
        for rename in renames {
            // Built by Postgres' format() with %I from the catalog.
            ddl(&mut **tx, rename).await?;
        }
        check_same_shape(tx, names, table).await?;
    }
    sqlx::query(include_str!("runner/checkpoint_create.sql"))
        .bind(&names.checkpoint)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The copy has the live table's columns and index names. A migration
/// that altered the live table since the rebuild began would otherwise be
/// undone by the swap.
async fn check_same_shape(
    conn: &mut PgConnection,
    names: &Names,
    table: &Table,
) -> Result<(), Error> {
    let live = shape(&mut *conn, &table.live_schema, &table.name).await?;
    let copy = shape(&mut *conn, &names.shadow, &table.name).await?;
    let problem = match (live, copy) {
        (Some(live), Some(copy)) if live == copy => return Ok(()),
        (None, _) => format!("table {}.{} is gone", table.live_schema.as_str(), table.name.as_str()),
        (_, None) => format!("its copy {}.{} is gone; start the rebuild over", names.shadow.as_str(), table.name.as_str()),
        (Some(live), Some(copy)) => format!(
            "table {}.{} changed since the rebuild began (now {live:?}, the copy {copy:?}); start the rebuild over",
            table.live_schema.as_str(),
            table.name.as_str()
        ),
    };
    Err(Error::Rebuild {
        projection: names.projection.clone(),
        problem,
    })
}

/// A table's columns and index names (`shape.sql`), `None` when it is not there.
async fn shape(
    conn: &mut PgConnection,
    schema: &Ident,
    table: &Ident,
) -> Result<Option<(Vec<String>, Vec<String>)>, Error> {
    let row = sqlx::query(include_str!("rebuild/shape.sql"))
        .bind(schema.as_str())
        .bind(table.as_str())
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some((row.try_get("columns")?, row.try_get("indexes")?)))
}

async fn checkpoint_at(tx: &mut Transaction<'static, Postgres>, name: &str) -> Result<i64, Error> {
    let position: Option<i64> = sqlx::query_scalar(include_str!("rebuild/checkpoint_at.sql"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(position.unwrap_or(0))
}
