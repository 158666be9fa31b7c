//! The batching writer (DESIGN.md §3): commands queue per shard, are decided
//! in order against cached state, and many of them, from many streams, are
//! committed in one transaction. A command is answered only after the
//! transaction holding its events has committed.

mod batch;
mod command;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use ledger::store::PgEventStore;
use ledger::wallet::WalletCommand;
use ledger::StreamId;
use tokio::sync::{mpsc, oneshot};

use crate::cache::StateCache;
use crate::render::{Render, Reply};
use crate::{ApiError, CommandsConfig};

pub(crate) use command::{
    BetDecided, Command, EntryDecided, MarketRender, PoolRender, SeatsRender, SeatsRequest,
    ShowRender, Subject,
};

/// A command on its way to the writer.
pub(crate) struct Submission {
    pub command_id: String,
    pub request_hash: Vec<u8>,
    pub command: Command,
    pub size_bytes: usize,
    pub reply: oneshot::Sender<Result<Reply, ApiError>>,
}

/// The handle handlers submit commands through.
#[derive(Clone)]
pub struct Writer {
    shards: Arc<[mpsc::Sender<Submission>]>,
    reply_timeout: Duration,
}

impl Writer {
    pub(crate) fn start(
        store: PgEventStore,
        cache: Arc<StateCache>,
        config: &CommandsConfig,
    ) -> Self {
        let shards = config.writer_shards.max(1);
        let capacity = (config.queue_commands_max / shards).max(1);
        let senders: Vec<_> = (0..shards)
            .map(|_| {
                let (tx, rx) = mpsc::channel(capacity);
                let shard = batch::Shard::new(store.clone(), cache.clone(), config.clone());
                tokio::spawn(shard.run(rx));
                tx
            })
            .collect();
        Self {
            shards: senders.into(),
            reply_timeout: Duration::from_millis(config.reply_timeout_ms),
        }
    }

    /// Queues a wallet command and waits for its committed answer.
    pub(crate) async fn submit(
        &self,
        command_id: String,
        request_hash: Vec<u8>,
        stream: StreamId,
        command: WalletCommand,
        render: Render,
        size_bytes: usize,
    ) -> Result<Reply, ApiError> {
        let command = Command::Wallet {
            stream,
            command,
            render,
        };
        self.submit_command(command_id, request_hash, command, size_bytes)
            .await
    }

    /// Queues any command and waits for its committed answer.
    pub(crate) async fn submit_command(
        &self,
        command_id: String,
        request_hash: Vec<u8>,
        command: Command,
        size_bytes: usize,
    ) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        let shard = &self.shards[shard_of(command.shard_key(), self.shards.len())];
        let submission = Submission {
            command_id,
            request_hash,
            command,
            size_bytes,
            reply,
        };
        shard.try_send(submission).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => ApiError::Overloaded,
            mpsc::error::TrySendError::Closed(_) => {
                ApiError::Internal("the writer has stopped".into())
            }
        })?;
        match tokio::time::timeout(self.reply_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ApiError::Internal("the writer dropped a command".into())),
            Err(_) => Err(ApiError::Timeout),
        }
    }
}

fn shard_of(stream: &StreamId, shards: usize) -> usize {
    let mut hasher = DefaultHasher::new();
    stream.hash(&mut hasher);
    (hasher.finish() % shards as u64) as usize
}
