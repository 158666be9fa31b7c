//! `bench http`: drives a running `betledger serve` over its real HTTP APIs
//! (commands, Rinha, GraphQL) with N keep-alive connections, for a bounded
//! time, closed loop or at a fixed rate, and reports throughput, latency,
//! outcomes, projection lag and the server's peak RSS.

mod client;
mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use hyper::Method;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::mix::Mix;
use crate::report::{HttpReport, LagSummary, Latency, Output, Record};
use crate::rss;
use crate::schedule::{Schedule, RATE_MAX_PER_S};
// The box-office benchmark drives its own clients over the same connections,
// and `bench clickhouse` counts its tables' rows over one.
pub(crate) use client::{Conn, Endpoint};
use worker::{LagProbe, Shared, Worker, WorkerStats};

/// Most connections one run may open (per endpoint).
pub const CONNECTIONS_MAX: u32 = 1024;
/// Longest measured run, in seconds.
pub const DURATION_MAX_S: u64 = 3600;
/// Longest warm-up, in seconds.
pub const WARMUP_MAX_S: u64 = 600;
/// Most accounts a run opens.
pub const ACCOUNTS_MAX: u32 = 100_000;
/// Most connections the lag probes use.
const LAG_CONNECTIONS_MAX: u32 = 64;
/// Most connections that open accounts at once during setup.
const SETUP_CONNECTIONS_MAX: u32 = 32;
/// Delay between the end of setup and the first request, so that every
/// worker is spawned and waiting when the schedule starts.
const START_DELAY_MS: u64 = 50;
/// Longest wait for in-flight lag probes after the last request, in
/// seconds; the server's own `atLeast` wait is 2 s by default.
const LAG_DRAIN_MAX_S: u64 = 30;

#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Base URL of the command API (`/v1`).
    #[arg(
        long,
        env = "BENCH_COMMANDS_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub commands_url: String,
    /// Base URL of GraphQL (`/graphql`): balance reads and projection lag.
    #[arg(
        long,
        env = "BENCH_GRAPHQL_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub graphql_url: String,
    /// Base URL of the Rinha API (`/clientes/...`).
    #[arg(long, env = "BENCH_RINHA_URL", default_value = "http://127.0.0.1:9999")]
    pub rinha_url: String,
    /// Concurrent workers, each with its own keep-alive connection (one
    /// per endpoint it uses), each sending one request at a time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(CONNECTIONS_MAX)))]
    pub connections: u32,
    /// Measured time, in seconds, after the warm-up.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=DURATION_MAX_S))]
    pub duration_s: u64,
    /// Unmeasured load before the measured time, in seconds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=WARMUP_MAX_S))]
    pub warmup_s: u64,
    /// Requests per second to send on a fixed schedule (open loop; latency
    /// is measured from each request's scheduled time). Without it, each
    /// worker sends its next request as soon as the last one answered.
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// The operations and their weights: `wallet`, `rinha`, or e.g.
    /// `deposit=40,withdraw=40,hold=10,post=5,void=5,read=10`. Operations:
    /// deposit, withdraw, hold, post, void, read, rinha_credit,
    /// rinha_debit, statement.
    #[arg(long, default_value = "wallet", value_parser = Mix::parse)]
    pub mix: Mix,
    /// Accounts the run opens (and deposits into) before it starts, when
    /// the mix uses `/v1` accounts.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(ACCOUNTS_MAX)))]
    pub accounts: u32,
    /// What each account gets as its first deposit, in minor units.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000_000))]
    pub initial_deposit: i64,
    /// Largest amount of one operation, in minor units (drawn from 1 to it).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    pub amount_max: i64,
    /// Measure projection lag on every Nth accepted `/v1` command of each
    /// worker (0: never).
    #[arg(long, default_value_t = 20)]
    pub lag_sample_every: u64,
    /// Connections that measure projection lag, each one query at a time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=i64::from(LAG_CONNECTIONS_MAX)))]
    pub lag_connections: u32,
    /// The server's process id: its RSS is sampled from /proc while the
    /// run lasts, and its VmHWM read at the end.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Prefix of this run's account ids and idempotency keys (letters and
    /// digits); random when omitted, so runs never collide.
    #[arg(long)]
    pub run_id: Option<String>,
    /// A request with no answer after this long counts as failed.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub request_timeout_ms: u64,
    /// Longest the setup (opening accounts) may take, in seconds.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub setup_timeout_s: u64,
    #[command(flatten)]
    pub output: Output,
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of requests per second"))?;
    if !(rate > 0.0 && rate <= RATE_MAX_PER_S) {
        return Err(format!(
            "the rate must be above 0 and at most {RATE_MAX_PER_S}"
        ));
    }
    Ok(rate)
}

