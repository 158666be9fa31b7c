//! `bench baseline`: the per-request design betledger is measured against
//! (one PL/pgSQL function per operation, row lock, one transaction per
//! request; `bench/baseline/schema.sql`), driven by pgbench with the same
//! clients, accounts and operation mix as a `bench http` run.
//!
//! pgbench writes one log line per transaction; the harness reads them to
//! measure the same window as `bench http` (after the warm-up) and the same
//! latency percentiles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;

use crate::db;
use crate::mix::{Mix, Op};
use crate::report::{BaselineReport, Latency, Output, Record};

/// The schema and functions of the baseline.
const SCHEMA: &str = include_str!("../baseline/schema.sql");

/// pgbench's scripts, one per operation (see `Op::baseline_script`).
const SCRIPTS: [(&str, &str); 6] = [
    ("deposit.sql", include_str!("../baseline/deposit.sql")),
    ("withdraw.sql", include_str!("../baseline/withdraw.sql")),
    ("hold.sql", include_str!("../baseline/hold.sql")),
    ("post.sql", include_str!("../baseline/post.sql")),
    ("void.sql", include_str!("../baseline/void.sql")),
    ("read.sql", include_str!("../baseline/read.sql")),
];

/// Time pgbench gets beyond its own `-T` to connect and finish, in seconds.
const PGBENCH_GRACE_S: u64 = 120;
/// Most pgbench threads.
const THREADS_MAX: u32 = 64;
/// Most log lines read from one run's pgbench logs (an hour at ~28k/s).
const LOG_LINES_MAX: usize = 100_000_000;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/betledger_baseline";

#[derive(Debug, Clone, Subcommand)]
pub enum BaselineCommand {
    /// Drops and creates the baseline database, loads its schema and
    /// functions, and opens the accounts (acc-1 .. acc-N, each with one
    /// deposit), as `bench http` does for its run.
    Init(InitArgs),
    /// Runs pgbench on the baseline database with the mix's scripts and
    /// reports the measured window.
    Run(RunArgs),
}

