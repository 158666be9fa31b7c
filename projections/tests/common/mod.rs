//! Test helpers: the wallet event maker lives in `ledger::testkit` (shared
//! with the queries tests); what drives both account projections is here.

#![allow(dead_code, unused_imports)] // Each test file uses its own part.

use ledger::store::PgEventStore;
pub use ledger::testkit::{visible, Wallets};
use sqlx::{PgPool, Row};

/// Both account projections, stepped or run together as `serve` runs them.
pub struct Projector {
    pub balances: projections::Runner<PgEventStore, projections::Balances>,
    pub statements: projections::Runner<PgEventStore, projections::Statements>,
}

impl Projector {
    pub fn new(pool: &PgPool, config: projections::ProjectionsConfig) -> Self {
        let store = PgEventStore::new(pool.clone());
        let runner = |config| (store.clone(), pool.clone(), config);
        let (s, p, c) = runner(config.clone());
        let balances =
            projections::Runner::new(s, p, projections::Balances, c).expect("valid config");
        let (s, p, c) = runner(config);
        let statements =
            projections::Runner::new(s, p, projections::Statements, c).expect("valid config");
        Self {
            balances,
            statements,
        }
    }

    /// Steps both. Reports what the balances did (each projection applies
    /// every event once); idle only when both are.
    pub async fn step(&self) -> Result<projections::Step, projections::Error> {
        use projections::Step;
        let balances = self.balances.step().await?;
        let statements = self.statements.step().await?;
        Ok(match (balances, statements) {
            (Step::Idle, Step::Idle) => Step::Idle,
            (Step::Idle, Step::Worked { position, .. }) => Step::Worked {
                events: 0,
                position,
            },
            (worked, _) => worked,
        })
    }

    /// Runs both until `shutdown` resolves.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::select! {
            () = shutdown => {}
            _ = async {
                tokio::join!(
                    self.balances.run(std::future::pending()),
                    self.statements.run(std::future::pending()),
                )
            } => {}
        }
    }
}

/// The lower of the two projections' checkpoints.
pub async fn checkpoint(pool: &PgPool) -> i64 {
    let mut lowest = i64::MAX;
    for name in projections::accounts::ALL {
        let at = projections::wait::checkpoint(pool, name)
            .await
            .expect("checkpoint");
        lowest = lowest.min(at);
    }
    lowest
}

/// Waits until both projections have reached `position`.
pub async fn wait_projected(
    pool: &PgPool,
    position: i64,
    timeout: std::time::Duration,
) -> Result<(), projections::Error> {
    for name in projections::accounts::ALL {
        projections::wait_for_position(pool, name, position, timeout).await?;
    }
    Ok(())
}

/// Every read-model row (but `updated_at`) and the lower checkpoint, as
/// JSON.
pub async fn snapshot(pool: &PgPool) -> serde_json::Value {
    let balances: serde_json::Value = sqlx::query(
        "SELECT coalesce(json_agg(b ORDER BY account_id, currency), '[]') FROM (
             SELECT account_id, currency, credit_limit, posted_debits, posted_credits,
                    pending_debits, pending_credits, balance, available, version,
                    last_position
             FROM account_balances) b",
    )
    .fetch_one(pool)
    .await
    .expect("balances")
    .get(0);
    let statement: serde_json::Value = sqlx::query(
        "SELECT coalesce(json_agg(s ORDER BY account_id, position, line), '[]')
         FROM account_statement s",
    )
    .fetch_one(pool)
    .await
    .expect("statement")
    .get(0);
    serde_json::json!({
        "checkpoint": checkpoint(pool).await,
        "balances": balances,
        "statement": statement,
    })
}

pub mod analytics;
pub mod desk;

/// Every row of the sportsbook read models (but `updated_at`) and the
/// projection's checkpoint, as JSON.
pub async fn sportsbook_snapshot(pool: &PgPool) -> serde_json::Value {
    let mut snapshot = serde_json::Map::new();
    for (table, order) in [
        ("markets", "market_id"),
        ("market_outcomes", "market_id, outcome"),
        ("bets", "bet_id"),
        ("bet_legs", "bet_id, leg"),
    ] {
        // Table names from the list above, not from input.
        let rows: serde_json::Value = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT coalesce(json_agg(to_jsonb(t) - 'updated_at' ORDER BY {order}), '[]') \
             FROM {table} t"
        )))
        .fetch_one(pool)
        .await
        .expect("rows")
        .get(0);
        snapshot.insert(table.to_owned(), rows);
    }
    let checkpoint = projections::wait::checkpoint(pool, projections::sportsbook::SPORTSBOOK)
        .await
        .expect("checkpoint");
    snapshot.insert("checkpoint".to_owned(), checkpoint.into());
    serde_json::Value::Object(snapshot)
}
