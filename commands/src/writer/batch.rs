//! One writer shard: takes what is queued (up to the batch limits), decides
//! it stream by stream, appends everything in one transaction, answers.
//! The next batch starts as soon as this commit returns, so an idle system
//! adds no wait and a busy one gets large batches.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StoredCommand, StreamAppend,
};
use ledger::wallet::decide;
use ledger::{error_chain, StreamId};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Submission;
use crate::cache::{catch_up, Cached, StateCache};
use crate::render::{Decision, Reply, Saved};
use crate::{ApiError, CommandsConfig};

pub(super) struct Shard {
    store: PgEventStore,
    cache: Arc<StateCache>,
    config: CommandsConfig,
}

/// A submission and how often it had to wait for another round.
struct Pending {
    submission: Submission,
    rounds: u32,
}

/// One stream's commands in this batch, decided in order; what they append
/// travels separately, to the store.
struct StreamWork {
    stream: StreamId,
    items: Vec<Pending>,
    saved: Vec<Saved>,
    after: Cached,
}

impl Shard {
    pub fn new(store: PgEventStore, cache: Arc<StateCache>, config: CommandsConfig) -> Self {
        Self {
            store,
            cache,
            config,
        }
    }

    /// Forms batches and commits them, up to `writer_batches_in_flight` at
    /// once. A stream is in at most one batch in flight: its commands that
    /// arrive meanwhile wait, in order, for that batch to commit, so each is
    /// decided against the state the previous one left. Other streams'
    /// commands go out in the next batch at once, and its commit overlaps
    /// the one in flight (Postgres flushes both with one fsync when they
    /// meet), instead of waiting a whole commit for it.
    pub async fn run(self, mut queue: mpsc::Receiver<Submission>) {
        let shard = Arc::new(self);
        let depth = shard.config.writer_batches_in_flight.max(1);
        let mut held: VecDeque<Pending> = VecDeque::new();
        let mut busy: HashSet<StreamId> = HashSet::new();
        let mut in_flight: JoinSet<VecDeque<Pending>> = JoinSet::new();
        let mut streams_of: HashMap<tokio::task::Id, Vec<StreamId>> = HashMap::new();
        let mut open = true;
        loop {
            while in_flight.len() < depth {
                let batch = shard.collect(&mut held, &mut queue, &busy);
                if batch.is_empty() {
                    break;
                }
                let streams: Vec<StreamId> = batch
                    .iter()
                    .map(|p| p.submission.stream.clone())
                    .collect::<HashSet<_>>()
                    .into_iter()
                    .collect();
                busy.extend(streams.iter().cloned());
                let worker = shard.clone();
                let task = in_flight.spawn(async move { worker.process(batch).await });
                streams_of.insert(task.id(), streams);
            }
            if !open && in_flight.is_empty() && held.is_empty() {
                return;
            }
            tokio::select! {
                done = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                    let (id, retry) = match done {
                        Some(Ok((id, retry))) => (id, retry),
                        Some(Err(err)) => {
                            // A panic in a batch: its commands' reply
                            // channels are gone, so their clients get an
                            // error; the shard goes on with the rest.
                            tracing::error!(error = %err, "a writer batch failed");
                            (err.id(), VecDeque::new())
                        }
                        None => continue,
                    };
                    for stream in streams_of.remove(&id).unwrap_or_default() {
                        busy.remove(&stream);
                    }
                    // Commands going round again are older than anything
                    // held for their streams: they go first.
                    for pending in retry.into_iter().rev() {
                        held.push_front(pending);
                    }
                }
                // Held commands count against the queue's bound: while a
                // hot stream's batch is in flight, its followers wait in the
                // channel (and new requests get 503) rather than pile up here.
                next = queue.recv(), if open && in_flight.len() < depth
                    && held.len() < shard.config.batch_commands_max => match next {
                    Some(submission) => held.push_back(Pending { submission, rounds: 0 }),
                    None => open = false,
                },
            }
        }
    }

    /// The next batch: held commands whose stream is not in flight, in
    /// order, then whatever is queued, within the batch limits. Commands of
    /// streams in flight stay (or go) in `held`.
    fn collect(
        &self,
        held: &mut VecDeque<Pending>,
        queue: &mut mpsc::Receiver<Submission>,
        busy: &HashSet<StreamId>,
    ) -> Vec<Pending> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        let full = |batch: &Vec<Pending>, bytes: usize| {
            batch.len() >= self.config.batch_commands_max || bytes >= self.config.batch_bytes_max
        };
        let mut kept = VecDeque::with_capacity(held.len());
        while let Some(pending) = held.pop_front() {
            if full(&batch, bytes) || busy.contains(&pending.submission.stream) {
                kept.push_back(pending);
            } else {
                bytes += pending.submission.size_bytes;
                batch.push(pending);
            }
        }
        *held = kept;
        // Held commands wait for their streams; the queue is read only as
        // far as the held ones leave room, so `held` stays bounded by it.
        while !full(&batch, bytes) && held.len() < self.config.batch_commands_max {
            let Ok(submission) = queue.try_recv() else {
                break;
            };
            let pending = Pending {
                submission,
                rounds: 0,
            };
            if busy.contains(&pending.submission.stream) {
                held.push_back(pending);
            } else {
                bytes += pending.submission.size_bytes;
                batch.push(pending);
            }
        }
        if !batch.is_empty() {
            tracing::debug!(commands = batch.len(), bytes, "writer batch");
        }
        batch
    }

    /// Decides and commits one batch; returns what must go another round.
    async fn process(&self, batch: Vec<Pending>) -> VecDeque<Pending> {
        let mut retry = VecDeque::new();
        // A command seen for the first time is decided without asking the
        // store whether its key is known: a known key makes the append
        // conflict (the commands table's key), and the command comes back
        // here for another round, where the record answers it. That keeps
        // the common case at one round trip per batch.
        let (again, first): (Vec<Pending>, Vec<Pending>) =
            batch.into_iter().partition(|p| p.rounds > 0);
        let mut unrecorded = match self.answer_recorded(again).await {
            Ok(unrecorded) => unrecorded,
            Err((err, items)) => {
                self.unavailable(items, &err);
                self.unavailable(first, &err);
                return retry;
            }
        };
        // Commands going round again came first, and stay ahead of newer
        // ones of the same stream.
        unrecorded.extend(first);
        // A key repeated within the batch waits one round for the first
        // one's record, then gets the recorded answer.
        let (fresh, repeats) = split_repeats(unrecorded);
        for pending in repeats {
            self.again(pending, &mut retry);
        }
        let mut work = Vec::new();
        let mut appends = Vec::new();
        for (stream, items) in group_by_stream(fresh) {
            match self.state_of(&stream).await {
                Ok(before) => {
                    let (append, decided) = decide_stream(stream, items, before);
                    appends.push(append);
                    work.push(decided);
                }
                Err(err) => self.unavailable(items, &err),
            }
        }
        if work.is_empty() {
            return retry;
        }
        let outcomes = match self.store.append_batch(appends).await {
            Ok(outcomes) => outcomes,
            Err(err) => {
                for w in work {
                    self.cache.forget(&w.stream);
                    self.unavailable(w.items, &err);
                }
                return retry;
            }
        };
        for (w, outcome) in work.into_iter().zip(outcomes) {
            match outcome {
                AppendOutcome::Committed {
                    head,
                    last_positions,
                } => {
                    debug_assert_eq!(
                        head.version, w.after.head.version,
                        "the store appended what we decided"
                    );
                    let mut after = w.after;
                    after.head = head;
                    self.cache.put(w.stream, after);
                    for ((pending, saved), position) in
                        w.items.into_iter().zip(w.saved).zip(last_positions)
                    {
                        let _ = pending.submission.reply.send(Ok(saved.reply(position)));
                    }
                }
                AppendOutcome::Conflict => {
                    // Another writer moved the stream (or recorded one of the
                    // keys): read it again and decide these commands anew.
                    self.cache.forget(&w.stream);
                    for pending in w.items {
                        self.again(pending, &mut retry);
                    }
                }
            }
        }
        retry
    }

    fn again(&self, mut pending: Pending, retry: &mut VecDeque<Pending>) {
        pending.rounds += 1;
        if pending.rounds > self.config.conflict_retries_max {
            let _ = pending.submission.reply.send(Err(ApiError::Contended));
        } else {
            retry.push_back(pending);
        }
    }

    fn unavailable(&self, items: Vec<Pending>, err: &ledger::Error) {
        tracing::error!(error = %error_chain(err), commands = items.len(), "writer could not reach the store");
        for pending in items {
            let _ = pending.submission.reply.send(Err(ApiError::Unavailable));
        }
    }

    /// Answers commands whose key is already recorded; returns the others.
    async fn answer_recorded(
        &self,
        batch: Vec<Pending>,
    ) -> Result<Vec<Pending>, (ledger::Error, Vec<Pending>)> {
        let ids: Vec<String> = batch
            .iter()
            .map(|p| p.submission.command_id.clone())
            .collect();
        let recorded = match self.store.find_commands(&ids).await {
            Ok(recorded) => recorded,
            Err(err) => return Err((err, batch)),
        };
        let mut fresh = Vec::with_capacity(batch.len());
        for pending in batch {
            match recorded.get(&pending.submission.command_id) {
                Some(stored) => {
                    let answer = replay(stored, &pending.submission);
                    let _ = pending.submission.reply.send(answer);
                }
                None => fresh.push(pending),
            }
        }
        Ok(fresh)
    }

    async fn state_of(&self, stream: &StreamId) -> Result<Cached, ledger::Error> {
        match self.cache.get(stream) {
            Some(cached) => Ok(cached),
            None => catch_up(&self.store, stream, Cached::default()).await,
        }
    }
}

