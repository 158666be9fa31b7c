//! `replay-tools`: auditors' and operators' view of the event log, built from
//! the events alone: `verify` the hash chains and the books, `export` and
//! `import` the log byte for byte, an account `as-of` a past moment, `tail`
//! the live log, `stats` on the log and the projections' lag, and `rebuild`
//! a projection into fresh tables swapped in at the end.

mod as_of;
mod chain;
mod db;
mod error;
mod export;
mod import;
mod line;
mod output;
mod progress;
mod rebuild;
mod stats;
mod tail;
mod verify;
mod wallet_events;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::Error;
use ledger::error_chain;

#[derive(Parser)]
#[command(
    name = "replay-tools",
    version,
    about = "Audit and rebuild betledger from its event log."
)]
struct Cli {
    /// Postgres holding the event store.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/betledger",
        global = true
    )]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Walks every stream's hash chain, checks that the balances of all
    /// accounts, system accounts included, sum to exactly zero, and compares
    /// a replay in memory with each read model, account by account.
    Verify(verify::Args),
    /// Writes the log to standard output as NDJSON, one event per line with
    /// every stored field, from one consistent snapshot.
    Export(export::Args),
    /// Loads an export file into an empty store, byte for byte, after
    /// verifying its hash chains; refuses a file that does not verify.
    Import(import::Args),
    /// An account's balance, open holds and latest postings at a past
    /// moment, from the events alone.
    AsOf(as_of::Args),
    /// Follows the log live, one event per line (JSON), until Ctrl-C.
    Tail(tail::Args),
    /// Events per type, streams, positions, size on disk and each
    /// projection's checkpoint and lag.
    Stats(stats::Args),
    /// Replays a projection from position 0 into fresh tables while the
    /// live ones keep serving, then swaps them in; goes on where a stopped
    /// run left off.
    Rebuild(rebuild::Args),
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let url = &cli.database_url;
    let result = match &cli.command {
        Command::Verify(args) => verify::run(url, args).await,
        Command::Export(args) => export::run(url, args).await,
        Command::Import(args) => import::run(url, args).await,
        Command::AsOf(args) => as_of::run(url, args).await,
        Command::Tail(args) => tail::run(url, args).await,
        Command::Stats(args) => stats::run(url, args).await,
        Command::Rebuild(args) => rebuild::run(url, args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            report(&err);
            ExitCode::FAILURE
        }
    }
}

fn report(err: &Error) {
    eprintln!("replay-tools: {}", error_chain(err));
}