#[derive(Debug, Clone, clap::Args)]
pub struct InitArgs {
    /// The baseline's database; it is dropped and created.
    #[arg(long, env = "BENCH_BASELINE_URL", default_value = DEFAULT_URL)]
    pub database_url: String,
    /// Accounts to open.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::http::ACCOUNTS_MAX)))]
    pub accounts: u32,
    /// Each account's first deposit, in minor units.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000_000))]
    pub initial_deposit: i64,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The baseline's database, made by `bench baseline init`.
    #[arg(long, env = "BENCH_BASELINE_URL", default_value = DEFAULT_URL)]
    pub database_url: String,
    /// pgbench clients (-c): one connection each, one transaction at a time.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::http::CONNECTIONS_MAX)))]
    pub connections: u32,
    /// pgbench threads (-j); at most the clients.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=i64::from(THREADS_MAX)))]
    pub threads: u32,
    /// Measured time, in seconds, after the warm-up.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=crate::http::DURATION_MAX_S))]
    pub duration_s: u64,
    /// Unmeasured load before the measured time, in seconds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=crate::http::WARMUP_MAX_S))]
    pub warmup_s: u64,
    /// The operations and their weights (wallet operations only).
    #[arg(long, default_value = "wallet", value_parser = Mix::parse)]
    pub mix: Mix,
    /// Accounts the operations draw from: the number `init` opened.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::http::ACCOUNTS_MAX)))]
    pub accounts: u32,
    /// Largest amount of one operation, in minor units.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..=1_000_000_000))]
    pub amount_max: i64,
    /// The pgbench program.
    #[arg(long, env = "PGBENCH", default_value = "pgbench")]
    pub pgbench: PathBuf,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(command: BaselineCommand) -> anyhow::Result<()> {
    match command {
        BaselineCommand::Init(args) => init(args).await,
        BaselineCommand::Run(args) => run_pgbench(args).await,
    }
}

async fn init(args: InitArgs) -> anyhow::Result<()> {
    let options = db::options(&args.database_url)?;
    db::recreate(&options).await?;
    let pool = db::pool(&options, 1).await?;
    sqlx::raw_sql(SCHEMA)
        .execute(&pool)
        .await
        .context("loading bench/baseline/schema.sql")?;
    let accounts = i32::try_from(args.accounts).context("too many accounts")?;
    sqlx::query("SELECT bl_seed($1, $2)")
        .bind(accounts)
        .bind(args.initial_deposit)
        .execute(&pool)
        .await
        .context("opening the baseline's accounts")?;
    sqlx::query("VACUUM ANALYZE")
        .execute(&pool)
        .await
        .context("vacuuming the baseline database")?;
    pool.close().await;
    println!(
        "bench baseline init: {} accounts with {} each in {}",
        args.accounts,
        args.initial_deposit,
        db::disposable_name(&options)?
    );
    Ok(())
}

async fn run_pgbench(args: RunArgs) -> anyhow::Result<()> {
    let scripts = args.mix.baseline_scripts().map_err(anyhow::Error::msg)?;
    let options = db::options(&args.database_url)?;
    let pool = db::pool(&options, 1).await?;
    let settings = db::settings(&pool).await?;
    db::check_durable(&settings)?;
    let (opened,): (i64,) = sqlx::query_as("SELECT count(*) FROM accounts")
        .fetch_one(&pool)
        .await
        .context("counting the baseline's accounts (run `bench baseline init` first)")?;
    anyhow::ensure!(
        opened == i64::from(args.accounts),
        "the baseline database has {opened} accounts, not {}: run `bench baseline init --accounts {}`",
        args.accounts,
        args.accounts
    );
    pool.close().await;

    let dir = std::env::temp_dir().join(format!("bench-baseline-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = pgbench_in(&args, &scripts, &dir, settings).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    print_report(&report);
    args.output.emit(&Record::Baseline(report))
}

async fn pgbench_in(
    args: &RunArgs,
    scripts: &[(&'static str, u32)],
    dir: &Path,
    settings: Vec<(String, String)>,
) -> anyhow::Result<BaselineReport> {
    let mut command = tokio::process::Command::new(&args.pgbench);
    let seconds = args.warmup_s + args.duration_s;
    command
        .args(["-n", "-M", "prepared"])
        .args(["-c", &args.connections.to_string()])
        .args(["-j", &args.threads.min(args.connections).to_string()])
        .args(["-T", &seconds.to_string()])
        .args(["-D", &format!("accounts={}", args.accounts)])
        .args(["-D", &format!("amount_max={}", args.amount_max)])
        // post.sql and void.sql start with no pending hold.
        .args(["-D", "hold_pending=0", "-D", "hold_id=0"])
        .arg("-l")
        .arg(format!("--log-prefix={}", dir.join("pgbench").display()));
    for (name, weight) in scripts {
        let text = SCRIPTS
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
            .with_context(|| format!("no script {name}"))?;
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        command
            .arg("-f")
            .arg(format!("{}@{weight}", path.display()));
    }
    command
        .arg(&args.database_url)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    eprintln!(
        "bench baseline run: pgbench, mix {}, {} clients, {} s after {} s of warm-up",
        args.mix, args.connections, args.duration_s, args.warmup_s
    );
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = command
        .spawn()
        .with_context(|| format!("running {} (is it installed?)", args.pgbench.display()))?;
    // pgbench measures from its clients' first connection, a moment after
    // this; the CPU window is the warm-up's end to the run's end, roughly.
    let from = std::time::Instant::now() + Duration::from_secs(args.warmup_s);
    let cpu = crate::cpu::spawn_window(
        from,
        from + Duration::from_secs(args.duration_s),
        child.id(),
        None,
    );
    let output = tokio::time::timeout(
        Duration::from_secs(seconds + PGBENCH_GRACE_S),
        child.wait_with_output(),
    )
    .await
    .context("pgbench did not finish in time")?
    .context("waiting for pgbench")?;
    let cpu = cpu.await.unwrap_or_default();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "pgbench failed ({}):\n{stderr}\n{stdout}",
        output.status
    );

    let ops: Vec<Op> = scripts
        .iter()
        .filter_map(|(name, _)| {
            Op::ALL
                .into_iter()
                .find(|op| op.baseline_script() == Some(name))
        })
        .collect();
    let window = measure_logs(dir, &ops, args.warmup_s, args.duration_s)?;
    let seconds = args.duration_s as f64;
    Ok(BaselineReport {
        label: args.output.label_or("baseline"),
        unix_time_s: crate::report::unix_time_s(),
        mix: args.mix.to_string(),
        connections: args.connections,
        threads: args.threads.min(args.connections),
        duration_s: args.duration_s,
        warmup_s: args.warmup_s,
        accounts: args.accounts,
        tps: window.transactions as f64 / seconds,
        commands_per_s: window.commands as f64 / seconds,
        pgbench_tps: pgbench_tps(&stdout),
        transactions: window.transactions,
        failed: window.failed + pgbench_failed(&stdout).unwrap_or(0),
        latency: window.latency.summary(),
        per_op: window
            .per_op
            .iter()
            .map(|(op, l)| (op.name().to_owned(), l.summary()))
            .collect(),
        settings: settings.into_iter().collect(),
        cpu,
    })
}

/// One line of a pgbench transaction log (`-l`): `client_id
/// transaction_no time script_no time_epoch time_us ...`, where `time` is
/// the latency in microseconds, or `failed` / `skipped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLine {
    pub script: usize,
    /// None when the transaction failed or was skipped.
    pub latency_us: Option<u64>,
    /// When it ended, in microseconds since the epoch.
    pub end_us: u64,
}

pub fn parse_log_line(line: &str) -> Option<LogLine> {
    let mut fields = line.split_ascii_whitespace();
    let _client = fields.next()?;
    let _transaction = fields.next()?;
    let time = fields.next()?;
    let script = fields.next()?.parse().ok()?;
    let epoch_s: u64 = fields.next()?.parse().ok()?;
    let epoch_us: u64 = fields.next()?.parse().ok()?;
    Some(LogLine {
        script,
        latency_us: time.parse().ok(),
        end_us: epoch_s.checked_mul(1_000_000)?.checked_add(epoch_us)?,
    })
}

struct Window {
    transactions: u64,
    commands: u64,
    failed: u64,
    latency: Latency,
    per_op: BTreeMap<Op, Latency>,
}

/// Counts the transactions that started in the measured window: from the
/// first transaction's start plus the warm-up, for `duration_s`.
fn measure_logs(dir: &Path, ops: &[Op], warmup_s: u64, duration_s: u64) -> anyhow::Result<Window> {
    let mut lines = Vec::new();
    let entries = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("pgbench."));
        if !is_log {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        lines.extend(text.lines().take(LOG_LINES_MAX).filter_map(parse_log_line));
    }
    anyhow::ensure!(!lines.is_empty(), "pgbench wrote no transaction log");
    let start = |l: &LogLine| l.end_us.saturating_sub(l.latency_us.unwrap_or(0));
    let first = lines.iter().map(start).min().unwrap_or(0);
    let from = first + warmup_s * 1_000_000;
    let to = from + duration_s * 1_000_000;
    let mut window = Window {
        transactions: 0,
        commands: 0,
        failed: 0,
        latency: Latency::new()?,
        per_op: BTreeMap::new(),
    };
    for line in lines.iter().filter(|l| (from..to).contains(&start(l))) {
        let op = ops.get(line.script).copied().unwrap_or(Op::Deposit);
        let Some(latency) = line.latency_us else {
            window.failed += 1;
            continue;
        };
        window.transactions += 1;
        if op.is_command() {
            window.commands += 1;
        }
        window.latency.record_micros(latency);
        match window.per_op.get_mut(&op) {
            Some(l) => l.record_micros(latency),
            None => {
                let mut l = Latency::new()?;
                l.record_micros(latency);
                window.per_op.insert(op, l);
            }
        }
    }
    Ok(window)
}

/// `tps = 5574.32 (without initial connection time)`.
fn pgbench_tps(stdout: &str) -> Option<f64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// `number of failed transactions: 0 (0.000%)`.
fn pgbench_failed(stdout: &str) -> Option<u64> {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn print_report(r: &BaselineReport) {
    println!("bench baseline [{}]", r.label);
    println!(
        "  TPS           {:.1}   (commands/s {:.1}; pgbench's own figure, warm-up included: {})",
        r.tps,
        r.commands_per_s,
        r.pgbench_tps.map_or("?".into(), |t| format!("{t:.1}"))
    );
    println!("  latency       {}", r.latency.line());
    for (op, latency) in &r.per_op {
        println!("    {op:<13} {}", latency.line());
    }
    println!("  failed        {}", r.failed);
    if let Some(cpu) = &r.cpu {
        println!("  cpu           {}", cpu.line());
    }
    let settings: Vec<String> = r.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("  postgres      {}", settings.join(", "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_log_lines_are_parsed() {
        assert_eq!(
            parse_log_line("1 2 2404 0 1795419103 892018"),
            Some(LogLine {
                script: 0,
                latency_us: Some(2404),
                end_us: 1_795_419_103_892_018
            })
        );
        assert_eq!(
            parse_log_line("3 9 failed 4 1795419103 1"),
            Some(LogLine {
                script: 4,
                latency_us: None,
                end_us: 1_795_419_103_000_001
            })
        );
        assert_eq!(parse_log_line("garbage"), None);
    }

    #[test]
    fn pgbench_summary_lines_are_read() {
        let stdout = "number of failed transactions: 3 (0.011%)\nlatency average = 11.481 ms\n\
                      tps = 5574.323416 (without initial connection time)\n";
        assert_eq!(pgbench_tps(stdout), Some(5574.323416));
        assert_eq!(pgbench_failed(stdout), Some(3));
    }

    #[test]
    fn every_wallet_operation_has_its_script_embedded() {
        for op in Op::ALL {
            if let Some(script) = op.baseline_script() {
                assert!(SCRIPTS.iter().any(|(n, _)| *n == script), "{script}");
            }
        }
    }
}
