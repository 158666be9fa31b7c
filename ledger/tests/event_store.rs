//! The event store's test suite, on the real Postgres. The `suite` functions
//! take any `EventStore`, so another backend must pass the same ones.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
};
use ledger::StreamId;
use sqlx::PgPool;

fn event(n: i64) -> NewEvent {
    NewEvent::new("test_happened", 1, serde_json::json!({ "n": n }))
}

fn command(id: &str, events: Vec<NewEvent>) -> CommandAppend {
    CommandAppend {
        command_id: id.to_owned(),
        request_hash: vec![1],
        outcome: serde_json::json!({ "status": 200 }),
        events,
    }
}

fn committed_head(outcome: &AppendOutcome) -> StreamHead {
    match outcome {
        AppendOutcome::Committed { head, .. } => *head,
        AppendOutcome::Conflict => panic!("expected a commit, got a conflict"),
    }
}

mod suite {
    use super::*;

    pub async fn two_appends_at_one_version_one_wins<S: EventStore>(store: &S) {
        let stream = StreamId::new("race-1");
        let (a, b) = tokio::join!(
            store.append(
                stream.clone(),
                StreamHead::EMPTY,
                vec![event(1)],
                "cmd-a".into()
            ),
            store.append(
                stream.clone(),
                StreamHead::EMPTY,
                vec![event(2)],
                "cmd-b".into()
            ),
        );
        let outcomes = [a.expect("append a"), b.expect("append b")];
        let wins = outcomes
            .iter()
            .filter(|o| matches!(o, AppendOutcome::Committed { .. }))
            .count();
        assert_eq!(wins, 1, "exactly one append wins: {outcomes:?}");
        let stored = store.read_stream(&stream, 0, 100).await.expect("read");
        assert_eq!(stored.len(), 1);

        // Sequentially too: a stale expected version is refused.
        let late = store
            .append(
                stream.clone(),
                StreamHead::EMPTY,
                vec![event(3)],
                "cmd-c".into(),
            )
            .await;
        assert_eq!(late.expect("append c"), AppendOutcome::Conflict);
    }

    pub async fn a_command_id_appends_once<S: EventStore>(store: &S) {
        let stream = StreamId::new("idem-1");
        let first = store
            .append(
                stream.clone(),
                StreamHead::EMPTY,
                vec![event(1), event(2)],
                "same-key".into(),
            )
            .await
            .expect("first");
        let head = committed_head(&first);
        let again = store
            .append(
                stream.clone(),
                head,
                vec![event(1), event(2)],
                "same-key".into(),
            )
            .await
            .expect("second");
        assert_eq!(
            again,
            AppendOutcome::Conflict,
            "a repeated command id writes nothing"
        );
        assert_eq!(
            store
                .read_stream(&stream, 0, 100)
                .await
                .expect("read")
                .len(),
            2
        );
        let found = store
            .find_commands(&["same-key".into()])
            .await
            .expect("find");
        assert_eq!(found.len(), 1);
    }

    pub async fn one_conflict_does_not_fail_the_batch<S: EventStore>(store: &S) {
        let taken = StreamId::new("batch-taken");
        let head = committed_head(
            &store
                .append(
                    taken.clone(),
                    StreamHead::EMPTY,
                    vec![event(0)],
                    "pre".into(),
                )
                .await
                .expect("pre"),
        );
        let batch = vec![
            StreamAppend {
                stream_id: StreamId::new("batch-a"),
                expected: StreamHead::EMPTY,
                commands: vec![command("a1", vec![event(1)]), command("a2", vec![])],
            },
            // Decided against an empty stream that is not empty any more.
            StreamAppend {
                stream_id: taken.clone(),
                expected: StreamHead::EMPTY,
                commands: vec![command("t1", vec![event(2)])],
            },
            StreamAppend {
                stream_id: StreamId::new("batch-b"),
                expected: StreamHead::EMPTY,
                commands: vec![command("b1", vec![event(3), event(4)])],
            },
        ];
        let outcomes = store.append_batch(batch).await.expect("batch");
        assert!(
            matches!(&outcomes[0], AppendOutcome::Committed { last_positions, .. } if last_positions.len() == 2 && last_positions[0].is_some() && last_positions[1].is_none())
        );
        assert_eq!(outcomes[1], AppendOutcome::Conflict);
        assert_eq!(committed_head(&outcomes[2]).version, 2);
        assert_eq!(
            store.read_stream(&taken, 0, 10).await.expect("read").len(),
            1
        );
        assert_eq!(head.version, 1);
        // The rejected command of stream a was recorded with it.
        assert!(store
            .find_commands(&["a2".into()])
            .await
            .expect("find")
            .contains_key("a2"));
        assert!(store
            .find_commands(&["t1".into()])
            .await
            .expect("find")
            .is_empty());
    }

