//! Test support for crates that read the log (behind the `testkit`
//! feature, which test builds and the benchmarks enable): makes wallet
//! events (and, in [`sportsbook`], bets) the way the
//! command side does, with the real `decide` and
//! `PgEventStore::append_batch`, and keeps the audit `Book` of what was
//! appended, to compare read models with; loads and dumps stored rows as
//! they are, for fixtures of older schema versions. It panics on any
//! failure: it is for tests only.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::book::Book;
use crate::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, RecordedEvent, StreamAppend,
    StreamHead, READ_EVENTS_MAX,
};
use crate::wallet::{decide, Description, HoldStatus, WalletCommand, WalletEvent, WalletState};
use crate::{AccountId, Amount, CreditLimit, Currency, HoldId, PaymentRef, StreamId, TransferId};
use sqlx::PgPool;

pub mod sportsbook;

/// Wallet events as the store held them before any event had a version 2
/// (13 events: `alice`, `bob`, `carol`; see `ledger/tests/wallet_v1.rs`).
/// Frozen: never regenerate it, add a new fixture instead.
pub const WALLET_V1_FIXTURE: &str = include_str!("../tests/fixtures/wallet_v1.ndjson");

pub struct Wallets {
    pub store: PgEventStore,
    pub book: Book,
    /// The global position of the last event appended.
    pub last_position: i64,
    streams: HashMap<String, Stream>,
    /// Streams with decided, not yet appended commands, in first-use order.
    queued: Vec<String>,
    commands: u64,
    /// Command ids are `{prefix}-{n}`: unique per instance, so that several
    /// instances can write one store at once.
    prefix: String,
}

struct Stream {
    state: WalletState,
    /// What the store holds; `queued` commands were decided after it.
    head: StreamHead,
    queued: Vec<CommandAppend>,
}

impl Wallets {
    pub fn new(pool: &PgPool) -> Self {
        Self::named(pool, "test")
    }

    /// A maker whose command ids start with `prefix`; give each of several
    /// concurrent makers its own, and each its own wallets.
    pub fn named(pool: &PgPool, prefix: &str) -> Self {
        Self {
            store: PgEventStore::new(pool.clone()),
            book: Book::default(),
            last_position: 0,
            streams: HashMap::new(),
            queued: Vec::new(),
            commands: 0,
            prefix: prefix.to_owned(),
        }
    }

