//! What the GraphQL tests share: the wallet event maker (shared with the
//! projections tests), the query server on port 0, and the runners that
//! build its read models.

#![allow(dead_code, unused_imports)] // Each test file uses its own part.

use ledger::store::PgEventStore;
pub use ledger::testkit::{visible, Wallets};
use projections::{Projection, ProjectionsConfig, Runner, Step};
use queries::QueriesConfig;
use serde_json::{json, Value};
use sqlx::PgPool;

pub const STEPS_MAX: usize = 10_000;

pub struct App {
    pub url: String,
    pub client: reqwest::Client,
}

impl App {
    /// Starts the query server on a free port, as the binary would.
    pub async fn spawn(pool: &PgPool, config: QueriesConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let router = queries::router(pool.clone(), config);
        tokio::spawn(async move {
            axum::serve(listener, router).await.expect("serve");
        });
        Self {
            url: format!("http://{addr}/graphql"),
            client: reqwest::Client::new(),
        }
    }

    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let response = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.json().await.expect("json")
    }

    /// The query's data; fails the test on any GraphQL error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.query(query, variables).await;
        assert_eq!(body.get("errors"), None, "{body:#}");
        body["data"].clone()
    }

    /// The code of the query's one error.
    pub async fn error_code(&self, query: &str, variables: Value) -> (String, Value) {
        let body = self.query(query, variables).await;
        let code = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code in {body:#}"))
            .to_owned();
        (code, body)
    }
}

pub fn runner<P: Projection>(pool: &PgPool, projection: P) -> Runner<PgEventStore, P> {
    let config = ProjectionsConfig {
        batch_events_max: 7,
        ..Default::default()
    };
    Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        projection,
        config,
    )
    .expect("runner")
}

pub async fn drive<P: Projection>(runner: &Runner<PgEventStore, P>) {
    for _ in 0..STEPS_MAX {
        if runner.step().await.expect("step") == Step::Idle {
            return;
        }
    }
    panic!("not idle after {STEPS_MAX} steps");
}
