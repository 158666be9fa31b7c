//! What runs report: latency histograms, the records every subcommand
//! writes (one JSON line each), and where they go.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::cpu::CpuUsage;

/// Significant decimal digits the latency histograms keep (0.1 % error).
const LATENCY_SIGFIG: u8 = 3;

/// A latency histogram in microseconds.
#[derive(Debug, Clone)]
pub struct Latency(Histogram<u64>);

impl Latency {
    pub fn new() -> anyhow::Result<Self> {
        // Auto-resizing: no bound to pick, and merging never fails on range.
        Ok(Self(
            Histogram::new(LATENCY_SIGFIG).context("creating a latency histogram")?,
        ))
    }

    pub fn record(&mut self, elapsed: Duration) {
        self.record_micros(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn record_micros(&mut self, micros: u64) {
        // `record` grows the histogram as needed (`saturating_record` would
        // clamp to its current range instead); a value too large even for
        // growth is clamped.
        let value = micros.max(1);
        if self.0.record(value).is_err() {
            self.0.saturating_record(value);
        }
    }

    pub fn merge(&mut self, other: &Latency) -> anyhow::Result<()> {
        self.0.add(&other.0).context("merging latency histograms")
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    pub fn summary(&self) -> LatencySummary {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if self.0.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.0.len(),
            p50_ms: ms(self.0.value_at_quantile(0.50)),
            p90_ms: ms(self.0.value_at_quantile(0.90)),
            p99_ms: ms(self.0.value_at_quantile(0.99)),
            p999_ms: ms(self.0.value_at_quantile(0.999)),
            max_ms: ms(self.0.max()),
            mean_ms: self.0.mean() / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    pub fn line(&self) -> String {
        format!(
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms (n = {})",
            self.p50_ms, self.p90_ms, self.p99_ms, self.p999_ms, self.max_ms, self.count
        )
    }
}

/// Projection lag: from a command's acknowledgement to the moment GraphQL
/// with `atLeast: position` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    /// Samples measured (in the measurement window).
    pub samples: u64,
    /// Samples not measured because every lag connection was busy.
    pub dropped: u64,
    /// Queries that answered `projection_behind` (the server's `atLeast`
    /// wait ran out); counted in the percentiles with the time they took.
    pub timeouts: u64,
    /// Queries that failed otherwise.
    pub errors: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// One `bench http` run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpReport {
    pub label: String,
    pub run_id: String,
    pub unix_time_s: u64,
    pub mix: String,
    pub connections: u32,
    pub rate_target_per_s: Option<f64>,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub accounts: u32,
    /// Commands (writes) completed per second of the measurement window.
    pub commands_per_s: f64,
    /// Requests of every kind completed per second.
    pub requests_per_s: f64,
    pub requests: u64,
    pub commands: u64,
    pub ok: u64,
    pub rejected: u64,
    pub failed: u64,
    pub rejected_by_code: BTreeMap<String, u64>,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub latency: LatencySummary,
    pub per_op: BTreeMap<String, LatencySummary>,
    pub lag: Option<LagSummary>,
    /// Highest VmRSS seen while sampling the server during the run.
    pub server_rss_peak_mb: Option<f64>,
    /// The server's VmHWM at the end: its peak RSS since it started.
    pub server_vm_hwm_mb: Option<f64>,
    /// Cores busy during the measured window.
    #[serde(default)]
    pub cpu: Option<CpuUsage>,
}

/// One `bench baseline run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub label: String,
    pub unix_time_s: u64,
    pub mix: String,
    pub connections: u32,
    pub threads: u32,
    pub duration_s: u64,
    pub warmup_s: u64,
    pub accounts: u32,
    /// Transactions completed per second of the measurement window.
    pub tps: f64,
    /// Of which commands (writes).
    pub commands_per_s: f64,
    /// pgbench's own figure, over the whole run (warm-up included).
    pub pgbench_tps: Option<f64>,
    pub transactions: u64,
    pub failed: u64,
    pub latency: LatencySummary,
    pub per_op: BTreeMap<String, LatencySummary>,
    /// fsync, synchronous_commit, ... as the server reported them.
    pub settings: BTreeMap<String, String>,
    /// Cores busy during the measured window (the client is pgbench).
    #[serde(default)]
    pub cpu: Option<CpuUsage>,
}

/// One `bench replay`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    pub label: String,
    pub unix_time_s: u64,
    /// `balances` or `statements`.
    #[serde(default)]
    pub projection: String,
    pub events: u64,
    pub accounts: u32,
    pub fill_s: f64,
    pub fill_events_per_s: f64,
    pub batch_events_max: usize,
    pub steps: u64,
    pub replay_s: f64,
    /// Events read and applied per second, from position 0 to idle.
    pub events_per_s: f64,
    /// Reading alone (`read_log` pages, no projection), for comparison.
    pub read_only_events_per_s: Option<f64>,
}

/// A market's settlement (`bench settlement`), with the time the same bets
/// took to place as its baseline.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SettlementReport {
    pub label: String,
    pub unix_time_s: u64,
    pub bets: u64,
    pub accounts: u64,
    pub chunk_bets_max: u64,
    /// Whether the settler's cache held the market and the wallets.
    #[serde(default)]
    pub warm: bool,
    pub place_s: f64,
    pub place_bets_per_s: f64,
    pub settle_s: f64,
    pub settle_bets_per_s: f64,
    #[serde(default)]
    pub place_cpu: PhaseCpu,
    #[serde(default)]
    pub settle_cpu: PhaseCpu,
}

