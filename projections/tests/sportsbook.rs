//! The `sportsbook` projection on the real Postgres: given a log of market,
//! bet, settlement, re-settlement and cash-out events made by the real
//! domain and appended through the real store, the read models say what
//! the domain's own states say; and applying events again, cutting the log
//! into other batches or rebuilding changes nothing.

mod common;

use std::collections::HashMap;

use common::desk::{winners, Desk};
use common::sportsbook_snapshot;
use ledger::sportsbook::market::{MarketCommand, MarketResult, MarketStatus};
use ledger::sportsbook::settle::LegResult;
use ledger::store::{EventStore, PgEventStore};
use ledger::wallet::BetStatus;
use projections::rebuild::{Ended, Start};
use projections::{
    Projection, ProjectionsConfig, Rebuild, RebuildOptions, Runner, Sportsbook, Step,
};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};
use uuid::Uuid;

const STEPS_MAX: usize = 100_000;

fn runner(pool: &PgPool, batch_events_max: usize) -> Runner<PgEventStore, Sportsbook> {
    let config = ProjectionsConfig {
        batch_events_max,
        ..Default::default()
    };
    Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        Sportsbook,
        config,
    )
    .expect("runner")
}

/// Steps until idle; returns the number of events passed.
async fn drive(pool: &PgPool, batch_events_max: usize) -> usize {
    let runner = runner(pool, batch_events_max);
    let mut passed = 0;
    for _ in 0..STEPS_MAX {
        match runner.step().await.expect("step") {
            Step::Worked { events, .. } => passed += events,
            Step::Idle => return passed,
        }
    }
    panic!("not idle after {STEPS_MAX} steps");
}

/// Three markets, two players, and every kind of bet event: singles and
/// an accumulator, a cash-out, a market settled, one voided, one
/// re-settled to a dead heat, one left open and suspended.
async fn season(desk: &mut Desk) {
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
    desk.cash_out("alice", cashed).await;

    desk.operate("m3", MarketCommand::Suspend).await;
    for market in ["m1", "m2"] {
        desk.operate(market, MarketCommand::Close).await;
    }
    desk.settle("m1", winners(&[0])).await;
    desk.settle("m2", MarketResult::Void).await;
    // A correction: m1 was a dead heat of home and draw.
    desk.settle("m1", winners(&[0, 1])).await;
}

/// The market rows say what the domain's market states say.
async fn assert_markets_match(pool: &PgPool, desk: &Desk) {
    let rows = sqlx::query(
        "SELECT market_id, status, bets, stakes_total, settlement_id, replaces,
                result, bets_settled, version, position
         FROM markets ORDER BY market_id",
    )
    .fetch_all(pool)
    .await
    .expect("markets");
    assert_eq!(rows.len(), desk.market_ids().len());
    for row in &rows {
        let id: String = row.get("market_id");
        let market = desk.market(&id);
        assert_eq!(
            row.get::<String, _>("status"),
            market.status.as_str(),
            "{id}"
        );
        assert_eq!(row.get::<i64, _>("bets"), market.bets as i64, "{id}");
        assert_eq!(
            row.get::<i64, _>("stakes_total"),
            market.stakes_total,
            "{id}"
        );
        let (settlement, result, replaces) = match &market.status {
            MarketStatus::Settling {
                settlement_id,
                result,
                replaces,
                ..
            } => (Some(*settlement_id), Some(result), *replaces),
            MarketStatus::Settled {
                settlement_id,
                result,
            } => {
                let at = market.settlements.len();
                let replaces = (at > 1).then(|| market.settlements[at - 2].0);
                (Some(*settlement_id), Some(result), replaces)
            }
            _ => (None, None, None),
        };
        assert_eq!(
            row.get::<Option<Uuid>, _>("settlement_id"),
            settlement.map(|s| s.as_uuid()),
            "{id}"
        );
        assert_eq!(
            row.get::<Option<Uuid>, _>("replaces"),
            replaces.map(|s| s.as_uuid()),
            "{id}"
        );
        assert_eq!(
            row.get::<Option<Value>, _>("result"),
            result.map(|r| serde_json::to_value(r).expect("json")),
            "{id}"
        );
        let outcomes = sqlx::query(
            "SELECT outcome, name, odds, staked, payouts_if_wins, liability
             FROM market_outcomes WHERE market_id = $1 ORDER BY outcome",
        )
        .bind(&id)
        .fetch_all(pool)
        .await
        .expect("outcomes");
        assert_eq!(outcomes.len(), market.outcomes.len(), "{id}");
        for (o, row) in outcomes.iter().enumerate() {
            let index = u16::try_from(o).expect("index");
            assert_eq!(row.get::<String, _>("name"), market.outcomes[o]);
            assert_eq!(
                row.get::<i64, _>("odds"),
                market.odds[o].0 as i64,
                "{id}/{o}"
            );
            assert_eq!(
                row.get::<i64, _>("staked"),
                market.staked[o] as i64,
                "{id}/{o}"
            );
            assert_eq!(
                row.get::<i64, _>("payouts_if_wins"),
                market.payouts_if_wins[o],
                "{id}/{o}"
            );
            assert_eq!(
                row.get::<i64, _>("liability"),
                market.liability(index),
                "{id}/{o}"
            );
        }
    }
}

