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
