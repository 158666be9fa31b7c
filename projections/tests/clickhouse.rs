//! The ClickHouse projection on the real servers (Postgres and ClickHouse
//! 18.16 or later): given a mixed log (deposits, withdrawals, holds, bets
//! placed, settled, voided, re-settled and cashed out, and a show with two
//! tiers: reservations at a rising price, confirmations, a ticket given
//! back late for part of its price, an expiry and a reservation left open)
//! made by the real domain, every report's totals equal the Postgres read
//! models' and a fresh replay's, to the cent; and delivering the log again
//! (a checkpoint reset half-way back) changes no report.

mod common;

use std::collections::BTreeMap;

use common::analytics::{analytics, sink};
use common::desk::{winners, Desk};
use common::{Projector, Wallets};
use ledger::book::Book;
use ledger::store::{EventStore, PgEventStore};
use ledger::wallet::WalletEvent;
use ledger::TransferCode;
use projections::clickhouse::reports::{self, ReportName, ReportParams, ReportTable};
use projections::clickhouse::Analytics;
use projections::{BoxOffice, ProjectionsConfig, Runner, Sportsbook, Step};
use sqlx::{PgPool, Row};

const STEPS_MAX: usize = 10_000;

/// Wallet traffic on 12 players, and the sportsbook's season on two more.
async fn workload(pool: &PgPool) -> i64 {
    let mut wallets = Wallets::new(pool);
    wallets.busy_log(12, 4).await;
    let mut desk = Desk::new(pool);
    desk.open_wallet("alice", 100_000).await;
    desk.open_wallet("bob", 50_000).await;
    desk.open_market("m1", 1, 1_000_000).await;
    desk.open_market("m2", 2, 1_000_000).await;
    desk.open_market("m3", 3, 1_000_000).await;
    desk.bet("alice", 1_000, &[("m1", 0)]).await;
    desk.bet("bob", 2_000, &[("m1", 1)]).await;
    desk.bet("alice", 500, &[("m1", 0), ("m2", 2)]).await;
    desk.bet("bob", 300, &[("m2", 0)]).await;
    let cashed = desk.bet("alice", 700, &[("m1", 2)]).await;
    desk.bet("alice", 400, &[("m3", 1)]).await;
    // The show starts within the day, so a ticket given back returns a
    // third of its price and the box office keeps the rest.
    let starts_at = chrono::Utc::now() + chrono::Duration::hours(2);
    let stalls: &[(u32, u32)] = &[(5_000, 1_500)];
    desk.schedule_show(
        "gala",
        starts_at,
        &[("stalls", 4, 3_333, stalls), ("circle", 50, 1_999, &[])],
        3_333,
    )
    .await;
    let alice_stalls = desk.reserve("gala", "alice", 0, 2).await;
    let bob_circle = desk.reserve("gala", "bob", 1, 3).await;
    desk.cash_out("alice", cashed).await;
    for market in ["m1", "m2"] {
        desk.operate(market, ledger::sportsbook::market::MarketCommand::Close)
            .await;
    }
    desk.settle("m1", winners(&[0])).await;
    desk.settle("m2", ledger::sportsbook::market::MarketResult::Void)
        .await;
    // A correction: a dead heat, so some payouts are reversed.
    desk.settle("m1", winners(&[0, 1])).await;
    desk.confirm("gala", alice_stalls).await;
    // Half the stalls taken: the next one costs 15% more.
    let dearer = desk.reserve("gala", "alice", 0, 1).await;
    desk.confirm("gala", dearer).await;
    let lapsed = desk.reserve("gala", "alice", 1, 1).await;
    let bobs = desk.confirm("gala", bob_circle).await;
    desk.give_back("gala", bobs[1]).await;
    desk.expire("gala", lapsed).await;
    // Open at the end: held money, no ticket, in no report.
    desk.reserve("gala", "bob", 0, 1).await;
    desk.last_position.max(wallets.last_position)
}

