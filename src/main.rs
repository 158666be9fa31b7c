//! `betledger`: one binary for every role. `serve` runs the command API, the
//! Rinha API, the projections and the GraphQL query side in one process (or
//! one role with `--role`); `migrate` sets up the databases (Postgres, and
//! ClickHouse when `CLICKHOUSE_URL` is set); `report` runs an analysts'
//! report over ClickHouse; `schema` writes the GraphQL SDL.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use ledger::store::{PgEventStore, MIGRATOR};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

mod report_format;

// The write path allocates many small, short-lived objects per command (JSON
// trees, strings, channels) from many threads; mimalloc serves those with
// less locking and copying than glibc's allocator (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "betledger",
    version,
    about = "An event-sourced, double-entry ledger for betting and casino platforms."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrates the database, then serves every role (or the one named by --role).
    Serve(ServeArgs),
    /// Creates or updates the database schema (and ClickHouse's tables when
    /// CLICKHOUSE_URL is set), then exits.
    Migrate(MigrateArgs),
    /// Runs one of the analysts' reports over ClickHouse
    /// (schemas/clickhouse/reports/NAME.sql) and prints it.
    Report(ReportArgs),
    /// Writes the GraphQL SDL (or, with --check, fails when the file is stale).
    Schema {
        /// Where the SDL goes.
        #[arg(long, default_value = "schemas/graphql/schema.graphql")]
        out: PathBuf,
        /// Compare instead of writing; exit 1 when the file differs.
        #[arg(long)]
        check: bool,
    },
}

#[derive(Args, Clone)]
struct DbArgs {
    /// Postgres holding the event store and the read models.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/betledger"
    )]
    database_url: String,
    /// Connections this process keeps to Postgres. Every process's pool,
    /// added up, must stay under the server's max_connections.
    #[arg(long, env = "DB_POOL_SIZE", default_value_t = 33)]
    db_pool_size: u32,
}

#[derive(Args, Clone)]
struct ClickHouseArgs {
    /// HTTP URL of the ClickHouse server of the analytics projection
    /// (`http://127.0.0.1:8123`). Without it there is no ClickHouse
    /// projection and `reports` is unavailable; everything else runs.
    #[arg(long, env = "CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// The ClickHouse database of the facts; created by `migrate`.
    #[arg(long, env = "CLICKHOUSE_DATABASE", default_value = "betledger")]
    clickhouse_database: String,
    #[arg(long, env = "CLICKHOUSE_USER")]
    clickhouse_user: Option<String>,
    #[arg(long, env = "CLICKHOUSE_PASSWORD", hide_env_values = true)]
    clickhouse_password: Option<String>,
    /// Longest one ClickHouse request (an insert, a report) may take.
    #[arg(long, env = "CLICKHOUSE_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    clickhouse_request_timeout_ms: u64,
    /// Most events the ClickHouse projection writes per insert (1 to 100000).
    #[arg(long, env = "CLICKHOUSE_BATCH_EVENTS_MAX", default_value_t = 50_000)]
    clickhouse_batch_events_max: usize,
    /// Longest delay between retries while ClickHouse fails (at least 100).
    #[arg(
        long,
        env = "CLICKHOUSE_RETRY_BACKOFF_MAX_MS",
        default_value_t = 30_000
    )]
    clickhouse_retry_backoff_max_ms: u64,
}

impl ClickHouseArgs {
    fn config(&self) -> Option<projections::clickhouse::ClickHouseConfig> {
        let url = self.clickhouse_url.as_ref()?;
        Some(projections::clickhouse::ClickHouseConfig {
            user: self.clickhouse_user.clone(),
            password: self.clickhouse_password.clone(),
            request_timeout_ms: self.clickhouse_request_timeout_ms,
            ..projections::clickhouse::ClickHouseConfig::new(url, &self.clickhouse_database)
        })
    }

    fn analytics(&self) -> anyhow::Result<Option<projections::clickhouse::Analytics>> {
        self.config()
            .map(|c| projections::clickhouse::Analytics::new(&c))
            .transpose()
            .context("ClickHouse settings")
    }
}

#[derive(Args)]
struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    /// Aligned columns for a terminal.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object: report, columns, rows (cells as text), truncated.
    Json,
}