/// The recorded answer to a repeated key, or 409 if the request differs.
fn replay(stored: &StoredCommand, submission: &Submission) -> Result<Reply, ApiError> {
    if stored.request_hash != submission.request_hash {
        return Err(ApiError::IdempotencyKeyReused);
    }
    Saved::from_outcome(&stored.outcome)
        .map(|saved| saved.reply(stored.last_position))
        .ok_or_else(|| {
            ApiError::Internal(format!("unreadable outcome of {}", stored.command_id).into())
        })
}

/// Keeps the first command of each key; later ones wait for its record.
fn split_repeats(batch: Vec<Pending>) -> (Vec<Pending>, Vec<Pending>) {
    let mut seen = HashSet::new();
    batch
        .into_iter()
        .partition(|p| seen.insert(p.submission.command_id.clone()))
}

/// Groups commands by stream, keeping arrival order within each stream.
fn group_by_stream(batch: Vec<Pending>) -> Vec<(StreamId, Vec<Pending>)> {
    let mut index: HashMap<StreamId, usize> = HashMap::new();
    let mut groups: Vec<(StreamId, Vec<Pending>)> = Vec::new();
    for pending in batch {
        let stream = pending.submission.stream.clone();
        match index.get(&stream) {
            Some(&i) => groups[i].1.push(pending),
            None => {
                index.insert(stream.clone(), groups.len());
                groups.push((stream, vec![pending]));
            }
        }
    }
    groups
}