/// Runs the Postgres projections to the end of the log.
async fn project_postgres(pool: &PgPool) {
    let projector = Projector::new(pool, ProjectionsConfig::default());
    let sportsbook = Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        Sportsbook,
        ProjectionsConfig::default(),
    )
    .expect("runner");
    let box_office = Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        BoxOffice,
        ProjectionsConfig::default(),
    )
    .expect("runner");
    for _ in 0..STEPS_MAX {
        let a = projector.step().await.expect("accounts step");
        let b = sportsbook.step().await.expect("sportsbook step");
        let c = box_office.step().await.expect("box office step");
        if a == Step::Idle && b == Step::Idle && c == Step::Idle {
            return;
        }
    }
    panic!("postgres projections not idle after {STEPS_MAX} steps");
}

async fn run_sink(pool: &PgPool, analytics: &Analytics, batch_events_max: usize) {
    let sink = sink(pool, analytics.clone(), batch_events_max);
    for _ in 0..STEPS_MAX {
        if sink.step().await.expect("sink step") == Step::Idle {
            return;
        }
    }
    panic!("sink not idle after {STEPS_MAX} steps");
}

async fn report(analytics: &Analytics, name: ReportName) -> ReportTable {
    let params = ReportParams::everything(name).expect("params");
    reports::run(analytics, name, &params)
        .await
        .expect("report")
}

/// Sums of an integer column per value of a key column.
fn by_key(table: &ReportTable, key: &[&str], value: &str) -> BTreeMap<String, i128> {
    let at: Vec<usize> = key
        .iter()
        .map(|k| {
            table
                .columns
                .iter()
                .position(|c| c.name == *k)
                .expect("key column")
        })
        .collect();
    let values = table.column_i64(value).expect("value column");
    let mut sums = BTreeMap::new();
    for (row, v) in table.rows.iter().zip(values) {
        let k: Vec<&str> = at.iter().map(|&i| row[i].as_str()).collect();
        *sums.entry(k.join("/")).or_insert(0) += i128::from(v);
    }
    sums
}

/// What a fresh replay of the log says, straight from the events.
#[derive(Debug, Default)]
struct Replayed {
    book: Book,
    deposits: BTreeMap<String, i128>,
    withdrawals: BTreeMap<String, i128>,
    handle: i128,
    voided: i128,
    payouts: i128,
    /// Per player and currency: posted bet money (payouts − stakes lost).
    net_result: BTreeMap<String, i128>,
}