/// The endpoints of one server.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub commands: Endpoint,
    pub graphql: Endpoint,
    pub rinha: Endpoint,
    pub timeout: Duration,
}

pub async fn run(args: HttpArgs) -> anyhow::Result<()> {
    let endpoints = Endpoints {
        commands: Endpoint::parse(&args.commands_url)?,
        graphql: Endpoint::parse(&args.graphql_url)?,
        rinha: Endpoint::parse(&args.rinha_url)?,
        timeout: Duration::from_millis(args.request_timeout_ms),
    };
    let run_id = match &args.run_id {
        Some(id) => {
            anyhow::ensure!(
                !id.is_empty() && id.len() <= 16 && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "--run-id must be 1 to 16 letters or digits"
            );
            id.clone()
        }
        None => format!("{:08x}", fastrand::u32(..)),
    };
    let accounts: Vec<String> = if args.mix.uses_accounts() {
        (0..args.accounts)
            .map(|i| format!("b{run_id}-{i}"))
            .collect()
    } else {
        Vec::new()
    };
    let label = args.output.label_or("betledger");
    eprintln!(
        "bench http [{label}]: run {run_id}, mix {}, {} connections, {}, {} s after {} s of warm-up",
        args.mix,
        args.connections,
        args.rate
            .map_or("closed loop".to_owned(), |r| format!("{r:.0} requests/s")),
        args.duration_s,
        args.warmup_s
    );
    if !accounts.is_empty() {
        let started = Instant::now();
        let setup = open_accounts(&endpoints, &accounts, &run_id, args.initial_deposit);
        tokio::time::timeout(Duration::from_secs(args.setup_timeout_s), setup)
            .await
            .with_context(|| format!("opening accounts took over {} s", args.setup_timeout_s))??;
        eprintln!(
            "  opened {} accounts with {} each in {:.1} s",
            accounts.len(),
            args.initial_deposit,
            started.elapsed().as_secs_f64()
        );
    }

    let start = Instant::now() + Duration::from_millis(START_DELAY_MS);
    let measure_from = start + Duration::from_secs(args.warmup_s);
    let end = measure_from + Duration::from_secs(args.duration_s);
    let shared = Arc::new(Shared {
        schedule: Schedule::new(start, end, args.rate),
        measure_from,
        mix: args.mix.clone(),
        accounts,
        run_id: run_id.clone(),
        amount_max: args.amount_max,
        lag_sample_every: args.lag_sample_every,
    });

    let sampler = args.server_pid.map(rss::Sampler::spawn);
    let cpu =
        crate::cpu::spawn_window(measure_from, end, Some(std::process::id()), args.server_pid);
    let (probes, lag_sender) = spawn_lag_probes(&args, &endpoints)?;
    let mut workers = JoinSet::new();
    for id in 0..args.connections {
        let worker = Worker::new(id, shared.clone(), &endpoints, lag_sender.clone())?;
        workers.spawn(worker.run());
    }
    // The workers hold the only senders now: the probes stop once the
    // workers are done and the queued samples are measured.
    drop(lag_sender);

    let mut stats = WorkerStats::new()?;
    while let Some(joined) = workers.join_next().await {
        let worker_stats = joined.context("a worker panicked")??;
        stats.merge(&worker_stats)?;
    }
    let lag = collect_lag(probes, stats.lag_dropped).await?;
    let rss = match sampler {
        Some(sampler) => Some(sampler.stop().await),
        None => None,
    };

    let cpu = cpu.await.unwrap_or_default();
    let mut report = build_report(&args, label, run_id, &stats, lag, rss);
    report.cpu = cpu;
    print_report(&report);
    args.output.emit(&Record::Http(report))
}