    /// Decides `command` on `account`'s wallet and queues its events for the
    /// next `flush`. Panics on a rejection: tests only send valid commands.
    pub fn run(&mut self, account: &str, command: WalletCommand) {
        let stream = self
            .streams
            .entry(account.to_owned())
            .or_insert_with(|| Stream {
                state: WalletState::default(),
                head: StreamHead::EMPTY,
                queued: Vec::new(),
            });
        let events = decide(&stream.state, &command)
            .unwrap_or_else(|r| panic!("{account}: {command:?} rejected: {r:?}"));
        for event in &events {
            stream.state = std::mem::take(&mut stream.state).evolve(event);
            for (transfer, phase) in event.transfers() {
                self.book.apply(transfer, phase);
            }
        }
        self.commands += 1;
        stream.queued.push(CommandAppend {
            command_id: format!("{}-{}", self.prefix, self.commands),
            request_hash: Vec::new(),
            outcome: serde_json::Value::Null,
            events: events
                .iter()
                .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload()))
                .collect(),
        });
        if !self.queued.iter().any(|a| a == account) {
            self.queued.push(account.to_owned());
        }
    }

    /// Appends everything queued in one batch; returns the last position.
    pub async fn flush(&mut self) -> i64 {
        let mut batch = Vec::new();
        for account in &self.queued {
            let stream = self.streams.get_mut(account).expect("queued stream");
            batch.push(StreamAppend {
                stream_id: StreamId::account(&AccountId::parse(account).expect("id")),
                expected: stream.head,
                commands: std::mem::take(&mut stream.queued),
            });
        }
        let accounts = std::mem::take(&mut self.queued);
        let outcomes = self.store.append_batch(batch).await.expect("append");
        for (account, outcome) in accounts.iter().zip(outcomes) {
            match outcome {
                AppendOutcome::Committed {
                    head,
                    last_positions,
                } => {
                    self.streams.get_mut(account).expect("stream").head = head;
                    let last = last_positions.into_iter().flatten().max().unwrap_or(0);
                    self.last_position = self.last_position.max(last);
                }
                AppendOutcome::Conflict => panic!("{account}: conflict in a test append"),
            }
        }
        visible(&self.store, self.last_position).await;
        self.last_position
    }

    /// Appends raw events to a stream of their own (not a wallet); returns
    /// the last position once readers can see it.
    pub async fn append_raw(&mut self, stream: &str, events: Vec<NewEvent>) -> i64 {
        self.commands += 1;
        let outcome = self
            .store
            .append(
                StreamId::new(stream),
                StreamHead::EMPTY,
                events,
                format!("{}-raw-{}", self.prefix, self.commands),
            )
            .await
            .expect("append raw");
        let AppendOutcome::Committed { last_positions, .. } = outcome else {
            panic!("{stream}: conflict in a raw append");
        };
        let last = last_positions.into_iter().flatten().max().expect("events");
        self.last_position = self.last_position.max(last);
        visible(&self.store, last).await;
        last
    }

    /// Picks up a wallet someone else appended (a loaded fixture): reads its
    /// stream from the store, as the command side would, so that the next
    /// commands are decided against it and chain from its last hash. Its
    /// transfers go into the book.
    pub async fn resume(&mut self, account: &str) {
        let id = StreamId::account(&AccountId::parse(account).expect("id"));
        let recorded = self
            .store
            .read_stream(&id, 0, READ_EVENTS_MAX)
            .await
            .expect("read stream");
        let mut stream = Stream {
            state: WalletState::default(),
            head: StreamHead::EMPTY,
            queued: Vec::new(),
        };
        for r in &recorded {
            let event = WalletEvent::from_stored(&r.event_type, r.schema_version, &r.payload)
                .unwrap_or_else(|e| panic!("{account} v{}: {e}", r.stream_version));
            for (transfer, phase) in event.transfers() {
                self.book.apply(transfer, phase);
            }
            stream.state = std::mem::take(&mut stream.state).evolve(&event);
            stream.head = StreamHead {
                version: r.stream_version,
                hash: Some(r.hash.as_slice().try_into().expect("32-byte hash")),
            };
            self.last_position = self.last_position.max(r.global_position);
        }
        assert!(stream.state.wallet.is_some(), "{account} is not open");
        self.streams.insert(account.to_owned(), stream);
    }

    /// The ids of the wallet's holds still pending, in no particular order.
    pub fn pending_holds(&self, account: &str) -> Vec<HoldId> {
        self.streams
            .get(account)
            .and_then(|s| s.state.wallet.as_ref())
            .map(|w| {
                w.holds
                    .iter()
                    .filter(|(_, h)| h.status == HoldStatus::Pending)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The wallet's stream version in the store.
    pub fn version(&self, account: &str) -> i64 {
        self.streams.get(account).map_or(0, |s| s.head.version)
    }

    pub fn credit_limit(&self, account: &str) -> i64 {
        self.streams
            .get(account)
            .and_then(|s| s.state.wallet.as_ref())
            .map_or(0, |w| w.credit_limit.get())
    }

    pub fn open(&mut self, account: &str, currency: &str, credit_limit: i64) {
        self.run(
            account,
            WalletCommand::Open {
                account: AccountId::parse(account).expect("id"),
                currency: Currency::parse(currency).expect("currency"),
                credit_limit: CreditLimit::new(credit_limit).expect("limit"),
            },
        );
    }

    /// A deposit with a description and the gateway's reference.
    pub fn deposit(&mut self, account: &str, amount: i64) {
        let reference = format!("psp-{}", self.commands + 1);
        self.run(
            account,
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(amount).expect("amount"),
                currency: None,
                description: Some(Description::parse("top-up").expect("description")),
                payment_ref: Some(PaymentRef::parse(&reference).expect("reference")),
            },
        );
    }

    pub fn withdraw(&mut self, account: &str, amount: i64) {
        self.run(
            account,
            WalletCommand::Withdraw {
                transfer_id: TransferId::generate(),
                amount: Amount::new(amount).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
        );
    }

    pub fn place_hold(&mut self, account: &str, amount: i64) -> HoldId {
        let hold_id = HoldId::generate();
        self.run(
            account,
            WalletCommand::PlaceHold {
                hold_id,
                amount: Amount::new(amount).expect("amount"),
                currency: None,
                description: Some(Description::parse("bet stake").expect("description")),
            },
        );
        hold_id
    }

    pub fn post_hold(&mut self, account: &str, hold_id: HoldId) {
        self.run(account, WalletCommand::PostHold { hold_id });
    }

    pub fn void_hold(&mut self, account: &str, hold_id: HoldId) {
        self.run(account, WalletCommand::VoidHold { hold_id });
    }

    /// A deterministic mix of every kind of wallet event over `accounts`
    /// wallets (two currencies, some with credit), about `rounds * 6`
    /// events per wallet, appended in `rounds` batches so that streams
    /// interleave in the log.
    pub async fn busy_log(&mut self, accounts: usize, rounds: usize) -> i64 {
        let names: Vec<String> = (0..accounts).map(|i| format!("player-{i}")).collect();
        for (i, name) in names.iter().enumerate() {
            let currency = if i % 3 == 0 { "BRL" } else { "EUR" };
            self.open(name, currency, (i as i64 % 4) * 250);
        }
        self.flush().await;
        for round in 0..rounds {
            for (i, name) in names.iter().enumerate() {
                let n = (round * accounts + i) as i64;
                self.deposit(name, 1_000 + n % 97);
                self.withdraw(name, 300 + n % 53);
                let posted = self.place_hold(name, 200 + n % 31);
                let voided = self.place_hold(name, 100 + n % 17);
                self.post_hold(name, posted);
                self.void_hold(name, voided);
            }
            self.flush().await;
        }
        self.last_position
    }
}

/// Waits until gap-safe readers see the event at `position`. They may not
/// at once: the read holds back events newer than the oldest transaction
/// still running anywhere in the cluster, such as another test's.
pub async fn visible(store: &PgEventStore, position: i64) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(30) {
        let next = store.read_all(position - 1, 1).await.expect("read");
        if next.first().map(|e| e.global_position) == Some(position) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    panic!("position {position} not readable after 30 s");
}

/// The URL of `pool`'s database (a `#[sqlx::test]` database) on the server
/// that `DATABASE_URL` names: for tests that start processes against it.
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let (server, _) = base.rsplit_once('/').expect("a database URL");
    let name = pool
        .connect_options()
        .get_database()
        .expect("database name")
        .to_owned();
    format!("{server}/{name}")
}

/// One row of the `events` table as a fixture file holds it (one JSON
/// object per line): every column the hash covers, hashes in hex.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredRow {
    pub global_position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub command_id: String,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<String>,
    pub hash: String,
}