async fn replay(pool: &PgPool) -> Replayed {
    let store = PgEventStore::new(pool.clone());
    let mut replayed = Replayed::default();
    let mut after = 0;
    loop {
        let page = store.read_log(after, 1_000).await.expect("read log");
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for recorded in &page {
            let Ok(event) = WalletEvent::from_json(
                &recorded.event_type,
                recorded.schema_version,
                recorded.payload.get(),
            ) else {
                continue;
            };
            for (transfer, phase) in event.transfers() {
                replayed.book.apply(transfer, phase);
                let amount = i128::from(transfer.amount.get());
                let currency = transfer.currency.to_string();
                let key = |account: &ledger::AccountId| format!("{account}/{}", transfer.currency);
                // By the transfer's code, not the event's type: a winning
                // bet's settlement also pays its payout.
                match (&event, transfer.code) {
                    (WalletEvent::FundsDeposited(_), _) => {
                        *replayed.deposits.entry(currency).or_insert(0) += amount
                    }
                    (WalletEvent::FundsWithdrawn(_), _) => {
                        *replayed.withdrawals.entry(currency).or_insert(0) += amount
                    }
                    (WalletEvent::BetPlaced(_), _) => replayed.handle += amount,
                    (WalletEvent::BetVoided(_), _) => replayed.voided += amount,
                    (
                        WalletEvent::BetSettled(_) | WalletEvent::BetCashedOut(_),
                        TransferCode::Stake,
                    ) => *replayed.net_result.entry(key(&transfer.debit)).or_insert(0) -= amount,
                    (_, TransferCode::Payout | TransferCode::CashOut) => {
                        replayed.payouts += amount;
                        *replayed
                            .net_result
                            .entry(key(&transfer.credit))
                            .or_insert(0) += amount
                    }
                    (_, TransferCode::PayoutReversal) => {
                        replayed.payouts -= amount;
                        *replayed.net_result.entry(key(&transfer.debit)).or_insert(0) -= amount
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(replayed.book.is_balanced(), "the replayed book is balanced");
    replayed
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn reports_equal_the_read_models_and_a_replay_to_the_cent(pool: PgPool) {
    workload(&pool).await;
    project_postgres(&pool).await;
    let analytics = analytics(&pool).await;
    run_sink(&pool, &analytics, 500).await;
    let replayed = replay(&pool).await;

    // Net position of every system account: ClickHouse = Postgres = replay.
    let system = report(&analytics, ReportName::SystemAccounts).await;
    let ch_closing = by_key(&system, &["account", "currency"], "closing");
    let pg_rows = sqlx::query(
        "SELECT account_id || '/' || currency AS k, balance FROM account_balances
         WHERE account_id IN ('house', 'cash', 'box-office:revenue') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("balances");
    let pg_closing: BTreeMap<String, i128> = pg_rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("k"),
                i128::from(r.get::<i64, _>("balance")),
            )
        })
        .collect();
    let replay_closing: BTreeMap<String, i128> = replayed
        .book
        .accounts()
        .filter(|((a, _), _)| matches!(a.as_str(), "house" | "cash" | "box-office:revenue"))
        .map(|((a, c), t)| (format!("{a}/{c}"), t.posted()))
        .collect();
    assert!(
        ch_closing.len() >= 4,
        "house and cash in two currencies, the box office in one: {ch_closing:?}"
    );
    assert_eq!(ch_closing, pg_closing);
    assert_eq!(ch_closing, replay_closing);

    // Deposits and withdrawals.
    let cash = report(&analytics, ReportName::CashByDay).await;
    let pg_cash = |code: &str, sign: &str| {
        let sql = format!(
            "SELECT currency, sum({sign}amount)::bigint AS total FROM account_statement
             WHERE code = '{code}' AND {sign}amount > 0 GROUP BY currency ORDER BY 1"
        );
        let pool = pool.clone();
        async move {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(&pool)
                .await
                .expect("statement")
                .iter()
                .map(|r| (r.get::<String, _>(0), i128::from(r.get::<i64, _>(1))))
                .collect::<BTreeMap<_, _>>()
        }
    };
    let ch_deposits = by_key(&cash, &["currency"], "deposits");
    assert_eq!(ch_deposits, replayed.deposits);
    assert_eq!(ch_deposits, pg_cash("deposit", "").await);
    let ch_withdrawals = by_key(&cash, &["currency"], "withdrawals");
    assert_eq!(ch_withdrawals, replayed.withdrawals);
    assert_eq!(ch_withdrawals, pg_cash("withdrawal", "-").await);

    // Handle, voided stakes, payouts and GGR, by day and by market.
    let pg = sqlx::query(
        "SELECT sum(stake)::bigint AS handle,
                coalesce(sum(stake) FILTER (WHERE status = 'voided'), 0)::bigint AS voided,
                coalesce(sum(returned) FILTER (WHERE status IN ('settled', 'cashed_out')), 0)::bigint AS payouts
         FROM bets",
    )
    .fetch_one(&pool)
    .await
    .expect("bets");
    let pg_totals = [
        i128::from(pg.get::<i64, _>("handle")),
        i128::from(pg.get::<i64, _>("voided")),
        i128::from(pg.get::<i64, _>("payouts")),
    ];
    let replay_totals = [replayed.handle, replayed.voided, replayed.payouts];
    assert!(replayed.handle > 0 && replayed.voided > 0 && replayed.payouts > 0);
    for name in [ReportName::SportsbookByDay, ReportName::SportsbookByMarket] {
        let table = report(&analytics, name).await;
        let ch_totals = [
            table.total("handle").expect("handle"),
            table.total("voided").expect("voided"),
            table.total("payouts").expect("payouts"),
        ];
        assert_eq!(ch_totals, replay_totals, "{}", name.as_str());
        assert_eq!(ch_totals, pg_totals, "{}", name.as_str());
        assert_eq!(
            table.total("ggr").expect("ggr"),
            replayed.handle - replayed.voided - replayed.payouts
        );
    }

    // Net result per player.
    let top = report(&analytics, ReportName::TopAccounts).await;
    let ch_net = by_key(&top, &["account", "currency"], "net_result");
    assert_eq!(ch_net, replayed.net_result);
    let pg_net: BTreeMap<String, i128> = sqlx::query(
        "SELECT account_id || '/' || currency, sum(amount)::bigint FROM account_statement
         WHERE code IN ('stake', 'payout', 'payout_reversal', 'cash_out')
           AND phase IN ('posted', 'pending_posted') AND account_id NOT IN ('house', 'cash')
         GROUP BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("statement")
    .iter()
    .map(|r| (r.get::<String, _>(0), i128::from(r.get::<i64, _>(1))))
    .collect();
    assert_eq!(ch_net, pg_net);
    let nets = top.column_i64("net_result").expect("net");
    assert!(
        nets.windows(2).all(|w| w[0] >= w[1]),
        "best first: {nets:?}"
    );

    // A range after the log holds nothing.
    let in_an_hour =
        chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + 3_600, 0).expect("time");
    let later = ReportParams::new(
        ReportName::CashByDay,
        in_an_hour,
        in_an_hour + chrono::Duration::hours(1),
        None,
    )
    .expect("params");
    let empty = reports::run(&analytics, ReportName::CashByDay, &later)
        .await
        .expect("report");
    assert!(empty.rows.is_empty());

    box_office_equals_the_read_models(&pool, &analytics).await;

    // No pool in this log: its report runs, empty.
    assert!(report(&analytics, ReportName::Pools).await.rows.is_empty());
    analytics.drop_database().await.expect("drop");
}

/// The box office reports against the `box_office` read models and the
/// ledger: per tier the seats held (tickets sold and not given back) and
/// the capacity, per show the revenue = what `box-office:revenue` kept,
/// and the per-minute tickets adding up to the same.
async fn box_office_equals_the_read_models(pool: &PgPool, analytics: &Analytics) {
    let tiers = report(analytics, ReportName::BoxOfficeTiers).await;
    let column = |name: &str| {
        tiers
            .columns
            .iter()
            .position(|c| c.name == name)
            .expect("column")
    };
    let (show, tier, currency) = (column("show_id"), column("tier"), column("currency"));
    let (held, capacity, occupancy) = (
        tiers.column_i64("seats_held").expect("held"),
        tiers.column_i64("capacity").expect("capacity"),
        tiers.column_i64("occupancy_bp").expect("occupancy"),
    );
    let ch_tiers: Vec<String> = tiers
        .rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            format!(
                "{}|{}|{}|{}|{}|{}",
                row[show], row[tier], row[currency], held[i], capacity[i], occupancy[i]
            )
        })
        .collect();
    let pg_tiers: Vec<String> = sqlx::query_scalar(
        "SELECT concat_ws('|', t.show_id, t.name, s.currency, t.sold, t.capacity, t.sold * 10000 / t.capacity)
         FROM show_tiers t JOIN shows s USING (show_id) ORDER BY t.show_id, t.tier",
    )
    .fetch_all(pool)
    .await
    .expect("tiers");
    // Stalls: 2 + 1 sold of 4; circle: 3 sold, 1 given back, of 50.
    assert_eq!(
        pg_tiers,
        ["gala|stalls|EUR|3|4|7500", "gala|circle|EUR|2|50|400"]
    );
    assert_eq!(ch_tiers, pg_tiers);

    // Revenue per show: the report's = the box office's account balance =
    // the tickets' prices less the refunds paid, to the cent.
    let ch_revenue = by_key(&tiers, &["show_id"], "revenue");
    let pg_balance: i64 = sqlx::query_scalar(
        "SELECT balance FROM account_balances WHERE account_id = 'box-office:revenue'",
    )
    .fetch_one(pool)
    .await
    .expect("box-office:revenue balance");
    let pg_tickets: i64 = sqlx::query_scalar(
        "SELECT (sum(price) - sum(refund))::bigint FROM tickets WHERE show_id = 'gala'",
    )
    .fetch_one(pool)
    .await
    .expect("tickets");
    // 2 × 33.33 + 38.32 (15% more) + 3 × 19.99 − 6.66 (a third back).
    let expected = 2 * 3_333 + 3_832 + 3 * 1_999 - 666;
    assert_eq!((pg_balance, pg_tickets), (expected, expected));
    assert_eq!(
        ch_revenue,
        BTreeMap::from([("gala".to_owned(), i128::from(expected))])
    );

    // Per minute: the same tickets and money, however the minutes fall.
    let minutes = report(analytics, ReportName::BoxOfficeTicketsPerMinute).await;
    assert!(!minutes.rows.is_empty());
    assert_eq!(
        minutes.total("revenue").expect("revenue"),
        i128::from(expected)
    );
    assert_eq!(minutes.total("sold").expect("sold"), 6);
    assert_eq!(minutes.total("refunded_tickets").expect("refunded"), 1);
    assert_eq!(minutes.total("net_tickets").expect("net"), 5);
    let currencies = by_key(&minutes, &["show_id", "currency"], "sold");
    assert_eq!(currencies.keys().collect::<Vec<_>>(), ["gala/EUR"]);
}

/// Every report over the whole range, as text.
async fn all_reports(analytics: &Analytics) -> Vec<ReportTable> {
    let mut tables = Vec::new();
    for name in ReportName::ALL {
        tables.push(report(analytics, name).await);
    }
    tables
}

async fn raw_rows(analytics: &Analytics, table: &str) -> u64 {
    let sql = format!("SELECT count() FROM {}.{table}", analytics.database());
    let client = clickhouse::Client::default()
        .with_url(common::analytics::clickhouse_url())
        .with_validation(false);
    client.query(&sql).fetch_one::<u64>().await.expect("count")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_checkpoint_reset_half_way_back_changes_no_report(pool: PgPool) {
    let head = workload(&pool).await;
    let analytics = analytics(&pool).await;
    run_sink(&pool, &analytics, 97).await;
    let before = all_reports(&analytics).await;
    let rows_before = raw_rows(&analytics, "postings").await;
    let tickets_before = raw_rows(&analytics, "ticket_sales").await;
    assert!(before[0].rows.len() + before[2].rows.len() > 0);
    for name in [
        ReportName::BoxOfficeTicketsPerMinute,
        ReportName::BoxOfficeTiers,
    ] {
        let table = before
            .iter()
            .find(|t| t.report == name)
            .expect("every report");
        assert!(!table.rows.is_empty(), "{} has rows", name.as_str());
    }

    // Half-way back, and again with another batch size: every event after
    // the reset is delivered twice.
    let sink_half = sink(&pool, analytics.clone(), 53);
    sink_half.set_checkpoint(head / 2).await.expect("reset");
    run_sink(&pool, &analytics, 53).await;
    let rows_after = raw_rows(&analytics, "postings").await;
    let tickets_after = raw_rows(&analytics, "ticket_sales").await;
    // The repeats are really there (until ClickHouse merges them)...
    assert!(rows_after > rows_before, "{rows_after} > {rows_before}");
    assert!(
        tickets_after > tickets_before,
        "{tickets_after} > {tickets_before}"
    );
    // ...and no report counts them.
    assert_eq!(all_reports(&analytics).await, before);
    let checkpoint = projections::wait::checkpoint(&pool, projections::clickhouse::SINK_NAME)
        .await
        .expect("checkpoint");
    assert!(checkpoint >= head, "{checkpoint} >= {head}");

    // Applying the schema again is harmless.
    analytics.migrate().await.expect("migrate again");
    assert_eq!(all_reports(&analytics).await, before);
    analytics.drop_database().await.expect("drop");
}

/// `ticket_sales` as it was before the box office was mapped (never
/// written), for the upgrade test.
const OLD_TICKET_SALES: &str = "CREATE TABLE ticket_sales (
    position Int64, seat UInt32, time DateTime('UTC'), event_type String, show_id String,
    tier String, account String, currency String, price Int64, capacity UInt32, refunded UInt8
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(time) ORDER BY (position, seat)";

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_old_ticket_sales_is_replaced_and_the_log_sent_again(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    desk.open_wallet("ann", 10_000).await;
    let starts_at = chrono::Utc::now() + chrono::Duration::days(30);
    desk.schedule_show("opera", starts_at, &[("box", 2, 4_000, &[])], 0)
        .await;
    let r = desk.reserve("opera", "ann", 0, 2).await;
    let tickets = desk.confirm("opera", r).await;
    let head = desk.give_back("opera", tickets[0]).await;

    // A deployment of the version before: the old table, no show tables,
    // and a sink that has passed the whole log.
    let config = projections::clickhouse::ClickHouseConfig::new(
        common::analytics::clickhouse_url(),
        common::analytics::database_for(&pool),
    );
    let analytics = Analytics::new(&config).expect("config");
    analytics.drop_database().await.expect("drop");
    let server = clickhouse::Client::default()
        .with_url(common::analytics::clickhouse_url())
        .with_validation(false);
    let database = analytics.database().to_owned();
    server
        .query(&format!("CREATE DATABASE {database}"))
        .execute()
        .await
        .expect("create database");
    server
        .clone()
        .with_database(database)
        .query(OLD_TICKET_SALES)
        .execute()
        .await
        .expect("old table");
    sink(&pool, analytics.clone(), 100)
        .set_checkpoint(head)
        .await
        .expect("checkpoint");
    assert!(analytics.ticket_sales_outdated().await.expect("shape"));

    projections::clickhouse::sink::migrate(&pool, &analytics)
        .await
        .expect("upgrade");
    assert!(!analytics.ticket_sales_outdated().await.expect("shape"));
    let checkpoint = projections::wait::checkpoint(&pool, projections::clickhouse::SINK_NAME)
        .await
        .expect("checkpoint");
    assert_eq!(checkpoint, 0, "the log is sent again");
    run_sink(&pool, &analytics, 100).await;
    let tiers = report(&analytics, ReportName::BoxOfficeTiers).await;
    assert_eq!(
        tiers.rows,
        [["opera", "box", "EUR", "1", "2", "5000", "4000"].map(str::to_owned)]
    );

    // Migrating again finds the new shape: no reset, nothing changes.
    projections::clickhouse::sink::migrate(&pool, &analytics)
        .await
        .expect("again");
    let checkpoint = projections::wait::checkpoint(&pool, projections::clickhouse::SINK_NAME)
        .await
        .expect("checkpoint");
    assert!(checkpoint >= head, "{checkpoint} >= {head}");
    assert_eq!(report(&analytics, ReportName::BoxOfficeTiers).await, tiers);
    analytics.drop_database().await.expect("drop");
}
