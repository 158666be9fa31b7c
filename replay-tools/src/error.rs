//! The CLI's one error enum: why a subcommand stopped. `main` prints it with
//! its sources (`error_chain`) and exits non-zero.

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
}

/// The error and all its sources, outermost first, joined by ": ", so one
/// line says what failed and why.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    // Source chains are short in practice; the bound only guards a cycle.
    for _ in 0..32 {
        let Some(cause) = source else { break };
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
