//! `bench rebuild`: how fast `replay-tools rebuild` and `replay-tools
//! verify` go over a large log. Fills a fresh database as `bench replay`
//! does (the real domain and store), then runs the release `replay-tools`
//! binary, as an operator would: `rebuild balances`, `rebuild statements`
//! (once per batch size asked for, each from position 0 with `--restart`)
//! and `verify`, and reports the rates each printed (`--json`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger::store::{PgEventStore, MIGRATOR};
use sqlx::PgPool;

use crate::db;
use crate::replay::{drop_database, fill, LogShape, DEFAULT_URL};
use crate::report::{Output, RebuildReport, RebuildRun, Record};

/// Most batch sizes one run tries.
const RUNS_MAX: usize = 4;
/// Connections the harness holds itself (the tools have their own).
const POOL_CONNECTIONS: u32 = 2;
/// The rebuild rate issue 4 asks of the balances projection.
const BALANCES_TARGET_EVENTS_PER_S: f64 = 300_000.0;

#[derive(Debug, Clone, clap::Args)]
pub struct RebuildArgs {
    /// A database for the run; it is dropped and created.
    #[arg(long, env = "BENCH_REPLAY_URL", default_value = DEFAULT_URL)]
    pub database_url: String,
    #[command(flatten)]
    pub log: LogShape,
    /// `--batch-events-max` of each rebuild; one pair of rebuilds per
    /// value, comma-separated (100000 is the tool's default and its
    /// limit).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    pub batch_events_max: Vec<u32>,
    /// The `replay-tools` binary to run. Default: the one next to this
    /// binary (build both: `cargo build --release -p bench -p replay-tools`).
    #[arg(long, env = "BENCH_REPLAY_TOOLS")]
    pub replay_tools: Option<PathBuf>,
    /// Keep the database afterwards (it is emptied otherwise).
    #[arg(long)]
    pub keep: bool,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=7200))]
    pub timeout_s: u64,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(args: RebuildArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=RUNS_MAX).contains(&args.batch_events_max.len()),
        "--batch-events-max takes 1 to {RUNS_MAX} batch sizes"
    );
    let tool = tool_path(args.replay_tools.clone())?;
    let options = db::options(&args.database_url)?;
    db::recreate(&options).await?;
    let pool = db::pool(&options, POOL_CONNECTIONS).await?;
    let outcome = tokio::time::timeout(
        Duration::from_secs(args.timeout_s),
        measure(&args, &tool, pool.clone()),
    )
    .await
    .with_context(|| format!("the rebuild run took over {} s", args.timeout_s));
    pool.close().await;
    if !args.keep {
        drop_database(&options).await;
    }
    let report = outcome??;
    print_report(&report);
    args.output.emit(&Record::Rebuild(report))
}

fn tool_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let path = match given {
        Some(path) => path,
        None => std::env::current_exe()
            .context("finding this binary")?
            .with_file_name("replay-tools"),
    };
    anyhow::ensure!(
        path.is_file(),
        "{} not found: build it (cargo build --release -p replay-tools) or pass --replay-tools",
        path.display()
    );
    Ok(path)
}

async fn measure(
    args: &RebuildArgs,
    tool: &PathBuf,
    pool: PgPool,
) -> anyhow::Result<RebuildReport> {
    let settings = db::settings(&pool).await?;
    db::check_durable(&settings)?;
    MIGRATOR
        .run(&pool)
        .await
        .context("migrating the rebuild database")?;
    eprintln!(
        "bench rebuild: writing {} events over {} wallets, {} per transaction",
        args.log.events, args.log.accounts, args.log.append_events
    );
    let started = Instant::now();
    let written = fill(&PgEventStore::new(pool.clone()), &args.log).await?;
    let fill_s = started.elapsed().as_secs_f64();
    eprintln!("  wrote {written} events in {fill_s:.1} s; vacuuming");
    // As in `bench replay`: a live log has been vacuumed; a rebuild should
    // not pay for the bulk load's first read.
    sqlx::query("VACUUM ANALYZE events, commands")
        .execute(&pool)
        .await
        .context("vacuuming the events")?;

    let mut runs = Vec::new();
    for &batch in &args.batch_events_max {
        for projection in ["balances", "statements"] {
            eprintln!("  replay-tools rebuild {projection} --restart --batch-events-max {batch}");
            let batch_arg = batch.to_string();
            let out = tool_json(
                tool,
                &args.database_url,
                &[
                    "rebuild",
                    projection,
                    "--restart",
                    "--batch-events-max",
                    &batch_arg,
                    "--json",
                ],
            )
            .await?;
            anyhow::ensure!(
                out["ended"] == "swapped",
                "rebuild {projection} did not swap: {out}"
            );
            runs.push(RebuildRun {
                projection: projection.to_owned(),
                batch_events_max: batch,
                events: number(&out, "events")? as u64,
                seconds: number(&out, "seconds")?,
                events_per_s: number(&out, "events_per_s")?,
            });
        }
    }
    eprintln!("  replay-tools verify");
    let verified = tool_json(tool, &args.database_url, &["verify", "--json"]).await?;
    Ok(RebuildReport {
        label: args.output.label_or("rebuild"),
        unix_time_s: crate::report::unix_time_s(),
        events: written,
        accounts: args.log.accounts,
        fill_s,
        runs,
        verify_events: number(&verified, "events")? as u64,
        verify_s: number(&verified, "seconds")?,
        verify_events_per_s: number(&verified, "events_per_s")?,
    })
}

/// Runs the tool and reads the JSON document it prints; its progress bars
/// are hidden, since its standard error is not a terminal here.
async fn tool_json(tool: &PathBuf, url: &str, args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let output = tokio::process::Command::new(tool)
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .await
        .with_context(|| format!("running {}", tool.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "replay-tools {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout)
        .with_context(|| format!("replay-tools {} printed no JSON document", args.join(" ")))
}

fn number(document: &serde_json::Value, field: &str) -> anyhow::Result<f64> {
    document[field]
        .as_f64()
        .with_context(|| format!("no number {field} in {document}"))
}

fn print_report(r: &RebuildReport) {
    println!(
        "bench rebuild [{}]: {} events over {} wallets (filled in {:.1} s)",
        r.label, r.events, r.accounts, r.fill_s
    );
    for run in &r.runs {
        let target = if run.projection == "balances" {
            let met = if run.events_per_s >= BALANCES_TARGET_EVENTS_PER_S {
                "met"
            } else {
                "missed"
            };
            format!("  (target ≥ {BALANCES_TARGET_EVENTS_PER_S:.0}: {met})")
        } else {
            String::new()
        };
        println!(
            "  rebuild {:<10}  {:>9.0} events/s: {} events in {:.2} s, batches of {}{target}",
            run.projection, run.events_per_s, run.events, run.seconds, run.batch_events_max
        );
    }
    println!(
        "  verify              {:>9.0} events/s: {} events in {:.2} s (chains, sums, both read models)",
        r.verify_events_per_s, r.verify_events, r.verify_s
    );
}
