//! Starts the command API and the Rinha API on port 0 against the test's
//! own database, and talks to them over HTTP.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use commands::{AppState, CommandsConfig};
use ledger::store::PgEventStore;
use sqlx::PgPool;

pub struct App {
    pub api: String,
    pub rinha: String,
    pub http: reqwest::Client,
}

pub async fn spawn_app(pool: PgPool) -> App {
    spawn_app_with(pool, CommandsConfig::default()).await
}

pub async fn spawn_app_with(pool: PgPool, config: CommandsConfig) -> App {
    let state = AppState::start(PgEventStore::new(pool), config);
    commands::seed_rinha_clients(&state)
        .await
        .expect("seed rinha clients");
    let api = serve(commands::router(state.clone())).await;
    let rinha = serve(commands::rinha_router(state)).await;
    App {
        api,
        rinha,
        http: reqwest::Client::new(),
    }
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

impl App {
    /// POSTs a JSON body with an idempotency key; returns status and body.
    pub async fn post(&self, path: &str, key: &str, body: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.api))
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn get(&self, base: &str, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("request");
        read(response).await
    }

    pub async fn open(&self, id: &str, limit: i64) {
        let body = format!(r#"{{"id":"{id}","currency":"EUR","credit_limit":{limit}}}"#);
        let (status, reply) = self
            .post("/v1/accounts", &format!("open-{id}"), &body)
            .await;
        assert_eq!(status, 201, "{reply}");
    }
}

pub async fn read(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text:?}"));
    if status >= 400 {
        assert_eq!(
            content_type, "application/problem+json",
            "errors are problem documents"
        );
    }
    (status, body)
}

/// The app with its writer but no settlement process: the test drives
/// settlements itself with [`AppState::settler`], and can stop one half-way.
///
/// Its commands may wait up to a minute for their commit: the first command
/// on a market of 100,000 bets reads the whole stream into the cache, which
/// takes longer than the default reply timeout in a debug build sharing two
/// cores with the rest of the suite.
pub async fn spawn_app_without_settler(pool: PgPool) -> (App, AppState) {
    let config = CommandsConfig {
        reply_timeout_ms: 60_000,
        ..CommandsConfig::default()
    };
    let state = AppState::start_writer(PgEventStore::new(pool), config);
    let api = serve(commands::router(state.clone())).await;
    let rinha = serve(commands::rinha_router(state.clone())).await;
    let app = App {
        api,
        rinha,
        http: reqwest::Client::new(),
    };
    (app, state)
}