#[derive(Args)]
struct ReportArgs {
    /// The report: sportsbook_by_day, sportsbook_by_market, cash_by_day,
    /// system_accounts, top_accounts, box_office_tickets_per_minute,
    /// box_office_tiers, pools.
    name: String,
    /// Start of the range, included (RFC 3339, e.g. 2026-11-01T00:00:00Z).
    #[arg(long)]
    from: chrono::DateTime<chrono::Utc>,
    /// End of the range, excluded (RFC 3339).
    #[arg(long)]
    to: chrono::DateTime<chrono::Utc>,
    /// Rows of top_accounts (1 to 1000).
    #[arg(long)]
    limit: Option<u32>,
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Role {
    /// Every role in this process.
    All,
    /// The command API and the Rinha API.
    Commands,
    /// The GraphQL query side.
    Queries,
    /// The projection workers.
    Projections,
}

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    clickhouse: ClickHouseArgs,
    /// Which role this process plays.
    #[arg(long, env = "BETLEDGER_ROLE", value_enum, default_value = "all")]
    role: Role,
    /// Where the command API (/v1) listens.
    #[arg(long, env = "COMMANDS_ADDR", default_value = "127.0.0.1:8080")]
    commands_addr: SocketAddr,
    /// Where GraphQL (POST /graphql, GraphiQL at GET /graphql) listens.
    #[arg(long, env = "GRAPHQL_ADDR", default_value = "127.0.0.1:8081")]
    graphql_addr: SocketAddr,
    /// Where the Rinha de Backend API (/clientes/{id}/...) listens.
    #[arg(long, env = "RINHA_ADDR", default_value = "127.0.0.1:9999")]
    rinha_addr: SocketAddr,
    /// Commands waiting for the writer before new ones get 503.
    #[arg(long, env = "QUEUE_COMMANDS_MAX", default_value_t = 20_000)]
    queue_commands_max: usize,
    /// Most commands committed in one transaction.
    #[arg(long, env = "BATCH_COMMANDS_MAX", default_value_t = 2_000)]
    batch_commands_max: usize,
    /// Writer loops (each commits its own batches; a stream always uses one).
    /// One makes the largest batches: on 2 cores it beat two by a fifth
    /// (docs/benchmarks.md).
    #[arg(long, env = "WRITER_SHARDS", default_value_t = 1)]
    writer_shards: usize,
    /// Batches of one writer shard committing at once (1 to 16). A stream is
    /// never in two at once; with more than one, the next batch's commit
    /// overlaps the last one's. One made lower latencies and as many
    /// commands/s on the benchmark machine (docs/benchmarks.md).
    #[arg(long, env = "WRITER_BATCHES_IN_FLIGHT", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=16))]
    writer_batches_in_flight: u16,
    /// Most bets the settlement process settles in one append (1 to 5000),
    /// with its progress on the market.
    #[arg(long, env = "SETTLEMENT_CHUNK_BETS_MAX", default_value_t = 2_000,
          value_parser = clap::value_parser!(u16).range(1..=5_000))]
    settlement_chunk_bets_max: u16,
    /// Most events a projection applies in one transaction (1 to 100000).
    /// Larger batches catch up faster; a batch takes only what is readable.
    #[arg(long, env = "PROJECTION_BATCH_EVENTS_MAX", default_value_t = 10_000)]
    projection_batch_events_max: usize,
    /// How often an idle projection reads the log even without a NOTIFY.
    #[arg(long, env = "PROJECTION_POLL_INTERVAL_MS", default_value_t = 500)]
    projection_poll_interval_ms: u64,
    /// How long the projections whose events are a small share of the log
    /// (sportsbook, pools, box office) pause after catching up before they
    /// step again: fewer, larger steps for a little more lag.
    #[arg(long, env = "PROJECTION_SPARSE_STEP_SPACING_MS", default_value_t = 10)]
    projection_sparse_step_spacing_ms: u64,
    /// How long a query with atLeast waits for the projection to catch up.
    #[arg(long, env = "AT_LEAST_TIMEOUT_MS", default_value_t = 2_000)]
    at_least_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("betledger: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Migrate(args) => {
            let pool = connect(&args.db).await?;
            tracing::info!("database is up to date");
            if let Some(analytics) = args.clickhouse.analytics()? {
                projections::clickhouse::sink::migrate(&pool, &analytics)
                    .await
                    .context("migrating ClickHouse")?;
                tracing::info!(database = analytics.database(), "ClickHouse is up to date");
            }
        }
        Command::Report(args) => return report(args).await,
        Command::Schema { out, check } => return schema(&out, check),
        Command::Serve(args) => serve(args).await?,
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn schema(out: &PathBuf, check: bool) -> anyhow::Result<std::process::ExitCode> {
    let sdl = queries::sdl();
    if check {
        let current = std::fs::read_to_string(out).unwrap_or_default();
        if current != sdl {
            eprintln!("{} is stale: run `betledger schema`", out.display());
            return Ok(std::process::ExitCode::FAILURE);
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    std::fs::write(out, sdl).with_context(|| format!("writing {}", out.display()))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn report(args: ReportArgs) -> anyhow::Result<std::process::ExitCode> {
    use projections::clickhouse::reports::{self, ReportName, ReportParams};
    let Some(analytics) = args.clickhouse.analytics()? else {
        anyhow::bail!("set CLICKHOUSE_URL (or --clickhouse-url) to run reports");
    };
    let name = ReportName::parse(&args.name)?;
    let params = ReportParams::new(name, args.from, args.to, args.limit)?;
    let table = reports::run(&analytics, name, &params).await?;
    let out = match args.format {
        ReportFormat::Table => report_format::table(&table),
        ReportFormat::Csv => report_format::csv(&table),
        ReportFormat::Json => report_format::json(&table),
    };
    print!("{out}");
    if table.truncated {
        eprintln!(
            "betledger: more than {} rows; the rest were left out, narrow the range",
            reports::REPORT_ROWS_MAX
        );
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Connects and migrates. Migrations take a lock, so processes starting
/// together wait for each other instead of racing.
async fn connect(db: &DbArgs) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(db.db_pool_size)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&db.database_url)
        .await
        .context("connecting to Postgres (DATABASE_URL)")?;
    MIGRATOR
        .run(&pool)
        .await
        .context("migrating the database")?;
    Ok(pool)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let pool = connect(&args.db).await?;
    let store = PgEventStore::new(pool.clone());
    let (stop, stopped) = watch::channel(false);
    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let runs = |role: Role| args.role == Role::All || args.role == role;

    if runs(Role::Commands) {
        let config = commands::CommandsConfig {
            queue_commands_max: args.queue_commands_max,
            batch_commands_max: args.batch_commands_max,
            writer_shards: args.writer_shards,
            writer_batches_in_flight: usize::from(args.writer_batches_in_flight),
            settlement: commands::SettlementConfig {
                chunk_bets_max: usize::from(args.settlement_chunk_bets_max),
                ..commands::SettlementConfig::default()
            },
            ..commands::CommandsConfig::default()
        };
        let state = commands::AppState::start(store.clone(), config);
        commands::seed_rinha_clients(&state)
            .await
            .context("seeding the Rinha clients")?;
        let api = commands::router(state.clone());
        let rinha = commands::rinha_router(state);
        tasks.spawn(listen(
            "command API",
            args.commands_addr,
            api,
            stopped.clone(),
        ));
        tasks.spawn(listen("Rinha API", args.rinha_addr, rinha, stopped.clone()));
    }
    if runs(Role::Projections) {
        let config = projections::ProjectionsConfig {
            batch_events_max: args.projection_batch_events_max,
            poll_interval_ms: args.projection_poll_interval_ms,
            sparse_step_spacing_ms: args.projection_sparse_step_spacing_ms,
            ..projections::ProjectionsConfig::default()
        };
        let handle = projections::spawn(store.clone(), config, signalled(stopped.clone()))?;
        tasks.spawn(async move {
            handle.await.context("projection runners")?;
            Ok(())
        });
    }
    if runs(Role::Projections) {
        if let Some(analytics) = args.clickhouse.analytics()? {
            // ClickHouse's tables first; if it is down now, the sink's
            // retries wait for it, and serving goes on without it.
            if let Err(err) = projections::clickhouse::sink::migrate(&pool, &analytics).await {
                tracing::warn!(
                    error = projections::error_chain(&err),
                    "ClickHouse is not reachable at start; the analytics projection will retry"
                );
            }
            let config = projections::clickhouse::sink::SinkConfig {
                batch_events_max: args.clickhouse.clickhouse_batch_events_max,
                poll_interval_ms: args.projection_poll_interval_ms,
                retry_backoff_max_ms: args.clickhouse.clickhouse_retry_backoff_max_ms,
            };
            let sink = projections::clickhouse::ClickHouseSink::new(
                store.clone(),
                pool.clone(),
                analytics.clone(),
                config,
            )?;
            let stopped = stopped.clone();
            tasks.spawn(async move {
                sink.run(async move {
                    signalled(stopped).await;
                })
                .await;
                Ok(())
            });
        }
    }
    if runs(Role::Queries) {
        let config = queries::QueriesConfig {
            at_least_timeout_ms: args.at_least_timeout_ms,
            analytics: args.clickhouse.config(),
            ..queries::QueriesConfig::default()
        };
        let graphql = queries::router(pool.clone(), config);
        tasks.spawn(listen(
            "GraphQL",
            args.graphql_addr,
            graphql,
            stopped.clone(),
        ));
    }

    // Run until a signal, or until any part ends: a part that ends on its
    // own has failed, and the process must not limp on without it.
    let outcome = tokio::select! {
        () = shutdown_signal() => Ok(()),
        Some(ended) = tasks.join_next() => match ended {
            Ok(Ok(())) => Err(anyhow::anyhow!("a component stopped unexpectedly")),
            Ok(Err(err)) => Err(err),
            Err(err) => Err(anyhow::Error::new(err).context("a component panicked")),
        },
    };
    let _ = stop.send(true);
    while let Some(ended) = tasks.join_next().await {
        if let Ok(Err(err)) = ended {
            tracing::error!("{err:#}");
        }
    }
    outcome
}

async fn listen(
    name: &'static str,
    addr: SocketAddr,
    router: axum::Router,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the {name} to {addr}"))?;
    tracing::info!(%addr, "{name} listening");
    axum::serve(listener, router)
        .with_graceful_shutdown(signalled(stopped))
        .await
        .with_context(|| format!("serving the {name}"))
}

async fn signalled(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("interrupted, shutting down"),
        () = terminate => tracing::info!("terminated, shutting down"),
    }
}
