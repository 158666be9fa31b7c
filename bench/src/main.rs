//! `bench`: the benchmark harness (issue 3, `docs/benchmarks.md`).
//!
//! - `http`: load on a running `betledger serve` over its real HTTP APIs.
//! - `baseline init|run`: the per-request design under pgbench, same mix.
//! - `replay`: rebuilding the balances projection from a large log.
//! - `rebuild`: `replay-tools rebuild` and `verify` on a large log.
//! - `clickhouse`: the analytics projection's ingest and report latency.
//! - `batch-sizes`: the writer's batch sizes, from a server log.
//! - `summary`: the tables of `docs/benchmarks.md` from a results file.
//!
//! `scripts/bench` runs them all in order; each also runs on its own.

// The settlement benchmark runs the server's settlement code in this
// process; it gets the server's allocator too (src/main.rs says why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod baseline;
mod batches;
mod box_office;
mod clickhouse;
mod cpu;
mod db;
mod http;
mod mix;
mod rebuild;
mod replay;
mod report;
mod rss;
mod schedule;
mod settlement;
mod summary;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bench",
    version,
    about = "Benchmarks betledger against a per-request baseline; see docs/benchmarks.md."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drives a running `betledger serve` over HTTP with N keep-alive
    /// connections for a bounded time, and reports commands/s, latency
    /// percentiles, rejected vs failed, projection lag and peak RSS.
    Http(Box<http::HttpArgs>),
    /// The baseline: one PL/pgSQL function per operation with a row lock,
    /// one transaction per request, driven by pgbench.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
    /// Fills a fresh database with wallet events and times the balances
    /// projection replaying them from position 0.
    Replay(Box<replay::ReplayArgs>),
    /// Fills a fresh database with wallet events and times `replay-tools
    /// rebuild balances`, `rebuild statements` and `verify` on it.
    Rebuild(Box<rebuild::RebuildArgs>),
    /// Fills a fresh database with one closed market of N bets and times
    /// the settlement process settling them all.
    Settlement(Box<settlement::SettlementArgs>),
    /// The hot-show case: N clients reserving seats at one show over the
    /// HTTP API of a running server, against the same clients' deposits.
    BoxOffice(Box<box_office::BoxOfficeArgs>),
    /// Ingest rate of the ClickHouse projection and each report's latency
    /// over a large fact table (10M postings by default).
    Clickhouse(Box<clickhouse::ClickHouseArgs>),
    /// Summarises the writer's batch sizes from a server log (run the
    /// server with RUST_LOG=info,commands=debug).
    BatchSizes(batches::BatchSizesArgs),
    /// Prints the results tables (rounds, medians, ratio, targets) from a
    /// results file.
    Summary(summary::SummaryArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let outcome = match Cli::parse().command {
        Command::Http(args) => http::run(*args).await,
        Command::Baseline(command) => baseline::run(command).await,
        Command::Replay(args) => replay::run(*args).await,
        Command::Rebuild(args) => rebuild::run(*args).await,
        Command::Settlement(args) => settlement::run(*args).await,
        Command::BoxOffice(args) => box_office::run(*args).await,
        Command::Clickhouse(args) => clickhouse::run(*args).await,
        Command::BatchSizes(args) => batches::run(args),
        Command::Summary(args) => summary::run(args),
    };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