/// Opens the run's accounts and makes their first deposit, over a few
/// connections at once. Any answer but success stops the run: a benchmark
/// on half-made accounts would measure the wrong thing.
async fn open_accounts(
    endpoints: &Endpoints,
    accounts: &[String],
    run_id: &str,
    deposit: i64,
) -> anyhow::Result<()> {
    let lanes = usize::try_from(SETUP_CONNECTIONS_MAX)
        .unwrap_or(1)
        .min(accounts.len())
        .max(1);
    let mut tasks = JoinSet::new();
    for lane in 0..lanes {
        let mine: Vec<String> = accounts.iter().skip(lane).step_by(lanes).cloned().collect();
        let mut conn = Conn::new(endpoints.commands.clone(), endpoints.timeout)?;
        let run_id = run_id.to_owned();
        tasks.spawn(async move {
            for account in mine {
                let open =
                    serde_json::json!({ "id": account, "currency": "EUR", "credit_limit": 0 });
                let key = format!("{run_id}-open-{account}");
                expect_status(&mut conn, "/v1/accounts".into(), &key, &open, 201).await?;
                let money = serde_json::json!({ "amount": deposit, "description": "bench seed" });
                let key = format!("{run_id}-seed-{account}");
                let path = format!("/v1/accounts/{account}/deposits");
                expect_status(&mut conn, path, &key, &money, 200).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a setup task panicked")??;
    }
    Ok(())
}

async fn expect_status(
    conn: &mut Conn,
    path: String,
    key: &str,
    body: &serde_json::Value,
    status: u16,
) -> anyhow::Result<()> {
    let body = Bytes::from(serde_json::to_vec(body)?);
    let response = conn
        .send(Method::POST, &path, Some(key), Some(body))
        .await
        .map_err(|e| anyhow::anyhow!("POST {path}: {}", e.reason()))?;
    anyhow::ensure!(
        response.status == status,
        "POST {path} answered {} (expected {status}): {}",
        response.status,
        String::from_utf8_lossy(&response.body)
    );
    Ok(())
}

type Probes = JoinSet<anyhow::Result<worker::ProbeStats>>;

fn spawn_lag_probes(
    args: &HttpArgs,
    endpoints: &Endpoints,
) -> anyhow::Result<(Probes, Option<mpsc::Sender<worker::LagSample>>)> {
    let mut probes = JoinSet::new();
    if args.lag_sample_every == 0 || !args.mix.uses_accounts() {
        return Ok((probes, None));
    }
    // One slot, shared by every probe: an idle probe takes a sample at
    // once; when all are busy, one sample waits and the next are dropped
    // (and counted), so no sample waits long in a queue, which would add
    // the wait to its lag.
    let (tx, rx) = mpsc::channel(1);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..args.lag_connections {
        let conn = Conn::new(endpoints.graphql.clone(), endpoints.timeout)?;
        probes.spawn(LagProbe::new(conn, rx.clone())?.run());
    }
    Ok((probes, Some(tx)))
}

async fn collect_lag(mut probes: Probes, dropped: u64) -> anyhow::Result<Option<LagSummary>> {
    if probes.is_empty() {
        return Ok(None);
    }
    let mut latency = Latency::new()?;
    let (mut timeouts, mut errors) = (0, 0);
    let drain = async {
        while let Some(joined) = probes.join_next().await {
            let probe = joined.context("a lag probe panicked")??;
            latency.merge(&probe.lag)?;
            timeouts += probe.timeouts;
            errors += probe.errors;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(LAG_DRAIN_MAX_S), drain)
        .await
        .context("the lag probes did not finish")??;
    let summary = latency.summary();
    Ok(Some(LagSummary {
        samples: summary.count,
        dropped,
        timeouts,
        errors,
        p50_ms: summary.p50_ms,
        p99_ms: summary.p99_ms,
        max_ms: summary.max_ms,
    }))
}

fn build_report(
    args: &HttpArgs,
    label: String,
    run_id: String,
    stats: &WorkerStats,
    lag: Option<LagSummary>,
    rss: Option<rss::Peak>,
) -> HttpReport {
    let seconds = args.duration_s as f64;
    let per_op: BTreeMap<String, _> = crate::mix::Op::ALL
        .iter()
        .filter(|op| stats.per_op[op.index()].count() > 0)
        .map(|op| (op.name().to_owned(), stats.per_op[op.index()].summary()))
        .collect();
    let mb = |kb: u64| kb as f64 / 1024.0;
    HttpReport {
        label,
        run_id,
        unix_time_s: crate::report::unix_time_s(),
        mix: args.mix.to_string(),
        connections: args.connections,
        rate_target_per_s: args.rate,
        duration_s: args.duration_s,
        warmup_s: args.warmup_s,
        accounts: if args.mix.uses_accounts() {
            args.accounts
        } else {
            0
        },
        commands_per_s: stats.commands as f64 / seconds,
        requests_per_s: stats.requests as f64 / seconds,
        requests: stats.requests,
        commands: stats.commands,
        ok: stats.ok,
        rejected: stats.rejected,
        failed: stats.failed,
        rejected_by_code: stats.rejected_by_code.clone(),
        failed_by_reason: stats.failed_by_reason.clone(),
        latency: stats.latency.summary(),
        per_op,
        lag,
        server_rss_peak_mb: rss.and_then(|p| p.rss_kb).map(mb),
        server_vm_hwm_mb: rss.and_then(|p| p.hwm_kb).map(mb),
        cpu: None,
    }
}

fn print_report(r: &HttpReport) {
    println!("bench http [{}] run {}", r.label, r.run_id);
    println!(
        "  commands/s    {:.1}   (requests/s {:.1}, {} requests in {} s)",
        r.commands_per_s, r.requests_per_s, r.requests, r.duration_s
    );
    println!("  latency       {}", r.latency.line());
    for (op, latency) in &r.per_op {
        println!("    {op:<13} {}", latency.line());
    }
    let codes: Vec<String> = r
        .rejected_by_code
        .iter()
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    println!(
        "  outcomes      ok {}, rejected {}{}, failed {}",
        r.ok,
        r.rejected,
        if codes.is_empty() {
            String::new()
        } else {
            format!(" ({})", codes.join(", "))
        },
        r.failed
    );
    if r.failed > 0 {
        let reasons: Vec<String> = r
            .failed_by_reason
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        println!(
            "  FAILED        {} requests failed (must be 0): {}",
            r.failed,
            reasons.join("; ")
        );
    }
    if let Some(lag) = &r.lag {
        println!(
            "  projection lag p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples, {} dropped, {} timeouts, {} errors)",
            lag.p50_ms, lag.p99_ms, lag.max_ms, lag.samples, lag.dropped, lag.timeouts, lag.errors
        );
    }
    if let Some(cpu) = &r.cpu {
        println!("  cpu           {}", cpu.line());
    }
    if r.server_rss_peak_mb.is_some() || r.server_vm_hwm_mb.is_some() {
        println!(
            "  server RSS    peak sampled {} MB, VmHWM {} MB",
            r.server_rss_peak_mb
                .map_or("?".into(), |m| format!("{m:.1}")),
            r.server_vm_hwm_mb.map_or("?".into(), |m| format!("{m:.1}"))
        );
    }
}