/// The bet rows say what the domain's wallet states say.
async fn assert_bets_match(pool: &PgPool, desk: &Desk) {
    let rows = sqlx::query("SELECT bet_id, account_id, status, returned, stake, odds FROM bets")
        .fetch_all(pool)
        .await
        .expect("bets");
    let rows: HashMap<Uuid, _> = rows.iter().map(|r| (r.get("bet_id"), r)).collect();
    let mut seen = 0;
    for account in desk.accounts() {
        for (id, bet) in desk.bets_of(account) {
            seen += 1;
            let row = rows.get(&id.as_uuid()).expect("a row per bet");
            let all_void = bet
                .legs
                .iter()
                .all(|l| matches!(l.result, Some((_, LegResult::Void))));
            let (status, returned) = match bet.status {
                BetStatus::Open => ("open", None),
                BetStatus::Settled { returned, .. } if all_void => ("voided", Some(returned)),
                BetStatus::Settled { returned, .. } => ("settled", Some(returned)),
                BetStatus::CashedOut { amount } => ("cashed_out", Some(amount)),
            };
            assert_eq!(row.get::<String, _>("account_id"), *account);
            assert_eq!(row.get::<String, _>("status"), status, "{id}");
            assert_eq!(row.get::<Option<i64>, _>("returned"), returned, "{id}");
            assert_eq!(row.get::<i64, _>("stake"), bet.stake.get());
            assert_eq!(row.get::<i64, _>("odds"), bet.odds.0 as i64);
            let legs = sqlx::query(
                "SELECT market_id, outcome, odds, result, settlement_id
                 FROM bet_legs WHERE bet_id = $1 ORDER BY leg",
            )
            .bind(id.as_uuid())
            .fetch_all(pool)
            .await
            .expect("legs");
            assert_eq!(legs.len(), bet.legs.len());
            for (row, leg) in legs.iter().zip(&bet.legs) {
                assert_eq!(row.get::<String, _>("market_id"), leg.market.as_str());
                assert_eq!(row.get::<i16, _>("outcome"), leg.outcome as i16);
                assert_eq!(row.get::<i64, _>("odds"), leg.odds.0 as i64);
                assert_eq!(
                    row.get::<Option<Value>, _>("result"),
                    leg.result
                        .map(|(_, r)| serde_json::to_value(r).expect("json"))
                );
                assert_eq!(
                    row.get::<Option<Uuid>, _>("settlement_id"),
                    leg.result.map(|(s, _)| s.as_uuid())
                );
            }
        }
    }
    assert_eq!(rows.len(), seen, "no row without a bet");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_read_models_say_what_the_domain_says(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    season(&mut desk).await;

    // Small batches, so that commands are cut across them.
    drive(&pool, 3).await;

    assert_markets_match(&pool, &desk).await;
    assert_bets_match(&pool, &desk).await;
    let snapshot = sportsbook_snapshot(&pool).await;
    assert_eq!(snapshot["checkpoint"], desk.last_position);

    // Spot checks against numbers worked out by hand.
    let m1 = &snapshot["markets"][0];
    assert_eq!(m1["status"], "settled");
    assert_eq!(m1["result"], json!({"kind": "winners", "winners": [0, 1]}));
    assert_eq!(m1["bets"], 4, "three bets and an accumulator leg");
    assert_eq!(
        m1["stakes_total"],
        1_000 + 2_000,
        "the cashed-out single left"
    );
    let m3 = &snapshot["markets"][2];
    assert_eq!(
        (m3["status"].clone(), m3["settlement_id"].clone()),
        (json!("suspended"), Value::Null)
    );
    let statuses: Vec<String> =
        sqlx::query_scalar("SELECT status FROM bets ORDER BY placed_position")
            .fetch_all(&pool)
            .await
            .expect("statuses");
    // The accumulator's m2 leg is void, so it is settled on its m1 leg.
    assert_eq!(
        statuses,
        [
            "settled",
            "settled",
            "settled",
            "voided",
            "cashed_out",
            "open"
        ]
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn applying_events_again_changes_nothing(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    season(&mut desk).await;
    drive(&pool, 10_000).await;
    let once = sportsbook_snapshot(&pool).await;

    // The whole log applied again over the rows, as a runner whose
    // checkpoint went back would: every event is at or before its row.
    let events = desk.store.read_log(0, 10_000).await.expect("log");
    let mut tx = pool.begin().await.expect("begin");
    Sportsbook
        .apply(&mut tx, &events)
        .await
        .expect("apply again");
    Sportsbook
        .apply(&mut tx, &events[5..20])
        .await
        .expect("apply a part again");
    tx.commit().await.expect("commit");
    assert_eq!(sportsbook_snapshot(&pool).await, once);

    sqlx::query("UPDATE projection_checkpoints SET position = 0 WHERE name = 'sportsbook'")
        .execute(&pool)
        .await
        .expect("reset");
    assert_eq!(drive(&pool, 4).await, events.len());
    assert_eq!(sportsbook_snapshot(&pool).await, once);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn one_event_per_batch_or_all_in_one_give_the_same_rows(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    season(&mut desk).await;
    drive(&pool, 1).await;
    let one_by_one = sportsbook_snapshot(&pool).await;

    sqlx::query("TRUNCATE markets, market_outcomes, bets, bet_legs")
        .execute(&pool)
        .await
        .expect("truncate");
    sqlx::query("DELETE FROM projection_checkpoints WHERE name = 'sportsbook'")
        .execute(&pool)
        .await
        .expect("reset");
    drive(&pool, 10_000).await;

    assert_eq!(sportsbook_snapshot(&pool).await, one_by_one);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_rebuild_swaps_in_the_same_rows(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    season(&mut desk).await;
    drive(&pool, 10_000).await;
    let live = sportsbook_snapshot(&pool).await;

    // As `replay-tools rebuild sportsbook` runs it: a pool of its own.
    let own = PgPoolOptions::new()
        .max_connections(4)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("connect");
    let options = RebuildOptions {
        start: Start::Over,
        batch_events_max: 5,
        ..RebuildOptions::default()
    };
    let rebuilt = Rebuild::start(PgEventStore::new(own.clone()), own, Sportsbook, options)
        .await
        .expect("start")
        .run(|_| {})
        .await
        .expect("rebuild");

    assert_eq!(rebuilt.ended, Ended::Swapped);
    assert_eq!(rebuilt.position, desk.last_position);
    assert_eq!(sportsbook_snapshot(&pool).await, live);
    let granted: bool = sqlx::query_scalar(
        "SELECT bool_and(has_table_privilege('betledger_app', t, 'SELECT, INSERT, UPDATE'))
         FROM unnest(array['markets', 'market_outcomes', 'bets', 'bet_legs']) t",
    )
    .fetch_one(&pool)
    .await
    .expect("grants");
    assert!(
        granted,
        "the swapped-in tables keep the application's grants"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn settlement_progress_shows_while_a_settlement_runs(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    desk.open_wallet("alice", 10_000).await;
    desk.open_market("m1", 1, 1_000_000).await;
    desk.bet("alice", 100, &[("m1", 0)]).await;
    desk.operate("m1", MarketCommand::Close).await;
    let settlement = desk.start_settlement("m1", winners(&[2])).await;
    drive(&pool, 100).await;
    let m1 = &sportsbook_snapshot(&pool).await["markets"][0];
    assert_eq!(m1["status"], "settling");
    assert_eq!(m1["settlement_id"], settlement.as_uuid().to_string());
    assert_eq!(m1["bets_settled"], 0);

    let through_version = desk.market("m1").bets as i64 + 3;
    desk.operate(
        "m1",
        MarketCommand::RecordProgress {
            settlement_id: settlement,
            through_version,
            bets_settled: 1,
        },
    )
    .await;
    drive(&pool, 100).await;
    let m1 = &sportsbook_snapshot(&pool).await["markets"][0];
    assert_eq!(
        (m1["status"].clone(), m1["bets_settled"].clone()),
        (json!("settling"), json!(1))
    );
}
