//! The CLI's one error enum: why a subcommand stopped. `main` prints it with
//! its sources (`error_chain`) and exits non-zero.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Postgres did not accept a connection.
    #[error("connecting to Postgres (DATABASE_URL)")]
    Connect(#[source] sqlx::Error),
    /// A query failed.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The event store could not be read, or an event not decoded.
    #[error("event store error")]
    Store(#[from] ledger::Error),
    /// An event breaks its stream's hash chain or the log's order. `at`
    /// names the event (and, in a file, its line).
    #[error("{at}: {problem}")]
    Chain { at: String, problem: String },
    /// Replaying the transfers left money that sums to something else than 0.
    #[error("balances do not sum to zero: {0}")]
    Unbalanced(String),
    /// A read model differs from the replay of the log: the first
    /// difference of each, naming the account (and position).
    #[error("read models differ from the log: {0}")]
    Diverged(String),
    /// A rebuild failed; what it built so far is kept unless the message
    /// says to start over.
    #[error("rebuild failed")]
    Projection(#[from] projections::Error),
    /// A line of an export file is not an event this tool wrote.
    #[error("{path} line {line}: {problem}; nothing was imported")]
    BadLine {
        path: PathBuf,
        line: u64,
        problem: String,
    },
    /// The file to import could not be read.
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Standard output could not be written.
    #[error("writing the output")]
    Write(#[source] std::io::Error),
    /// Ctrl-C could not be listened for.
    #[error("listening for Ctrl-C")]
    Signal(#[source] std::io::Error),
    /// `import` writes only into a store without events.
    #[error("the store already holds events (the last at position {last_position}); import writes only into an empty store")]
    StoreNotEmpty { last_position: i64 },
    /// The id names neither a player's wallet nor a system account.
    #[error("{0}")]
    InvalidAccount(String),
    /// The wallet had not been opened at the moment asked for.
    #[error("account {account} was not open at position {position}")]
    NotOpen { account: String, position: i64 },
    /// Arguments that parse but do not make sense together.
    #[error("{0}")]
    InvalidArgument(String),
    /// Two ways of computing the same figure disagree: a bug, or a log
    /// that the domain could not have written.
    #[error("invariant violated: {0}")]
    Invariant(String),
}

impl Error {
    /// Whether this is standard output closing under us (`| head`), which
    /// ends a follower such as `tail` normally.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Write(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
