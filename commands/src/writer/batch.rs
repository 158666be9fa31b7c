//! One writer shard: takes what is queued (up to the batch limits), decides
//! it stream by stream, appends everything in one transaction, answers.
//! The next batch starts as soon as this commit returns, so an idle system
//! adds no wait and a busy one gets large batches.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, PgEventStore, StoredCommand, StreamAppend, StreamHead,
};
use ledger::{error_chain, StreamId};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::Submission;
use crate::cache::{catch_up, Cached, StateCache};
use crate::render::{Reply, Saved};
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
                    .flat_map(|p| p.submission.command.streams().iter().cloned())
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

    /// The next batch: held commands none of whose streams is in flight, in
    /// order, then whatever is queued, within the batch limits. Commands of
    /// streams in flight stay (or go) in `held`, and so does every later
    /// command on a stream of a held one, so each stream keeps its order.
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
        let mut blocked: HashSet<StreamId> = busy.clone();
        let hold = |pending: &Pending, blocked: &mut HashSet<StreamId>| {
            let streams = pending.submission.command.streams();
            if streams.iter().any(|s| blocked.contains(s)) {
                blocked.extend(streams.iter().cloned());
                true
            } else {
                false
            }
        };
        let mut kept = VecDeque::with_capacity(held.len());
        while let Some(pending) = held.pop_front() {
            if full(&batch, bytes) {
                blocked.extend(pending.submission.command.streams().iter().cloned());
                kept.push_back(pending);
            } else if hold(&pending, &mut blocked) {
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
            if hold(&pending, &mut blocked) {
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
        let (states, fresh) = self.load_states(fresh).await;
        let Some(plan) = Plan::decide(fresh, states) else {
            return retry;
        };
        let Plan {
            items,
            saved,
            groups,
        } = plan;
        let appends = groups
            .iter()
            .map(|g| g.streams.iter().map(|s| s.append.clone()).collect())
            .collect();
        let outcomes = match self.store.append_groups(appends).await {
            Ok(outcomes) => outcomes,
            Err(err) => {
                for group in &groups {
                    for stream in &group.streams {
                        self.cache.forget(&stream.append.stream_id);
                    }
                }
                self.unavailable(items, &err);
                return retry;
            }
        };
        let mut answers: Vec<Option<Answer>> = (0..items.len()).map(|_| None).collect();
        for (group, outcomes) in groups.into_iter().zip(outcomes) {
            let committed = outcomes
                .iter()
                .all(|o| matches!(o, AppendOutcome::Committed { .. }));
            if !committed {
                // Another writer moved one of the streams (or recorded one
                // of the keys): read them again and decide these commands
                // anew, the whole group together.
                for stream in &group.streams {
                    self.cache.forget(&stream.append.stream_id);
                }
                for &item in &group.items {
                    answers[item] = Some(Answer::Again);
                }
                continue;
            }
            let mut positions: HashMap<usize, Option<i64>> = HashMap::new();
            for (stream, outcome) in group.streams.into_iter().zip(outcomes) {
                let AppendOutcome::Committed {
                    head,
                    last_positions,
                } = outcome
                else {
                    continue;
                };
                for (&item, position) in stream.items.iter().zip(last_positions) {
                    let best = positions.entry(item).or_default();
                    *best = (*best).max(position);
                }
                match stream.after {
                    Some(mut after) => {
                        debug_assert_eq!(
                            head.version, after.head.version,
                            "the store appended what we decided"
                        );
                        after.head = head;
                        self.cache.put(stream.append.stream_id, after);
                    }
                    None => self.cache.forget(&stream.append.stream_id),
                }
            }
            for (item, position) in positions {
                answers[item] = Some(Answer::Committed(position));
            }
        }
        for ((pending, saved), answer) in items.into_iter().zip(saved).zip(answers) {
            match answer {
                Some(Answer::Committed(position)) => {
                    let _ = pending.submission.reply.send(Ok(saved.reply(position)));
                }
                Some(Answer::Again) | None => self.again(pending, &mut retry),
            }
        }
        retry
    }

    /// The state of every stream the commands touch. A command whose
    /// stream cannot be read is answered 503 and left out.
    async fn load_states(&self, batch: Vec<Pending>) -> (HashMap<StreamId, Cached>, Vec<Pending>) {
        let mut states: HashMap<StreamId, Cached> = HashMap::new();
        let mut ready = Vec::with_capacity(batch.len());
        for pending in batch {
            let mut failed = None;
            for stream in pending.submission.command.streams() {
                if states.contains_key(stream) {
                    continue;
                }
                match self.state_of(stream).await {
                    Ok(state) => {
                        states.insert(stream.clone(), state);
                    }
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
            match failed {
                Some(err) => self.unavailable(vec![pending], &err),
                None => ready.push(pending),
            }
        }
        (states, ready)
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
            None => catch_up(&self.store, stream, Cached::empty(stream)).await,
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

enum Answer {
    Committed(Option<i64>),
    Again,
}

/// One stream of a group: what it appends, the state it will be in, and
/// which of the batch's commands it lists (in the order of its commands).
struct StreamPlan {
    append: StreamAppend,
    /// The state after the batch's commands; set once all are decided.
    after: Option<Cached>,
    items: Vec<usize>,
}

/// Streams that commit together: those some command of the batch touches
/// together, transitively.
struct GroupPlan {
    streams: Vec<StreamPlan>,
    items: Vec<usize>,
}

/// A decided batch: its commands, their answers, and the groups to append.
struct Plan {
    items: Vec<Pending>,
    saved: Vec<Saved>,
    groups: Vec<GroupPlan>,
}

impl Plan {
    /// Decides the commands in arrival order, each against the states the
    /// earlier ones left, and groups their streams.
    fn decide(items: Vec<Pending>, mut states: HashMap<StreamId, Cached>) -> Option<Self> {
        if items.is_empty() {
            return None;
        }
        let mut streams: Vec<StreamPlan> = Vec::new();
        let mut index: HashMap<StreamId, usize> = HashMap::new();
        let mut groups = UnionFind::default();
        let mut saved = Vec::with_capacity(items.len());
        for (item, pending) in items.iter().enumerate() {
            let s = &pending.submission;
            let touched = s.command.streams();
            let mut taken: Vec<Cached> = touched
                .iter()
                .map(|stream| {
                    states
                        .remove(stream)
                        .unwrap_or_else(|| Cached::empty(stream))
                })
                .collect();
            let before: Vec<StreamHead> = taken.iter().map(|c| c.head).collect();
            let decided = s.command.decide(&mut taken);
            let outcome = decided.saved.to_outcome();
            let mut first: Option<usize> = None;
            for (((stream, state), events), expected) in
                touched.iter().zip(taken).zip(decided.events).zip(before)
            {
                let at = *index.entry(stream.clone()).or_insert_with(|| {
                    streams.push(StreamPlan {
                        append: StreamAppend {
                            stream_id: stream.clone(),
                            expected,
                            commands: Vec::new(),
                        },
                        after: None,
                        items: Vec::new(),
                    });
                    streams.len() - 1
                });
                // Every stream lists the command, events or not: the store
                // records it once per group, and checks the version of a
                // stream it only read, so a rejection decided against a
                // stale market or wallet cannot stand.
                let plan = &mut streams[at];
                plan.append.commands.push(CommandAppend {
                    command_id: s.command_id.clone(),
                    request_hash: s.request_hash.clone(),
                    outcome: outcome.clone(),
                    events,
                });
                plan.items.push(item);
                states.insert(stream.clone(), state);
                match first {
                    Some(f) => groups.union(f, at),
                    None => first = Some(at),
                }
            }
            saved.push(decided.saved);
        }
        let mut by_root: HashMap<usize, usize> = HashMap::new();
        let mut planned: Vec<GroupPlan> = Vec::new();
        for (at, mut stream) in streams.into_iter().enumerate() {
            stream.after = states.remove(&stream.append.stream_id);
            let root = groups.find(at);
            let g = *by_root.entry(root).or_insert_with(|| {
                planned.push(GroupPlan {
                    streams: Vec::new(),
                    items: Vec::new(),
                });
                planned.len() - 1
            });
            let group = &mut planned[g];
            group.items.extend_from_slice(&stream.items);
            group.streams.push(stream);
        }
        for group in &mut planned {
            group.items.sort_unstable();
            group.items.dedup();
        }
        Some(Self {
            items,
            saved,
            groups: planned,
        })
    }
}

/// Disjoint sets of stream indexes, grown as streams are first seen.
#[derive(Default)]
struct UnionFind {
    parent: Vec<usize>,
}

impl UnionFind {
    fn find(&mut self, i: usize) -> usize {
        while self.parent.len() <= i {
            self.parent.push(self.parent.len());
        }
        let mut root = i;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        let mut at = i;
        while self.parent[at] != root {
            let next = self.parent[at];
            self.parent[at] = root;
            at = next;
        }
        root
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            self.parent[rb] = ra;
        }
    }
}