    /// A group commits whole or not at all; its conflict fails no other
    /// group; a command on several streams is recorded once, at the
    /// position of its last event on any of them.
    pub async fn a_conflict_drops_its_whole_group<S: EventStore>(store: &S) {
        let taken = StreamId::new("group-taken");
        store
            .append(
                taken.clone(),
                StreamHead::EMPTY,
                vec![event(0)],
                "pre".into(),
            )
            .await
            .expect("pre");
        let stream = |id: &str, commands| StreamAppend {
            stream_id: StreamId::new(id),
            expected: StreamHead::EMPTY,
            commands,
        };
        let groups = vec![
            // Stream "group-a1" is fine, but its partner is stale.
            vec![
                stream("group-a1", vec![command("bet-a", vec![event(1)])]),
                StreamAppend {
                    stream_id: taken.clone(),
                    expected: StreamHead::EMPTY,
                    commands: vec![command("bet-a", vec![event(2)])],
                },
            ],
            // One command over two streams, listed by both.
            vec![
                stream("group-b1", vec![command("bet-b", vec![event(3)])]),
                stream("group-b2", vec![command("bet-b", vec![event(4), event(5)])]),
            ],
        ];
        let outcomes = store.append_groups(groups).await.expect("groups");
        assert_eq!(
            outcomes[0],
            vec![AppendOutcome::Conflict, AppendOutcome::Conflict]
        );
        assert_eq!(committed_head(&outcomes[1][0]).version, 1);
        assert_eq!(committed_head(&outcomes[1][1]).version, 2);
        assert!(store
            .read_stream(&StreamId::new("group-a1"), 0, 10)
            .await
            .expect("read")
            .is_empty());
        assert!(store
            .find_commands(&["bet-a".into()])
            .await
            .expect("find")
            .is_empty());
        let b2 = store
            .read_stream(&StreamId::new("group-b2"), 0, 10)
            .await
            .expect("read");
        let recorded = store.find_commands(&["bet-b".into()]).await.expect("find");
        let bet_b = recorded.get("bet-b").expect("bet-b is recorded");
        assert_eq!(bet_b.stream_id.as_str(), "group-b1");
        assert_eq!(
            bet_b.last_position,
            Some(b2.last().expect("b2 has events").global_position)
        );
    }

