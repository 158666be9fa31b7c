//! Limits and sizes of the command side. Every queue and batch is bounded.

/// The command side's settings; the binary fills them from flags and env.
#[derive(Debug, Clone)]
pub struct CommandsConfig {
    /// Commands waiting for the writer, over all shards; past it, 503.
    pub queue_commands_max: usize,
    /// Most commands decided and committed in one transaction.
    pub batch_commands_max: usize,
    /// Most request bytes in one batch.
    pub batch_bytes_max: usize,
    /// Writer loops, each with its own queue and transaction; a stream
    /// always goes to the same one, which keeps its commands in order.
    pub writer_shards: usize,
    /// Batches of one shard committing at once (1: one at a time). A stream
    /// is never in two of them.
    pub writer_batches_in_flight: usize,
    /// How often a command is decided again after a version conflict.
    pub conflict_retries_max: u32,
    /// Wallet states kept in memory.
    pub cache_streams_max: usize,
    /// How long a request waits for its commit before it gets a 503.
    pub reply_timeout_ms: u64,
    /// Largest request body accepted.
    pub body_bytes_max: usize,
    /// The settlement process's chunk size and polling.
    pub settlement: crate::SettlementConfig,
    /// The box-office process's batch size and polling.
    pub box_office: crate::BoxOfficeConfig,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self {
            queue_commands_max: 20_000,
            batch_commands_max: 2_000,
            batch_bytes_max: 4 * 1024 * 1024,
            writer_shards: 1,
            writer_batches_in_flight: 1,
            conflict_retries_max: 8,
            cache_streams_max: 200_000,
            reply_timeout_ms: 10_000,
            body_bytes_max: 64 * 1024,
            settlement: crate::SettlementConfig::default(),
            box_office: crate::BoxOfficeConfig::default(),
        }
    }
}
