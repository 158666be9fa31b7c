//! The crate's error enum: failures of the event store, not domain rejections
//! (those are [`crate::Rejection`], an expected outcome of a command).

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("event payload does not match its type {event_type} v{schema_version}")]
    Decode {
        event_type: String,
        schema_version: i32,
        #[source]
        source: serde_json::Error,
    },
    #[error("unknown event type {event_type} v{schema_version}")]
    UnknownEventType {
        event_type: String,
        schema_version: i32,
    },
    /// A stored event of a version this build does not know yet: reading it
    /// as if it were an older one could lose what the newer one added.
    #[error(
        "{event_type} v{schema_version} was written by a newer build (this one reads up to \
         v{current}): upgrade before reading this log"
    )]
    FutureSchemaVersion {
        event_type: String,
        schema_version: i32,
        current: i32,
    },
    #[error("stream {0} appears twice in one batch")]
    DuplicateStream(String),
    #[error("batch of {count} exceeds the store's limit of {limit}")]
    BatchTooLarge { count: usize, limit: usize },
}

/// The error and all its sources, outermost first, joined by ": ", so one
/// line (a log line, a CLI's last words) says what failed and why.
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