    pub async fn hash_chains_link_every_event<S: EventStore>(store: &S) {
        let stream = StreamId::new("chain-1");
        let mut head = StreamHead::EMPTY;
        for i in 0..5 {
            let outcome = store
                .append(
                    stream.clone(),
                    head,
                    vec![event(i), event(i + 100)],
                    format!("chain-{i}"),
                )
                .await
                .expect("append");
            head = committed_head(&outcome);
        }
        let events = store.read_stream(&stream, 0, 100).await.expect("read");
        assert_eq!(events.len(), 10);
        let mut prev: Option<Vec<u8>> = None;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.stream_version, i as i64 + 1);
            assert_eq!(
                e.prev_hash, prev,
                "event {} links to its predecessor",
                e.stream_version
            );
            assert_eq!(
                e.computed_hash().to_vec(),
                e.hash,
                "event {} hash",
                e.stream_version
            );
            prev = Some(e.hash.clone());
        }
        assert_eq!(head.hash.map(|h| h.to_vec()), prev);
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn two_appends_at_one_version_one_wins(pool: PgPool) {
    suite::two_appends_at_one_version_one_wins(&PgEventStore::new(pool)).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_command_id_appends_once(pool: PgPool) {
    suite::a_command_id_appends_once(&PgEventStore::new(pool)).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn one_conflict_does_not_fail_the_batch(pool: PgPool) {
    suite::one_conflict_does_not_fail_the_batch(&PgEventStore::new(pool)).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_conflict_drops_its_whole_group(pool: PgPool) {
    suite::a_conflict_drops_its_whole_group(&PgEventStore::new(pool)).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn hash_chains_link_every_event(pool: PgPool) {
    suite::hash_chains_link_every_event(&PgEventStore::new(pool)).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn events_cannot_be_updated_deleted_or_truncated(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    store
        .append(
            StreamId::new("fixed"),
            StreamHead::EMPTY,
            vec![event(1)],
            "fixed-1".into(),
        )
        .await
        .expect("append");
    for statement in [
        "UPDATE events SET payload = '{\"n\": 2}'",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err(statement);
        assert!(
            err.to_string().contains("events are immutable"),
            "{statement}: {err}"
        );
    }
    assert_eq!(
        store
            .read_stream(&StreamId::new("fixed"), 0, 10)
            .await
            .expect("read")
            .len(),
        1
    );
}

/// Opens a transaction that draws a position and then sits on it, the way a
/// slow appender would, so that later positions commit before it.
async fn slow_append(pool: PgPool, hold_for: Duration) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT events_append_begin()")
        .execute(&mut *tx)
        .await
        .expect("lock");
    sqlx::query(
        "INSERT INTO events (stream_id, stream_version, event_id, command_id, event_type, schema_version, payload, recorded_at, hash)
         VALUES ('slow', 1, gen_random_uuid(), 'slow-1', 'test_happened', 1, '{}', now(), decode(repeat('00', 32), 'hex'))",
    )
    .execute(&mut *tx)
    .await
    .expect("insert");
    sqlx::query("SELECT events_append_end()")
        .execute(&mut *tx)
        .await
        .expect("unlock");
    tokio::time::sleep(hold_for).await;
    tx.commit().await.expect("commit");
}

/// 8 appenders on 200 streams and one slow transaction, while a subscriber
/// follows `read_all`: it must see every committed event once, in order.
/// Without the `tx_id` filter the subscriber passes the slow transaction's
/// position before it commits and never sees that event.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_subscriber_sees_every_event_once_in_order(pool: PgPool) {
    const APPENDERS: usize = 8;
    const STREAMS_PER_APPENDER: usize = 25;
    const ROUNDS: usize = 30;
    let store = Arc::new(PgEventStore::new(pool.clone()));

    let slow = tokio::spawn(slow_append(pool.clone(), Duration::from_millis(700)));
    // Let the slow transaction take its position first.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let mut appenders = Vec::new();
    for a in 0..APPENDERS {
        let store = store.clone();
        appenders.push(tokio::spawn(async move {
            let mut heads = vec![StreamHead::EMPTY; STREAMS_PER_APPENDER];
            for round in 0..ROUNDS {
                let batch: Vec<StreamAppend> = (0..STREAMS_PER_APPENDER)
                    .filter(|s| (s + round) % 3 == 0)
                    .map(|s| StreamAppend {
                        stream_id: StreamId::new(format!("s-{a}-{s}")),
                        expected: heads[s],
                        commands: vec![command(
                            &format!("c-{a}-{s}-{round}"),
                            vec![event(round as i64)],
                        )],
                    })
                    .collect();
                let indices: Vec<usize> = (0..STREAMS_PER_APPENDER)
                    .filter(|s| (s + round) % 3 == 0)
                    .collect();
                let outcomes = store.append_batch(batch).await.expect("append");
                for (s, outcome) in indices.into_iter().zip(outcomes) {
                    heads[s] = committed_head(&outcome);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }

    // Set once every writer has finished: how many events exist in all.
    let total = Arc::new(std::sync::atomic::AtomicUsize::new(usize::MAX));
    let subscriber = {
        let store = store.clone();
        let total = total.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            // Stops when it has seen as many events as exist, or at the
            // deadline (then the assertions below say what it missed). An
            // idle read is not the end: a transaction anywhere in the
            // cluster can hold gap-safe reads back for a while.
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline
                && seen.len() < total.load(std::sync::atomic::Ordering::SeqCst)
            {
                let events = store.read_all(after, 37).await.expect("read_all");
                if events.is_empty() {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
                for e in events {
                    assert!(
                        e.global_position > after,
                        "positions go up: {} after {after}",
                        e.global_position
                    );
                    after = e.global_position;
                    seen.push(e.global_position);
                }
            }
            seen
        })
    };

    for appender in appenders {
        appender.await.expect("appender");
    }
    slow.await.expect("slow");
    let all: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM events ORDER BY global_position")
            .fetch_all(&pool)
            .await
            .expect("positions");
    total.store(all.len(), std::sync::atomic::Ordering::SeqCst);
    let seen = subscriber.await.expect("subscriber");
    let expected_count = APPENDERS * ROUNDS * STREAMS_PER_APPENDER / 3 + 1;
    assert!(
        all.len() >= expected_count - APPENDERS * ROUNDS,
        "the appenders wrote their events"
    );
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event seen twice");
    let missing: Vec<i64> = all
        .iter()
        .copied()
        .filter(|p| !unique.contains(p))
        .collect();
    assert!(
        missing.is_empty(),
        "the subscriber skipped positions {missing:?}"
    );
    assert_eq!(seen, all);
}

/// A subscriber is woken once per append, again and again; a wake-up never
/// blocks waiting for the next one.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_subscription_wakes_on_every_append(pool: PgPool) {
    let store = PgEventStore::new(pool);
    let mut subscription = store.subscribe().await.expect("subscribe");
    let stream = StreamId::new("wake");
    let mut head = StreamHead::EMPTY;
    for i in 0..3 {
        let outcome = store
            .append(stream.clone(), head, vec![event(i)], format!("wake-{i}"))
            .await
            .expect("append");
        head = committed_head(&outcome);
        let woken = tokio::time::timeout(
            Duration::from_secs(5),
            subscription.wait(Duration::from_secs(2)),
        )
        .await
        .expect("wait returns within its own timeout");
        assert!(woken, "append {i} woke the subscriber");
    }
    let idle = tokio::time::timeout(
        Duration::from_secs(5),
        subscription.wait(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(idle.ok(), Some(false), "no append, no wake-up");
}

/// The slim log projections read is the full log, column for column.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_slim_log_matches_the_full_one(pool: PgPool) {
    let store = PgEventStore::new(pool);
    let mut head = StreamHead::EMPTY;
    for i in 0..4 {
        let outcome = store
            .append(
                StreamId::new("slim"),
                head,
                vec![event(i), event(i * 10)],
                format!("slim-{i}"),
            )
            .await
            .expect("append");
        head = committed_head(&outcome);
    }
    // Gap-safe reads may hold back for a moment while a transaction anywhere
    // in the cluster (another test's, say) is open: wait until all are in.
    let deadline = Instant::now() + Duration::from_secs(30);
    let full = loop {
        let full = store.read_all(0, 100).await.expect("read_all");
        if full.len() == 8 || Instant::now() > deadline {
            break full;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let slim = store.read_log(0, 100).await.expect("read_log");
    assert_eq!(full.len(), 8);
    assert_eq!(slim.len(), full.len());
    for (f, s) in full.iter().zip(&slim) {
        assert_eq!(
            (f.global_position, &f.stream_id, f.stream_version),
            (s.global_position, &s.stream_id, s.stream_version)
        );
        assert_eq!(
            (&f.event_type, f.schema_version, f.recorded_at),
            (&s.event_type, s.schema_version, s.recorded_at)
        );
        let payload: serde_json::Value = serde_json::from_str(s.payload.get()).expect("json");
        assert_eq!(payload, f.payload);
    }
    assert_eq!(
        store
            .read_log(full[5].global_position, 2)
            .await
            .expect("page")
            .len(),
        2
    );
}

/// A projection's connection lives as long as the server. Its log reads
/// must not keep a plan made while the log was empty (a sequential scan and
/// a sort): with autovacuum off nothing would ever replace it, and every
/// step would read the whole log.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn log_reads_use_the_index_after_the_log_grows(pool: PgPool) {
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .expect("one connection");
    let store = PgEventStore::new(one.clone());
    // A new deployment: a few events, analysed (as autovacuum or the
    // operator would), then enough reads for Postgres to settle on a cached
    // generic plan, if the statement were a cached one.
    store
        .append(
            StreamId::new("young"),
            StreamHead::EMPTY,
            (0..5).map(event).collect(),
            "young".into(),
        )
        .await
        .expect("append");
    sqlx::query("ANALYZE events")
        .execute(&pool)
        .await
        .expect("analyze");
    for _ in 0..10 {
        store.read_log(0, 100).await.expect("read");
    }
    sqlx::query(
        "INSERT INTO events (stream_id, stream_version, event_id, command_id, event_type, \
                             schema_version, payload, recorded_at, hash) \
         SELECT 'grown', n, gen_random_uuid(), 'c' || n, 'test_happened', 1, \
                jsonb_build_object('n', n), now(), sha256(n::text::bytea) \
         FROM generate_series(1, 20000) AS n",
    )
    .execute(&pool)
    .await
    .expect("grow the log");
    let last: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("last");
    let seq_read = || async {
        // Flush this connection's counters and read them afresh.
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&one)
            .await
            .expect("flush");
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&one)
            .await
            .expect("clear");
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(seq_tup_read, 0) FROM pg_stat_user_tables WHERE relname = 'events'",
        )
        .fetch_one(&one)
        .await
        .expect("counters")
    };
    let before = seq_read().await;
    for _ in 0..20 {
        store.read_log(last - 10, 100).await.expect("read");
    }
    let scanned = seq_read().await - before;
    assert!(
        scanned < 20_000,
        "20 reads of the log's last 10 events scanned {scanned} rows sequentially"
    );
}

/// The heads a prepared batch announces before it is sent are the heads its
/// commit leaves, so what is decided on them (the settlement's next chunk)
/// chains on the right events.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_prepared_batch_knows_the_heads_it_will_leave(pool: PgPool) {
    let store = PgEventStore::new(pool);
    let (a, b) = (StreamId::new("prepared-a"), StreamId::new("prepared-b"));
    let group = vec![
        StreamAppend {
            stream_id: a.clone(),
            expected: StreamHead::EMPTY,
            commands: vec![command("prepared-1", vec![event(1), event(2)])],
        },
        StreamAppend {
            stream_id: b.clone(),
            expected: StreamHead::EMPTY,
            commands: vec![command("prepared-1", vec![event(3)])],
        },
    ];
    let batch = PgEventStore::prepare_groups(vec![group]).expect("prepare");
    let announced: Vec<(StreamId, StreamHead)> =
        batch.heads().map(|(s, h)| (s.clone(), h)).collect();
    let outcomes = store.append_prepared(batch).await.expect("append");
    let committed: Vec<StreamHead> = outcomes[0].iter().map(committed_head).collect();
    assert_eq!(
        announced,
        vec![(a.clone(), committed[0]), (b.clone(), committed[1])]
    );
    assert_eq!(committed[0].version, 2);

    // What is decided on an announced head appends on top of it.
    let next = store
        .append_batch(vec![StreamAppend {
            stream_id: a.clone(),
            expected: announced[0].1,
            commands: vec![command("prepared-2", vec![event(4)])],
        }])
        .await
        .expect("append");
    assert_eq!(committed_head(&next[0]).version, 3);
    let stored = store.read_stream(&a, 2, 10).await.expect("read");
    assert_eq!(
        stored[0].prev_hash.as_deref(),
        announced[0].1.hash.as_ref().map(|h| h.as_slice())
    );
}

/// The keys every append and projection step inserts into compare byte by
/// byte (migration 0012), whatever the database's default collation.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_hot_text_keys_compare_bytes(pool: PgPool) {
    let collations: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT table_name || '.' || column_name, collation_name::text
         FROM information_schema.columns
         WHERE table_schema = 'public'
           AND (table_name, column_name) IN (('events', 'stream_id'), ('commands', 'command_id'),
                                             ('account_balances', 'account_id'),
                                             ('account_statement', 'account_id'))
         ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("columns");
    let c = Some("C".to_owned());
    assert_eq!(
        collations,
        vec![
            ("account_balances.account_id".to_owned(), c.clone()),
            ("account_statement.account_id".to_owned(), c.clone()),
            ("commands.command_id".to_owned(), c.clone()),
            ("events.stream_id".to_owned(), c),
        ]
    );
}

/// Appends one event to the empty `stream` under `key` while `blocker`
/// holds what the append needs: asserts that it waits for the blocker's
/// commit, then conflicts (as a conflict, not an error).
async fn conflicts_after_commit(
    store: &PgEventStore,
    blocker: sqlx::Transaction<'_, sqlx::Postgres>,
    stream: &str,
    key: &str,
) {
    let waiting = tokio::spawn({
        let (store, stream, key) = (store.clone(), StreamId::new(stream), key.to_owned());
        async move {
            store
                .append(stream, StreamHead::EMPTY, vec![event(1)], key)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "the append waits for the commit");
    blocker.commit().await.expect("commit");
    let outcome = waiting
        .await
        .expect("join")
        .expect("a conflict, not an error");
    assert_eq!(outcome, AppendOutcome::Conflict);
}

/// An append whose version another append has written but not committed
/// yet (the append lock is released before the commit, ADR 0002) waits for
/// that commit and then conflicts, as a conflict: not a database error, and
/// with the append lock released, so the next append goes through.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_append_behind_an_uncommitted_one_conflicts_cleanly(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    let mut tx = pool.begin().await.expect("begin");
    for sql in [
        "SELECT events_append_begin()",
        "INSERT INTO events (stream_id, stream_version, event_id, command_id, event_type, schema_version, payload, recorded_at, hash)
         VALUES ('race-uncommitted', 1, gen_random_uuid(), 'first', 'test_happened', 1, '{}', now(), decode(repeat('00', 32), 'hex'))",
        "SELECT events_append_end()",
    ] {
        sqlx::query(sql).execute(&mut *tx).await.expect("first append");
    }
    conflicts_after_commit(&store, tx, "race-uncommitted", "second").await;

    let next = tokio::time::timeout(
        Duration::from_secs(10),
        store.append(
            StreamId::new("after-the-race"),
            StreamHead::EMPTY,
            vec![event(2)],
            "third".into(),
        ),
    )
    .await
    .expect("the append lock was released")
    .expect("append");
    assert!(matches!(next, AppendOutcome::Committed { .. }));
}

/// A key recorded earlier conflicts only the group that brings it again,
/// even on a stream the log has never seen (so its events insert fine and
/// only the `commands` row fails); the other groups of the batch commit.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_recorded_key_drops_only_its_group(pool: PgPool) {
    let store = PgEventStore::new(pool);
    store
        .append(
            StreamId::new("key-first"),
            StreamHead::EMPTY,
            vec![event(0)],
            "retried".into(),
        )
        .await
        .expect("first");
    let stream = |id: &str, key: &str, n: i64| StreamAppend {
        stream_id: StreamId::new(id),
        expected: StreamHead::EMPTY,
        commands: vec![command(key, vec![event(n)])],
    };
    let outcomes = store
        .append_groups(vec![
            vec![stream("key-before", "fresh-1", 1)],
            vec![stream("key-again", "retried", 2)],
            vec![stream("key-after", "fresh-2", 3)],
        ])
        .await
        .expect("groups");
    assert_eq!(committed_head(&outcomes[0][0]).version, 1);
    assert_eq!(outcomes[1], vec![AppendOutcome::Conflict]);
    assert_eq!(committed_head(&outcomes[2][0]).version, 1);
    assert!(store
        .read_stream(&StreamId::new("key-again"), 0, 10)
        .await
        .expect("read")
        .is_empty());
    let recorded = store
        .find_commands(&["retried".into(), "fresh-1".into(), "fresh-2".into()])
        .await
        .expect("find");
    assert_eq!(recorded["retried"].stream_id.as_str(), "key-first");
    assert_eq!(recorded.len(), 3);
}

/// An append whose key another transaction has recorded but not committed
/// waits for that commit and then conflicts, as a conflict; the next
/// append goes through on the same connection pool.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_append_behind_an_uncommitted_key_conflicts_cleanly(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO commands (command_id, stream_id, request_hash, outcome)
         VALUES ('racing-key', 'key-elsewhere', '\\x01', '{}')",
    )
    .execute(&mut *tx)
    .await
    .expect("record the key");
    conflicts_after_commit(&store, tx, "key-racer", "racing-key").await;
    assert!(store
        .read_stream(&StreamId::new("key-racer"), 0, 10)
        .await
        .expect("read")
        .is_empty());
    let next = store
        .append(
            StreamId::new("key-racer"),
            StreamHead::EMPTY,
            vec![event(2)],
            "next-key".into(),
        )
        .await
        .expect("append");
    assert_eq!(committed_head(&next).version, 1);
}

/// One key in two groups of one call is a caller's bug (the writer sends
/// each key once a batch): the whole call fails and writes nothing, rather
/// than record the key for one group and not the other.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_key_twice_in_one_call_writes_nothing(pool: PgPool) {
    let store = PgEventStore::new(pool);
    let stream = |id: &str, n: i64| StreamAppend {
        stream_id: StreamId::new(id),
        expected: StreamHead::EMPTY,
        commands: vec![command("twice", vec![event(n)])],
    };
    let result = store
        .append_groups(vec![vec![stream("twice-a", 1)], vec![stream("twice-b", 2)]])
        .await;
    assert!(result.is_err(), "got {result:?}");
    for id in ["twice-a", "twice-b"] {
        assert!(store
            .read_stream(&StreamId::new(id), 0, 10)
            .await
            .expect("read")
            .is_empty());
    }
    assert!(store
        .find_commands(&["twice".into()])
        .await
        .expect("find")
        .is_empty());
}

/// The append function keeps generic plans (migration 0018). A later
/// `CREATE OR REPLACE FUNCTION events_append` drops a `SET` clause it does
/// not repeat, and every call would plan its statements again.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_append_function_plans_once(pool: PgPool) {
    let config: Vec<Option<Vec<String>>> =
        sqlx::query_scalar("SELECT proconfig FROM pg_proc WHERE proname = 'events_append'")
            .fetch_all(&pool)
            .await
            .expect("proconfig");
    assert_eq!(
        config,
        vec![Some(vec!["plan_cache_mode=force_generic_plan".to_owned()])]
    );
}
