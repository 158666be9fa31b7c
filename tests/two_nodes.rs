//! Two `betledger serve --role commands` processes on one database, as in
//! the Rinha stack behind nginx: concurrent debits split across both must
//! never take a client past its limit (optimistic concurrency, no locks).

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ledger::testkit::database_url;
use sqlx::PgPool;
use tokio::process::{Child, Command};

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

struct Node {
    rinha: String,
    _child: Child,
}

async fn start_node(database_url: &str) -> Node {
    let rinha_port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_betledger"))
        .args(["serve", "--role", "commands"])
        .args(["--commands-addr", &format!("127.0.0.1:{}", free_port())])
        .args(["--rinha-addr", &format!("127.0.0.1:{rinha_port}")])
        .args(["--db-pool-size", "4"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start betledger");
    Node {
        rinha: format!("http://127.0.0.1:{rinha_port}"),
        _child: child,
    }
}

async fn wait_ready(http: &reqwest::Client, node: &Node) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = http
            .get(format!("{}/clientes/1/extrato", node.rinha))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("node {} did not become ready", node.rinha);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn two_processes_share_one_database(pool: PgPool) {
    let url = database_url(&pool);
    let nodes = [start_node(&url).await, start_node(&url).await];
    let http = reqwest::Client::new();
    for node in &nodes {
        wait_ready(&http, node).await;
    }

    // Client 2 has a limit of 80000: 240 debits of 1000, half on each node,
    // all at once. Exactly 80 fit.
    let debits = (0..240).map(|i| {
        let url = format!("{}/clientes/2/transacoes", nodes[i % 2].rinha);
        let http = http.clone();
        async move {
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .body(r#"{"valor": 1000, "tipo": "d", "descricao": "split"}"#)
                .send()
                .await
                .expect("send");
            response.status().as_u16()
        }
    });
    let statuses = futures::future::join_all(debits).await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 422).count();
    assert_eq!((ok, refused), (80, 160), "statuses: {statuses:?}");

    for node in &nodes {
        let statement: serde_json::Value = http
            .get(format!("{}/clientes/2/extrato", node.rinha))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(
            statement["saldo"]["total"], -80000,
            "{} sees every debit",
            node.rinha
        );
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE stream_id = 'account-rinha-2' AND event_type = 'funds_withdrawn'")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(stored, 80);
}