/// Decides a stream's commands in order, each against the state the
/// previous one produced.
fn decide_stream(
    stream: StreamId,
    items: Vec<Pending>,
    before: Cached,
) -> (StreamAppend, StreamWork) {
    let expected = before.head;
    let mut state = before.state;
    let mut version = expected.version;
    let mut commands = Vec::with_capacity(items.len());
    let mut saved = Vec::with_capacity(items.len());
    for pending in &items {
        let s = &pending.submission;
        let (events, answer) = match decide(&state, &s.command) {
            Ok(events) => {
                for event in &events {
                    state = state.evolve(event);
                }
                version += events.len() as i64;
                let answer = match state.wallet.as_ref() {
                    Some(wallet) => (s.render)(&Decision::Accepted {
                        wallet,
                        version,
                        events: &events,
                    }),
                    None => Saved::rejected(&ledger::Rejection::AccountNotFound),
                };
                let new_events = events
                    .iter()
                    .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
                    .collect();
                (new_events, answer)
            }
            Err(rejection) => (Vec::new(), (s.render)(&Decision::Rejected(&rejection))),
        };
        commands.push(CommandAppend {
            command_id: s.command_id.clone(),
            request_hash: s.request_hash.clone(),
            outcome: answer.to_outcome(),
            events,
        });
        saved.push(answer);
    }
    let append = StreamAppend {
        stream_id: stream.clone(),
        expected,
        commands,
    };
    // The hash of the new head is computed by the store; the writer keeps
    // the head the store reports once the append has committed.
    let after = Cached {
        state,
        head: ledger::store::StreamHead {
            version,
            hash: None,
        },
    };
    (
        append,
        StreamWork {
            stream,
            items,
            saved,
            after,
        },
    )
}
