//! The account read models built from wallet events stored at version 1
//! (`ledger/tests/fixtures/wallet_v1.ndjson`, described in
//! `ledger/tests/wallet_v1.rs`), and from newer events appended after them.

mod common;

use common::{Projector, Wallets};
use ledger::testkit::{load_rows, WALLET_V1_FIXTURE};
use projections::{ProjectionsConfig, Step};
use sqlx::{PgPool, Row};

const STEPS_MAX: usize = 1_000;

async fn drive_to_idle(projector: &Projector) {
    for _ in 0..STEPS_MAX {
        if projector.step().await.expect("step") == Step::Idle {
            return;
        }
    }
    panic!("not idle after {STEPS_MAX} steps");
}

/// (account, currency, balance, pending debits, pending credits, version).
type Row6 = (String, String, i64, i64, i64, Option<i64>);

async fn balances(pool: &PgPool) -> Vec<Row6> {
    sqlx::query(
        "SELECT account_id, currency, balance, pending_debits, pending_credits, version
         FROM account_balances ORDER BY account_id, currency",
    )
    .fetch_all(pool)
    .await
    .expect("balances")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
    .collect()
}

fn row(account: &str, currency: &str, balance: i64, pending: (i64, i64), v: Option<i64>) -> Row6 {
    let (debits, credits) = pending;
    (account.into(), currency.into(), balance, debits, credits, v)
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn read_models_from_v1_events_then_newer_ones(pool: PgPool) {
    load_rows(&pool, WALLET_V1_FIXTURE).await;
    let config = ProjectionsConfig {
        batch_events_max: 5,
        ..Default::default()
    };
    let projector = Projector::new(&pool, config);
    drive_to_idle(&projector).await;
    assert_eq!(
        balances(&pool).await,
        [
            row("alice", "EUR", -2_500, (200, 0), Some(8)),
            row("bob", "BRL", 2_800, (0, 0), Some(4)),
            row("carol", "EUR", 0, (0, 0), Some(1)),
            row("cash", "BRL", -2_800, (0, 0), None),
            row("cash", "EUR", 2_000, (0, 0), None),
            row("house", "EUR", 500, (0, 200), None),
        ]
    );
    let lines: Vec<(String, i64, Option<String>)> = sqlx::query(
        "SELECT event_type, amount, description FROM account_statement
         WHERE account_id = 'bob' ORDER BY position",
    )
    .fetch_all(&pool)
    .await
    .expect("statement")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    assert_eq!(
        lines,
        [
            ("funds_deposited".into(), 2_500, None),
            ("funds_deposited".into(), 1_000, Some("bonus".into())),
            ("funds_withdrawn".into(), -700, Some("payout".into())),
        ]
    );

    let mut w = Wallets::new(&pool);
    for account in ["alice", "bob", "carol"] {
        w.resume(account).await;
    }
    let open_stake = w.pending_holds("alice");
    assert_eq!(open_stake.len(), 1);
    w.deposit("alice", 700);
    w.post_hold("alice", open_stake[0]);
    w.withdraw("bob", 800);
    w.deposit("carol", 50);
    w.flush().await;
    drive_to_idle(&projector).await;
    assert_eq!(
        balances(&pool).await,
        [
            row("alice", "EUR", -2_000, (0, 0), Some(10)),
            row("bob", "BRL", 2_000, (0, 0), Some(5)),
            row("carol", "EUR", 50, (0, 0), Some(2)),
            row("cash", "BRL", -2_000, (0, 0), None),
            row("cash", "EUR", 1_250, (0, 0), None),
            row("house", "EUR", 700, (0, 0), None),
        ]
    );
}
