//! Test helpers: the wallet event maker lives in `ledger::testkit` (shared
//! with the queries tests); what drives both account projections is here.

#![allow(dead_code, unused_imports)]

use ledger::store::PgEventStore;
pub use ledger::testkit::{visible, Wallets};
use sqlx::PgPool;

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
