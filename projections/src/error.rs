//! The crate's one error enum: why a projection step or a wait failed.

/// What can go wrong while projecting events or waiting for a projection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The read models' database failed (connection, constraint, overflow).
    #[error("read model database error")]
    Database(#[from] sqlx::Error),
    /// The event store could not be read.
    #[error("event store error")]
    Store(#[from] ledger::Error),
    /// An event of a type the projection handles could not be decoded. The
    /// projection stops there rather than skip money it cannot read.
    #[error("event at global position {position} ({event_type}) cannot be applied")]
    Event {
        position: i64,
        event_type: String,
        #[source]
        source: ledger::Error,
    },
    /// The event store returned events out of order or at or below the
    /// checkpoint: applying them could count money twice.
    #[error("event store returned position {got} after position {after}")]
    OutOfOrder { after: i64, got: i64 },
    /// The checkpoint could not be moved to `position` although the step
    /// held its lock: something outside the runner changed it.
    #[error("checkpoint of {projection} could not move to position {position}")]
    CheckpointMoved { projection: String, position: i64 },
    /// A read model disagrees with itself; the step is rolled back.
    #[error("read model invariant violated: {0}")]
    Invariant(String),
    /// A rebuild cannot start, go on or swap; what it built so far is kept
    /// unless `problem` says to start it over.
    #[error("rebuild of {projection}: {problem}")]
    Rebuild { projection: String, problem: String },
    /// A configuration value is outside the range the runner accepts.
    #[error("invalid projections config: {0}")]
    Config(String),
    /// The projection had not reached the position when the wait ended.
    #[error("projection {projection} is behind: at position {reached}, waited {waited_ms} ms for position {wanted}")]
    Behind {
        projection: String,
        wanted: i64,
        reached: i64,
        waited_ms: u64,
    },
    /// A ClickHouse request failed (the server is down, refused the SQL or
    /// sent what the client cannot read).
    #[error("ClickHouse {what} failed")]
    ClickHouse {
        what: String,
        #[source]
        source: clickhouse::error::Error,
    },
    /// A ClickHouse request took longer than the configured timeout.
    #[error("ClickHouse {what} took longer than {timeout_ms} ms")]
    ClickHouseTimeout { what: String, timeout_ms: u64 },
    /// A report was asked for with parameters it does not accept; the
    /// caller's mistake, never the server's.
    #[error("report {report}: {problem}")]
    ReportParams { report: String, problem: String },
}
