//! The sportsbook's GraphQL over HTTP on port 0: markets and bets as the
//! real projection built them from events made by the real domain and
//! store, with paging, status filters and read-your-writes.

mod common;

#[path = "../../projections/tests/common/desk.rs"]
mod desk;

use common::{drive, runner, App};
use desk::{winners, Desk};
use ledger::sportsbook::market::MarketCommand;
use projections::{Balances, Sportsbook, Statements};
use queries::QueriesConfig;
use serde_json::{json, Value};
use sqlx::PgPool;

const MARKET: &str = r#"
query ($id: ID!, $atLeast: Int) {
  market(id: $id, atLeast: $atLeast) {
    id name startsAt currency status liabilityLimit stakeMin stakeMax marginBp bets
    stakesTotal version lastPosition
    outcomes { index name odds oddsTenThousandths staked payoutsIfWins liability }
    result { kind winners }
    settlement { id replaces betsSettled finished }
  }
}"#;

const MARKETS: &str = r#"
query ($status: MarketStatus, $first: Int, $after: String) {
  markets(status: $status, first: $first, after: $after) {
    edges { cursor node { id status startsAt } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

const BETS: &str = r#"
query ($id: String!, $status: BetStatus, $first: Int, $after: String, $atLeast: Int) {
  account(id: $id, atLeast: $atLeast) {
    balance
    bets(status: $status, first: $first, after: $after) {
      edges { cursor node {
        id accountId currency stake odds oddsTenThousandths payoutIfWins status returned
        settlementId placedAt settledAt placedPosition lastPosition
        legs { leg marketId outcome odds oddsTenThousandths result { kind deadHeat }
               settlementId }
      } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"#;

/// Builds every read model, as `serve` would.
async fn project(pool: &PgPool) {
    drive(&runner(pool, Balances)).await;
    drive(&runner(pool, Statements)).await;
    drive(&runner(pool, Sportsbook)).await;
}

/// Five markets, in start order m1..m5: m1 and m5 open, m2 settled, m3
/// settling, m4 suspended. Alice has five bets (one an accumulator), Bob
/// one.
async fn card(desk: &mut Desk) {
    desk.open_wallet("alice", 100_000).await;
    desk.open_wallet("bob", 100_000).await;
    // Opened out of order: the pages follow the start, not the log.
    for (market, hours) in [("m3", 3), ("m1", 1), ("m5", 5), ("m2", 2), ("m4", 4)] {
        desk.open_market(market, hours, 500_000).await;
    }
    desk.bet("alice", 1_000, &[("m1", 0)]).await;
    desk.bet("alice", 2_000, &[("m2", 0)]).await;
    desk.bet("alice", 500, &[("m1", 2), ("m5", 1)]).await;
    desk.bet("alice", 300, &[("m3", 1)]).await;
    desk.bet("alice", 200, &[("m2", 1)]).await;
    desk.bet("bob", 4_000, &[("m1", 1)]).await;
    desk.operate("m2", MarketCommand::Close).await;
    desk.settle("m2", winners(&[0])).await;
    desk.operate("m3", MarketCommand::Close).await;
    desk.start_settlement("m3", winners(&[1])).await;
    desk.operate("m4", MarketCommand::Suspend).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_market_with_its_outcomes_result_and_settlement(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    card(&mut desk).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let m1 = app.data(MARKET, json!({ "id": "m1" })).await["market"].clone();
    let market = desk.market("m1");
    assert_eq!(m1["id"], "m1");
    assert_eq!(m1["status"], "OPEN");
    assert_eq!(m1["currency"], "EUR");
    assert_eq!(m1["startsAt"], "2030-06-01T19:00:00+00:00");
    assert_eq!(
        (m1["bets"].clone(), m1["stakesTotal"].clone()),
        (json!(3), json!(5_000))
    );
    assert_eq!(m1["liabilityLimit"], 500_000);
    assert_eq!(m1["marginBp"], 500);
    assert_eq!(m1["result"], Value::Null);
    assert_eq!(m1["settlement"], Value::Null);
    let outcomes = m1["outcomes"].as_array().expect("outcomes");
    assert_eq!(outcomes.len(), 3);
    for (o, outcome) in outcomes.iter().enumerate() {
        let odds = market.odds[o].0;
        assert_eq!(outcome["index"], o);
        assert_eq!(outcome["name"], market.outcomes[o]);
        assert_eq!(outcome["oddsTenThousandths"], odds);
        assert_eq!(
            outcome["odds"],
            format!("{}.{:04}", odds / 10_000, odds % 10_000)
        );
        assert_eq!(outcome["staked"], market.staked[o]);
        assert_eq!(outcome["payoutsIfWins"], market.payouts_if_wins[o]);
        assert_eq!(outcome["liability"], market.liability(o as u16));
    }
    // The draw has no single on it: the house keeps both singles' stakes.
    assert_eq!(outcomes[1]["liability"], market.payouts_if_wins[1] - 5_000);

    let m2 = app.data(MARKET, json!({ "id": "m2" })).await["market"].clone();
    assert_eq!(m2["status"], "SETTLED");
    assert_eq!(m2["result"], json!({ "kind": "WINNERS", "winners": [0] }));
    let settlement = &m2["settlement"];
    assert_eq!(settlement["finished"], true);
    assert_eq!(settlement["betsSettled"], 2);
    assert_eq!(settlement["replaces"], Value::Null);
    assert_eq!(
        settlement["id"],
        desk.market("m2").settlements[0].0.as_uuid().to_string()
    );

    let m3 = app.data(MARKET, json!({ "id": "m3" })).await["market"].clone();
    assert_eq!(m3["status"], "SETTLING");
    assert_eq!(m3["settlement"]["finished"], false);
    assert_eq!(m3["settlement"]["betsSettled"], 0);

    let missing = app.data(MARKET, json!({ "id": "m9" })).await;
    assert_eq!(missing["market"], Value::Null);
    let (code, body) = app.error_code(MARKET, json!({ "id": "no spaces" })).await;
    assert_eq!(code, "invalid_argument", "{body:#}");
}

/// Every market id `markets` returns, page by page of `first`.
async fn market_pages(app: &App, status: Value, first: i64) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut after = Value::Null;
    for page in 1.. {
        let data = app
            .data(
                MARKETS,
                json!({ "status": status, "first": first, "after": after }),
            )
            .await;
        let connection = &data["markets"];
        assert_eq!(connection["pageInfo"]["hasPreviousPage"], page > 1);
        for edge in connection["edges"].as_array().expect("edges") {
            if !status.is_null() {
                assert_eq!(edge["node"]["status"], status);
            }
            ids.push(edge["node"]["id"].as_str().expect("id").to_owned());
        }
        if connection["pageInfo"]["hasNextPage"] == false {
            return (ids, page);
        }
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(page < 10, "pagination does not end");
    }
    unreachable!()
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn markets_page_in_start_order_and_filter_by_status(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    card(&mut desk).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let (all, pages) = market_pages(&app, Value::Null, 2).await;
    assert_eq!(all, ["m1", "m2", "m3", "m4", "m5"]);
    assert_eq!(pages, 3);
    let (open, _) = market_pages(&app, json!("OPEN"), 1).await;
    assert_eq!(open, ["m1", "m5"]);
    for (status, ids) in [
        ("SUSPENDED", vec!["m4"]),
        ("SETTLING", vec!["m3"]),
        ("SETTLED", vec!["m2"]),
        ("CLOSED", vec![]),
    ] {
        assert_eq!(
            market_pages(&app, json!(status), 20).await.0,
            ids,
            "{status}"
        );
    }

    let (code, _) = app
        .error_code(MARKETS, json!({ "after": "not a cursor" }))
        .await;
    assert_eq!(code, "invalid_argument");
    let body = app.query(MARKETS, json!({ "status": "OPENED" })).await;
    assert_eq!(
        body["data"],
        Value::Null,
        "an unknown status is refused: {body:#}"
    );
    assert!(body["errors"][0]["message"].is_string(), "{body:#}");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_accounts_bets_page_newest_first_with_their_legs(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    card(&mut desk).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let mut bets = Vec::new();
    let mut after = Value::Null;
    for page in 1.. {
        let data = app
            .data(BETS, json!({ "id": "alice", "first": 2, "after": after }))
            .await;
        let connection = data["account"]["bets"].clone();
        bets.extend(
            connection["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone()),
        );
        if connection["pageInfo"]["hasNextPage"] == false {
            assert_eq!(page, 3);
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(page < 10, "pagination does not end");
    }

    assert_eq!(bets.len(), 5, "alice's bets only");
    let placed: Vec<i64> = bets
        .iter()
        .map(|b| b["placedPosition"].as_i64().expect("i64"))
        .collect();
    let mut newest_first = placed.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(placed, newest_first);
    let legs = |b: &Value| -> Vec<String> {
        b["legs"]
            .as_array()
            .expect("legs")
            .iter()
            .map(|l| format!("{}/{}", l["marketId"].as_str().expect("id"), l["outcome"]))
            .collect()
    };
    assert_eq!(
        bets.iter().map(legs).collect::<Vec<_>>(),
        [
            vec!["m2/1"],
            vec!["m3/1"],
            vec!["m1/2", "m5/1"],
            vec!["m2/0"],
            vec!["m1/0"]
        ]
    );

    // The winner on m2: settled, paid its payout; its leg won.
    let won = &bets[3];
    assert_eq!(won["status"], "SETTLED");
    assert_eq!(won["returned"], won["payoutIfWins"]);
    assert_eq!(
        won["legs"][0]["result"],
        json!({ "kind": "WON", "deadHeat": 1 })
    );
    assert_eq!(
        won["settlementId"],
        desk.market("m2").settlements[0].0.as_uuid().to_string()
    );
    assert!(won["settledAt"].is_string());
    let odds = won["oddsTenThousandths"].as_i64().expect("odds");
    assert_eq!(
        won["odds"],
        format!("{}.{:04}", odds / 10_000, odds % 10_000)
    );
    assert_eq!(won["stake"], 2_000);
    // The loser on m2.
    assert_eq!(bets[0]["status"], "SETTLED");
    assert_eq!(bets[0]["returned"], 0);
    assert_eq!(bets[0]["legs"][0]["result"]["kind"], "LOST");
    // The accumulator: open, no leg settled.
    let acca = &bets[2];
    assert_eq!(
        (acca["status"].clone(), acca["returned"].clone()),
        (json!("OPEN"), Value::Null)
    );
    assert_eq!(acca["legs"][1]["leg"], 1);
    assert_eq!(acca["legs"][1]["result"], Value::Null);

    for (status, count) in [
        ("OPEN", 3),
        ("SETTLED", 2),
        ("VOIDED", 0),
        ("CASHED_OUT", 0),
    ] {
        let data = app
            .data(BETS, json!({ "id": "alice", "status": status }))
            .await;
        let edges = data["account"]["bets"]["edges"]
            .as_array()
            .expect("edges")
            .clone();
        assert_eq!(edges.len(), count, "{status}");
        assert!(edges.iter().all(|e| e["node"]["status"] == status));
    }
    let bob = app.data(BETS, json!({ "id": "bob" })).await;
    assert_eq!(
        bob["account"]["bets"]["edges"]
            .as_array()
            .expect("edges")
            .len(),
        1
    );
}

const STATEMENT: &str = r#"
query ($id: String!, $first: Int, $after: String) {
  account(id: $id) {
    balance
    statement(first: $first, after: $after) {
      edges { node { position eventType code phase amount counterparty transferId } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"#;

/// Every statement entry of `account`, newest first, a page of one at a
/// time: two entries at one position must each come once.
async fn statement_one_by_one(app: &App, account: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                STATEMENT,
                json!({ "id": account, "first": 1, "after": after }),
            )
            .await;
        let statement = &data["account"]["statement"];
        entries.extend(
            statement["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| e["node"].clone()),
        );
        if statement["pageInfo"]["hasNextPage"] == false {
            return entries;
        }
        after = statement["pageInfo"]["endCursor"].clone();
        assert!(entries.len() < 100, "pagination does not end");
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_winning_bets_settlement_is_two_statement_entries_at_one_position(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    card(&mut desk).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let entries = statement_one_by_one(&app, "alice").await;
    // The deposit, five stakes held, the winner on m2 (its stake posted and
    // its payout, in one event) and the loser on m2 (its stake posted).
    assert_eq!(entries.len(), 9, "{entries:#?}");
    // A stake's hold and its posting share the transfer's id, at two
    // positions.
    let ids: std::collections::HashSet<_> = entries
        .iter()
        .map(|e| format!("{}/{}", e["position"], e["transferId"]))
        .collect();
    assert_eq!(ids.len(), 9, "each entry once");
    let settled: Vec<&Value> = entries
        .iter()
        .filter(|e| e["eventType"] == "bet_settled")
        .collect();
    assert_eq!(settled.len(), 3, "{entries:#?}");
    let winner: Vec<&Value> = settled
        .iter()
        .copied()
        .filter(|e| {
            settled
                .iter()
                .filter(|o| o["position"] == e["position"])
                .count()
                == 2
        })
        .collect();
    assert_eq!(winner.len(), 2, "{entries:#?}");
    // Newest first: the payout (the event's second transfer), then the
    // stake's hold posted (its first).
    assert_eq!(
        (winner[0]["code"].clone(), winner[0]["phase"].clone()),
        (json!("payout"), json!("POSTED"))
    );
    assert!(winner[0]["amount"].as_i64().expect("amount") > 2_000);
    assert_eq!(winner[0]["counterparty"], "house");
    assert_eq!(
        (
            winner[1]["code"].clone(),
            winner[1]["phase"].clone(),
            winner[1]["amount"].clone()
        ),
        (json!("stake"), json!("PENDING_POSTED"), json!(-2_000))
    );
    let sum: i64 = entries
        .iter()
        .filter(|e| e["phase"] == "POSTED" || e["phase"] == "PENDING_POSTED")
        .map(|e| e["amount"].as_i64().expect("amount"))
        .sum();
    let data = app.data(STATEMENT, json!({ "id": "alice" })).await;
    assert_eq!(
        data["account"]["balance"], sum,
        "the entries make the balance"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn at_least_waits_for_the_sportsbook_projection(pool: PgPool) {
    let mut desk = Desk::new(&pool);
    card(&mut desk).await;
    let last = desk.last_position;
    // Only the account projections are there yet.
    drive(&runner(&pool, Balances)).await;
    drive(&runner(&pool, Statements)).await;
    let config = QueriesConfig {
        at_least_timeout_ms: 200,
        ..Default::default()
    };
    let app = App::spawn(&pool, config).await;

    let (code, body) = app
        .error_code(MARKET, json!({ "id": "m1", "atLeast": last }))
        .await;
    assert_eq!(code, "projection_behind", "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("sportsbook")),
        "{body:#}"
    );
    // An account without its bets needs only the account projections.
    let balance = app
        .data(
            "query ($atLeast: Int) { account(id: \"alice\", atLeast: $atLeast) { balance } }",
            json!({ "atLeast": last }),
        )
        .await;
    assert!(balance["account"]["balance"].is_i64());
    let (code, _) = app
        .error_code(BETS, json!({ "id": "alice", "atLeast": last }))
        .await;
    assert_eq!(code, "projection_behind", "bets come from the sportsbook");

    let (data, ()) = tokio::join!(
        app.data(MARKET, json!({ "id": "m4", "atLeast": last })),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            drive(&runner(&pool, Sportsbook)).await;
        }
    );
    assert_eq!(data["market"]["status"], "SUSPENDED");
    assert_eq!(data["market"]["lastPosition"], last);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn half_pages_of_every_field_pass_and_pages_of_pages_are_too_complex(pool: PgPool) {
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    // Half a page of markets or bets with every field is within the
    // default complexity (2 000); a whole page of every field is not, and
    // a client asks for fewer fields or items.
    let markets = MARKET
        .replace(
            "market(id: $id, atLeast: $atLeast) {",
            "markets(first: 50) { edges { node {",
        )
        .replace("query ($id: ID!, $atLeast: Int)", "")
        .replace("\n}", "}}\n}");
    let body = app.query(&markets, json!({})).await;
    assert_eq!(body.get("errors"), None, "{body:#}");
    let bets = BETS
        .replace(
            "bets(status: $status, first: $first, after: $after)",
            "bets(first: 50)",
        )
        .replace(", $status: BetStatus, $first: Int, $after: String", "");
    let body = app.query(&bets, json!({ "id": "alice" })).await;
    assert_eq!(body.get("errors"), None, "{body:#}");

    let body = app
        .query(&markets.replace("first: 50", "first: 100"), json!({}))
        .await;
    assert_eq!(body["data"], Value::Null, "{body:#}");
    let body = app
        .query(
            "{ accounts(first: 100) { edges { node { bets(first: 100) { \
             edges { node { id stake } } } } } } }",
            json!({}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too complex")),
        "{body:#}"
    );
}
