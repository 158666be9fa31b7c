//! ClickHouse down and back, for real: a private clickhouse-server (its own
//! ports and data directory, run as the `clickhouse` user like the shared
//! one) is killed while events keep coming. The Postgres projections go
//! on, the sink records why it is stuck and retries, and once the server
//! is started again it catches up: every report total equals the Postgres
//! read models'. Every wait is bounded.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::analytics::{analytics_at, sink};
use common::{Projector, Wallets};
use projections::clickhouse::reports::{self, ReportName, ReportParams};
use projections::clickhouse::AnalyticsLag;
use projections::{ProjectionsConfig, Step};
use sqlx::{PgPool, Row};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(30);

/// A clickhouse-server of the test's own.
struct PrivateServer {
    dir: PathBuf,
    http_port: u16,
    tcp_port: u16,
    interserver_port: u16,
    child: Option<Child>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl PrivateServer {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "betledger-ch-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("data dir");
        let chown = std::process::Command::new("chown")
            .arg("clickhouse:clickhouse")
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(chown.success(), "chown the data dir to clickhouse");
        Self {
            dir,
            http_port: free_port(),
            tcp_port: free_port(),
            interserver_port: free_port(),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    /// Starts the server and waits (bounded) until it answers.
    async fn start(&mut self) {
        let d = self.dir.display();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stdout.log"))
            .expect("log");
        let child = Command::new("setpriv")
            .args([
                "--reuid=clickhouse",
                "--regid=clickhouse",
                "--init-groups",
                "clickhouse-server",
                "--config-file=/etc/clickhouse-server/config.xml",
                "--",
            ])
            .arg(format!("--http_port={}", self.http_port))
            .arg(format!("--tcp_port={}", self.tcp_port))
            .arg(format!("--interserver_http_port={}", self.interserver_port))
            .arg(format!("--path={d}/data/"))
            .arg(format!("--tmp_path={d}/tmp/"))
            .arg(format!("--user_files_path={d}/user_files/"))
            .arg(format!("--format_schema_path={d}/format_schemas/"))
            .arg(format!("--logger.log={d}/server.log"))
            .arg(format!("--logger.errorlog={d}/server.err.log"))
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .expect("start clickhouse-server");
        self.child = Some(child);
        let started = Instant::now();
        let client = ping(&self.url());
        while started.elapsed() < WAIT {
            if client.await_ready().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("private clickhouse-server did not answer within {WAIT:?}");
    }

    /// Kills the server (as a crash would) and waits for it to be gone.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("kill clickhouse-server");
        }
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `SELECT 1` over HTTP with the clickhouse client, bounded by its own
/// short timeout.
struct Ping(clickhouse::Client);

fn ping(url: &str) -> Ping {
    Ping(
        clickhouse::Client::default()
            .with_url(url)
            .with_validation(false),
    )
}

impl Ping {
    async fn await_ready(&self) -> bool {
        let query = self.0.query("SELECT 1").fetch_one::<u8>();
        matches!(
            tokio::time::timeout(Duration::from_secs(2), query).await,
            Ok(Ok(1))
        )
    }
}

async fn wait_for(what: &str, pool: &PgPool, done: impl Fn(&AnalyticsLag) -> bool) -> AnalyticsLag {
    let started = Instant::now();
    loop {
        let lag = AnalyticsLag::read(pool).await.expect("lag");
        if done(&lag) {
            return lag;
        }
        assert!(
            started.elapsed() < WAIT,
            "{what}: not within {WAIT:?}: {lag:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn project_accounts(pool: &PgPool) {
    let projector = Projector::new(pool, ProjectionsConfig::default());
    for _ in 0..10_000 {
        if projector.step().await.expect("step") == Step::Idle {
            return;
        }
    }
    panic!("account projections not idle");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_sink_survives_clickhouse_going_down_and_catches_up(pool: PgPool) {
    let mut server = PrivateServer::new();
    server.start().await;
    let analytics = analytics_at(&pool, &server.url()).await;
    let sink = sink(&pool, analytics.clone(), 200);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        sink.run(async move {
            let _ = stopped.await;
        })
        .await;
    });

    let mut wallets = Wallets::new(&pool);
    let head = wallets.busy_log(6, 2).await;
    wait_for("first catch-up", &pool, |l| l.position >= head).await;

    server.kill().await;
    // Commands and Postgres projections go on without ClickHouse.
    for i in 0..6 {
        wallets.deposit(&format!("player-{i}"), 1_000 + i);
        wallets.withdraw(&format!("player-{i}"), 100);
    }
    let head = wallets.flush().await;
    project_accounts(&pool).await;
    let lag = wait_for("failure recorded", &pool, |l| l.last_error.is_some()).await;
    assert!(lag.position < head, "the sink did not move: {lag:?}");
    assert!(lag.behind() > 0);
    assert!(lag.failing_since.is_some() && lag.failures >= 1);

    server.start().await;
    let lag = wait_for("catch-up after restart", &pool, |l| {
        l.position >= head && l.last_error.is_none()
    })
    .await;
    assert_eq!(lag.failures, 0);

    // What ClickHouse holds now equals the Postgres balances.
    let params = ReportParams::everything(ReportName::SystemAccounts).expect("params");
    let table = reports::run(&analytics, ReportName::SystemAccounts, &params)
        .await
        .expect("report");
    let closing = table.column_i64("closing").expect("closing");
    let mut ch: BTreeMap<String, i64> = BTreeMap::new();
    for (row, c) in table.rows.iter().zip(closing) {
        ch.insert(format!("{}/{}", row[0], row[1]), c);
    }
    let pg: BTreeMap<String, i64> = sqlx::query(
        "SELECT account_id || '/' || currency, balance FROM account_balances
         WHERE account_id IN ('house', 'cash')",
    )
    .fetch_all(&pool)
    .await
    .expect("balances")
    .iter()
    .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
    .collect();
    assert!(!pg.is_empty());
    assert_eq!(ch, pg);

    let _ = stop.send(());
    tokio::time::timeout(WAIT, running)
        .await
        .expect("sink stops")
        .expect("sink task");
    server.kill().await;
}
