//! The pools' GraphQL over HTTP on port 0: a pool, its outcomes' stakes
//! and payout per unit, the pools page, and an account's entries, as the
//! real projection built them from events made by the real domain.

mod common;

use chrono::{TimeZone, Utc};
use common::{drive, runner, App, Wallets};
use ledger::pool::{decide_pool, PoolCommand, PoolEntryAccepted, PoolEvent, PoolState};
use ledger::store::NewEvent;
use ledger::wallet::{PoolEntryPaid, WalletEvent};
use ledger::{
    AccountId, Amount, Currency, PoolEntryId, PoolId, Transfer, TransferCode, TransferId,
};
use projections::{Balances, Pools, Statements};
use queries::QueriesConfig;
use serde_json::json;
use sqlx::PgPool;

const POOL: &str = r#"
query ($id: ID!) {
  pool(id: $id) {
    id name currency status minEntry rakeBp pot entries rake winners entriesPaid paid version
    outcomes { index name staked entries payoutPerUnit }
  }
}"#;

const ENTRIES: &str = r#"
query ($id: String!, $first: Int, $after: String) {
  account(id: $id) {
    poolEntries(first: $first, after: $after) {
      edges { node { pool outcome stake status returned } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"#;

fn new_events(events: &[PoolEvent]) -> Vec<NewEvent> {
    events
        .iter()
        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
        .collect()
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_pool_its_outcomes_and_an_accounts_entries(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("ann", "EUR", 0);
    wallets.deposit("ann", 10_000);
    wallets.flush().await;

    let id = PoolId::parse("derby").expect("id");
    let closes_at = Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("time");
    let mut state = PoolState::default();
    let mut events = Vec::new();
    let run = |state: &mut PoolState, events: &mut Vec<PoolEvent>, e: Vec<PoolEvent>| {
        for e in e {
            *state = std::mem::take(state).evolve(&e);
            events.push(e);
        }
    };
    let created = decide_pool(
        &state,
        &PoolCommand::Create {
            pool: id.clone(),
            name: "Derby".into(),
            outcomes: vec!["A".into(), "B".into()],
            min_entry: 100,
            rake_bp: 1_000,
            closes_at,
            currency: Currency::parse("EUR").expect("EUR"),
        },
    )
    .expect("created");
    run(&mut state, &mut events, created);
    let mut entries = Vec::new();
    for (outcome, stake) in [(0u16, 1_000), (0, 2_000), (1, 3_000)] {
        let entry_id = PoolEntryId::generate();
        entries.push(entry_id);
        let accepted = PoolEvent::EntryAccepted(PoolEntryAccepted {
            pool: id.clone(),
            entry_id,
            account: AccountId::parse("ann").expect("id"),
            outcome,
            stake: Amount::new(stake).expect("amount"),
        });
        run(&mut state, &mut events, vec![accepted]);
    }
    wallets.append_raw("pool-derby", new_events(&events)).await;

    let app = App::spawn(&pool, QueriesConfig::default()).await;
    drive(&runner(&pool, Balances)).await;
    drive(&runner(&pool, Statements)).await;
    drive(&runner(&pool, Pools)).await;
    let open = app.data(POOL, json!({ "id": "derby" })).await;
    let open = &open["pool"];
    assert_eq!(open["status"], "OPEN");
    assert_eq!(
        (
            open["pot"].clone(),
            open["entries"].clone(),
            open["rake"].clone()
        ),
        (json!(6_000), json!(3), json!(600))
    );
    // 5,400 shared: outcome A (3,000 staked) returns 1.8 a unit, B 1.8.
    assert_eq!(open["outcomes"][0]["staked"], 3_000);
    assert_eq!(open["outcomes"][0]["payoutPerUnit"], "1.8000");
    assert_eq!(open["outcomes"][1]["entries"], 1);

    // A payout of the first entry, as the payout process would write it.
    let paid = WalletEvent::PoolPaid(PoolEntryPaid {
        pool: id.clone(),
        entry_id: entries[0],
        transfer: Transfer {
            id: TransferId::generate(),
            debit: AccountId::pool(&id),
            credit: AccountId::parse("ann").expect("id"),
            amount: Amount::new(1_800).expect("amount"),
            currency: Currency::parse("EUR").expect("EUR"),
            code: TransferCode::PoolPayout,
        },
    });
    wallets
        .append_raw(
            "payouts-derby",
            vec![NewEvent::new(
                paid.event_type(),
                paid.schema_version(),
                paid.payload(),
            )],
        )
        .await;
    drive(&runner(&pool, Pools)).await;
    let page = app.data(ENTRIES, json!({ "id": "ann", "first": 2 })).await;
    let page = &page["account"]["poolEntries"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let nodes: Vec<_> = page["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(nodes[0]["stake"], 3_000, "newest first");
    assert_eq!(nodes[0]["status"], "OPEN");
    let rest = app
        .data(
            ENTRIES,
            json!({ "id": "ann", "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let last = &rest["account"]["poolEntries"]["edges"][0]["node"];
    assert_eq!(
        (last["status"].clone(), last["returned"].clone()),
        (json!("PAID"), json!(1_800))
    );

    let pools = app
        .data(
            "{ pools(first: 10) { edges { node { id status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(pools["pools"]["edges"][0]["node"]["id"], "derby");
    // The page after the only pool's cursor is empty.
    let after = app
        .data(
            "query ($after: String) { pools(first: 1, after: $after) { \
             edges { node { id } } pageInfo { hasPreviousPage } } }",
            json!({ "after": pools_cursor(&app).await }),
        )
        .await;
    assert_eq!(after["pools"]["edges"], json!([]));
    assert_eq!(after["pools"]["pageInfo"]["hasPreviousPage"], true);
}

async fn pools_cursor(app: &App) -> serde_json::Value {
    let page = app
        .data(
            "{ pools(first: 1) { pageInfo { endCursor hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["pools"]["pageInfo"]["hasNextPage"], false);
    page["pools"]["pageInfo"]["endCursor"].clone()
}