/// CPU seconds a phase cost the bench process and Postgres. Unlike its
/// wall time, this hardly moves when other work shares the machine, and it
/// bounds the rate: `bets / (cpu_s / cores)` is the most the phase could
/// reach with every core busy on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseCpu {
    pub process_s: Option<f64>,
    pub postgres_s: Option<f64>,
}

impl PhaseCpu {
    pub fn line(&self, bets: u64, cores: usize) -> Option<String> {
        let (process, postgres) = (self.process_s?, self.postgres_s?);
        let total = process + postgres;
        let per_bet_us = |s: f64| s * 1e6 / bets.max(1) as f64;
        Some(format!(
            "{process:.1} s in the process + {postgres:.1} s in Postgres = {:.0} + {:.0} us a bet; \
             {cores} cores fully on it would make {:.0} bets/s",
            per_bet_us(process),
            per_bet_us(postgres),
            bets as f64 / (total / cores as f64).max(1e-9),
        ))
    }
}

/// `replay-tools rebuild` and `verify` over a large log (`bench rebuild`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RebuildReport {
    pub label: String,
    pub unix_time_s: u64,
    pub events: u64,
    pub accounts: u32,
    pub fill_s: f64,
    pub runs: Vec<RebuildRun>,
    pub verify_events: u64,
    pub verify_s: f64,
    pub verify_events_per_s: f64,
}

/// One `replay-tools rebuild`, from position 0 to the swap, as it reported
/// itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RebuildRun {
    /// `balances` or `statements`.
    pub projection: String,
    pub batch_events_max: u32,
    pub events: u64,
    pub seconds: f64,
    pub events_per_s: f64,
}

/// One bucket of the batch size distribution: sizes in `low..=high`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchBucket {
    pub low: u64,
    pub high: u64,
    pub batches: u64,
    pub commands: u64,
}

/// The writer's batch sizes, from a server log.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub label: String,
    pub batches: u64,
    pub commands: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    /// Half of all commands went in batches at least this large.
    pub command_weighted_p50: u64,
    pub buckets: Vec<BatchBucket>,
}

/// Every kind of record, as one JSON line each in a results file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Http(HttpReport),
    Baseline(BaselineReport),
    Replay(ReplayReport),
    Batches(BatchReport),
    Rebuild(RebuildReport),
    Settlement(SettlementReport),
}

/// Where a record goes besides the human-readable lines on stdout.
#[derive(Debug, Clone, clap::Args)]
pub struct Output {
    /// Names this run in the results (e.g. `baseline`, `betledger`).
    #[arg(long)]
    pub label: Option<String>,
    /// Appends the record, as one JSON line, to this file.
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Also prints the record as one JSON line on stdout.
    #[arg(long)]
    pub json: bool,
}

impl Output {
    pub fn label_or(&self, default: &str) -> String {
        self.label.clone().unwrap_or_else(|| default.to_owned())
    }

    pub fn emit(&self, record: &Record) -> anyhow::Result<()> {
        let line = serde_json::to_string(record).context("serializing the record")?;
        if self.json {
            println!("{line}");
        }
        if let Some(path) = &self.results {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening {}", path.display()))?;
            writeln!(file, "{line}").with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Reads every record of a results file.
pub fn read_records(path: &std::path::Path) -> anyhow::Result<Vec<Record>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{} line {}: not a record", path.display(), i + 1))
        })
        .collect()
}

pub fn unix_time_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Median of a non-empty list (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    Some(if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn records_round_trip_as_tagged_json_lines() {
        let record = Record::Replay(ReplayReport {
            label: "replay".into(),
            events: 10,
            ..ReplayReport::default()
        });
        let line = serde_json::to_string(&record).map_err(|e| e.to_string());
        assert!(line
            .as_deref()
            .is_ok_and(|l| l.starts_with(r#"{"kind":"replay""#)));
        let back: Result<Record, String> =
            line.and_then(|l| serde_json::from_str(&l).map_err(|e| e.to_string()));
        assert_eq!(back, Ok(record));
    }

    #[test]
    fn latency_summaries_are_in_milliseconds() -> anyhow::Result<()> {
        let mut latency = Latency::new()?;
        for ms in 1..=100 {
            latency.record(Duration::from_millis(ms));
        }
        let summary = latency.summary();
        assert_eq!(summary.count, 100);
        assert!((summary.p50_ms - 50.0).abs() < 0.1, "{summary:?}");
        assert!((summary.max_ms - 100.0).abs() < 0.1, "{summary:?}");
        Ok(())
    }
}