impl From<&RecordedEvent> for StoredRow {
    fn from(e: &RecordedEvent) -> Self {
        Self {
            global_position: e.global_position,
            stream_id: e.stream_id.to_string(),
            stream_version: e.stream_version,
            event_id: e.event_id,
            command_id: e.command_id.clone(),
            event_type: e.event_type.clone(),
            schema_version: e.schema_version,
            payload: e.payload.clone(),
            metadata: e.metadata.clone(),
            recorded_at: e.recorded_at,
            prev_hash: e.prev_hash.as_deref().map(hex::encode),
            hash: hex::encode(&e.hash),
        }
    }
}

/// The rows of a fixture file, in file order.
pub fn parse_rows(ndjson: &str) -> Vec<StoredRow> {
    ndjson
        .lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("fixture line {}: {e}", i + 1))
        })
        .collect()
}

/// Inserts a fixture's rows into the log as they are, as the superuser a
/// `#[sqlx::test]` connects as (the application's role could not); returns
/// the last position once readers can see it.
pub async fn load_rows(pool: &PgPool, ndjson: &str) -> i64 {
    let rows = parse_rows(ndjson);
    let unhex = |h: &str| hex::decode(h).expect("hex hash");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query(include_str!("testkit/insert_events.sql"))
        .bind(rows.iter().map(|r| r.global_position).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_id.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.stream_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.event_id).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.command_id.clone())
                .collect::<Vec<_>>(),
        )
        .bind(
            rows.iter()
                .map(|r| r.event_type.clone())
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| r.schema_version).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.payload.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.metadata.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.recorded_at).collect::<Vec<_>>())
        .bind(
            rows.iter()
                .map(|r| r.prev_hash.as_deref().map(unhex))
                .collect::<Vec<_>>(),
        )
        .bind(rows.iter().map(|r| unhex(&r.hash)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await
        .expect("insert fixture rows");
    sqlx::query(include_str!("testkit/advance_positions.sql"))
        .execute(&mut *tx)
        .await
        .expect("advance positions");
    tx.commit().await.expect("commit");
    let last = rows.iter().map(|r| r.global_position).max().expect("rows");
    visible(&PgEventStore::new(pool.clone()), last).await;
    last
}

/// Every row of the log, in position order, in the fixture format.
pub async fn dump_rows(pool: &PgPool) -> String {
    let mut conn = pool.acquire().await.expect("connection");
    let mut out = String::new();
    let mut after = 0;
    loop {
        let page = PgEventStore::read_snapshot_page(&mut conn, after, READ_EVENTS_MAX)
            .await
            .expect("read");
        let Some(last) = page.last() else {
            return out;
        };
        after = last.global_position;
        for event in &page {
            out.push_str(&serde_json::to_string(&StoredRow::from(event)).expect("row"));
            out.push('\n');
        }
    }
}
