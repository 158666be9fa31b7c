//! `bench summary`: turns a results file (one JSON record per run) into the
//! tables of `docs/benchmarks.md`: the rounds, the medians, the ratio to
//! the baseline, and each target of issue 3 with whether it was met.

use std::path::PathBuf;

use crate::cpu::CpuUsage;
use crate::report::{median, read_records, BaselineReport, HttpReport, Record};

/// The targets (issue 3), on the 2-core machine, durable commits.
const RATIO_MIN: f64 = 2.0;
const HALF_RATE_P99_MAX_MS: f64 = 10.0;
const LAG_P99_MAX_MS: f64 = 50.0;
const RINHA_P99_MAX_MS: f64 = 5.0;
const RSS_MAX_MB: f64 = 200.0;
const REPLAY_MIN_PER_S: f64 = 300_000.0;

#[derive(Debug, Clone, clap::Args)]
pub struct SummaryArgs {
    /// The results file the runs appended to (`--results`).
    #[arg(long)]
    pub results: PathBuf,
    /// Print only half the median commands/s of the runs with this label,
    /// rounded (the rate of the half-rate run), and nothing else.
    #[arg(long)]
    pub half_rate_of: Option<String>,
    /// Label of the baseline rounds.
    #[arg(long, default_value = "baseline")]
    pub baseline: String,
    /// Label of the betledger rounds (closed loop).
    #[arg(long, default_value = "betledger")]
    pub betledger: String,
    /// Label of the run at half of betledger's peak.
    #[arg(long, default_value = "betledger-half")]
    pub half: String,
    /// Label of the Rinha run.
    #[arg(long, default_value = "rinha-1000")]
    pub rinha: String,
}

pub fn run(args: SummaryArgs) -> anyhow::Result<()> {
    let records = read_records(&args.results)?;
    let http = |label: &str| -> Vec<&HttpReport> {
        records
            .iter()
            .filter_map(|r| match r {
                Record::Http(h) if h.label == label => Some(h),
                _ => None,
            })
            .collect()
    };
    let betledger = http(&args.betledger);
    if let Some(label) = &args.half_rate_of {
        let rates: Vec<f64> = http(label).iter().map(|r| r.commands_per_s).collect();
        let peak = median(&rates)
            .ok_or_else(|| anyhow::anyhow!("no http run labelled {label:?} in the results"))?;
        println!("{:.0}", (peak / 2.0).max(1.0));
        return Ok(());
    }
    let baseline: Vec<&BaselineReport> = records
        .iter()
        .filter_map(|r| match r {
            Record::Baseline(b) if b.label == args.baseline => Some(b),
            _ => None,
        })
        .collect();

    print_rounds(&baseline, &betledger);
    let mut rows: Vec<[String; 4]> = Vec::new();
    let betledger_median = median(
        &betledger
            .iter()
            .map(|r| r.commands_per_s)
            .collect::<Vec<_>>(),
    );
    let baseline_median = median(&baseline.iter().map(|r| r.tps).collect::<Vec<_>>());
    if let Some(b) = betledger_median {
        rows.push(row(
            &format!(
                "betledger wallet commands/s (median of {})",
                betledger.len()
            ),
            format!("{b:.0}"),
            "",
            String::new(),
        ));
    }
    if let Some(a) = baseline_median {
        rows.push(row(
            &format!("baseline TPS (median of {})", baseline.len()),
            format!("{a:.0}"),
            "",
            String::new(),
        ));
    }
    if let (Some(b), Some(a)) = (betledger_median, baseline_median) {
        let ratio = b / a;
        rows.push(row(
            "ratio betledger / baseline",
            format!("{ratio:.2}×"),
            "≥ 2×",
            at_least(ratio, RATIO_MIN, "×"),
        ));
    }
    if let Some(half) = http(&args.half).last() {
        let rate = half.rate_target_per_s.unwrap_or(0.0);
        rows.push(row(
            &format!(
                "p99 at half the peak ({rate:.0} req/s sent, {:.0} commands/s done)",
                half.commands_per_s
            ),
            format!("{:.2} ms", half.latency.p99_ms),
            "≤ 10 ms",
            at_most(half.latency.p99_ms, HALF_RATE_P99_MAX_MS, " ms"),
        ));
        if let Some(lag) = &half.lag {
            rows.push(row(
                &format!("projection lag p99 at that rate ({} samples)", lag.samples),
                format!("{:.2} ms (p50 {:.2} ms)", lag.p99_ms, lag.p50_ms),
                "≤ 50 ms",
                at_most(lag.p99_ms, LAG_P99_MAX_MS, " ms"),
            ));
        }
        rows.push(failures_row("failed at half rate", half));
    }
    if let Some(rinha) = http(&args.rinha).last() {
        rows.push(failures_row("Rinha mix at 1,000 req/s: failed", rinha));
        rows.push(row(
            &format!(
                "Rinha mix at {:.0} req/s: p99 ({:.0} req/s done)",
                rinha.rate_target_per_s.unwrap_or(0.0),
                rinha.requests_per_s
            ),
            format!("{:.2} ms", rinha.latency.p99_ms),
            "≤ 5 ms",
            at_most(rinha.latency.p99_ms, RINHA_P99_MAX_MS, " ms"),
        ));
    }
    let peak_rss = records
        .iter()
        .filter_map(|r| match r {
            Record::Http(h) => h.server_vm_hwm_mb.or(h.server_rss_peak_mb),
            _ => None,
        })
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    if let Some(rss) = peak_rss {
        rows.push(row(
            "server peak RSS (VmHWM, all runs)",
            format!("{rss:.1} MB"),
            "≤ 200 MB",
            at_most(rss, RSS_MAX_MB, " MB"),
        ));
    }
    for replay in records.iter().filter_map(|r| match r {
        Record::Replay(r) => Some(r),
        _ => None,
    }) {
        rows.push(row(
            &format!(
                "replay of the {} projection, {} events (batches of {}; reading alone: {})",
                if replay.projection.is_empty() {
                    "balances"
                } else {
                    &replay.projection
                },
                replay.events,
                replay.batch_events_max,
                replay
                    .read_only_events_per_s
                    .map_or("not measured".into(), |r| format!("{r:.0} events/s"))
            ),
            format!("{:.0} events/s", replay.events_per_s),
            "≥ 300k events/s",
            at_least(replay.events_per_s, REPLAY_MIN_PER_S, " events/s"),
        ));
    }
    println!("\n| figure | measured | target | verdict |\n|---|---|---|---|");
    for [a, b, c, d] in &rows {
        println!("| {a} | {b} | {c} | {d} |");
    }
    print_batches(&records);
    Ok(())
}

fn row(figure: &str, measured: String, target: &str, verdict: String) -> [String; 4] {
    [figure.to_owned(), measured, target.to_owned(), verdict]
}

fn failures_row(figure: &str, run: &HttpReport) -> [String; 4] {
    let reasons: Vec<String> = run
        .failed_by_reason
        .iter()
        .map(|(r, n)| format!("{r}: {n}"))
        .collect();
    row(
        figure,
        if reasons.is_empty() {
            run.failed.to_string()
        } else {
            format!("{} ({})", run.failed, reasons.join("; "))
        },
        "0",
        if run.failed == 0 {
            "met".into()
        } else {
            "missed".into()
        },
    )
}

fn at_least(value: f64, target: f64, unit: &str) -> String {
    if value >= target {
        "met".into()
    } else {
        format!(
            "missed: {:.0} % of the target ({:.2}{unit} short)",
            100.0 * value / target,
            target - value
        )
    }
}

fn at_most(value: f64, target: f64, unit: &str) -> String {
    if value <= target {
        "met".into()
    } else {
        format!(
            "missed by {:.2}{unit} ({:.1}× the target)",
            value - target,
            value / target
        )
    }
}

fn print_rounds(baseline: &[&BaselineReport], betledger: &[&HttpReport]) {
    println!(
        "| round | baseline TPS | baseline p50 / p99 | baseline cores busy | betledger commands/s | betledger p50 / p99 | betledger cores busy | betledger rejected / failed | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for i in 0..baseline.len().max(betledger.len()) {
        let a = baseline.get(i);
        let b = betledger.get(i);
        let ratio = match (a, b) {
            (Some(a), Some(b)) if a.tps > 0.0 => format!("{:.2}×", b.commands_per_s / a.tps),
            _ => String::new(),
        };
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {ratio} |",
            i + 1,
            a.map_or(String::new(), |a| format!("{:.0}", a.tps)),
            a.map_or(String::new(), |a| format!(
                "{:.2} / {:.2} ms",
                a.latency.p50_ms, a.latency.p99_ms
            )),
            a.and_then(|a| a.cpu.as_ref()).map_or(String::new(), cores),
            b.map_or(String::new(), |b| format!("{:.0}", b.commands_per_s)),
            b.map_or(String::new(), |b| format!(
                "{:.2} / {:.2} ms",
                b.latency.p50_ms, b.latency.p99_ms
            )),
            b.and_then(|b| b.cpu.as_ref()).map_or(String::new(), cores),
            b.map_or(String::new(), |b| format!("{} / {}", b.rejected, b.failed)),
        );
    }
}

/// "1.97: client 0.41, server 0.80, rest 0.76" (cores).
fn cores(cpu: &CpuUsage) -> String {
    let client = cpu.client_cores.unwrap_or(0.0);
    let server = cpu.server_cores.unwrap_or(0.0);
    let rest = cpu.machine_cores - client - server;
    match cpu.server_cores {
        Some(_) => format!(
            "{:.2}: bench {client:.2}, server {server:.2}, Postgres & rest {rest:.2}",
            cpu.machine_cores
        ),
        None => format!(
            "{:.2}: pgbench {client:.2}, Postgres & rest {rest:.2}",
            cpu.machine_cores
        ),
    }
}

fn print_batches(records: &[Record]) {
    let batches: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Batches(b) => Some(b),
            _ => None,
        })
        .collect();
    if batches.is_empty() {
        return;
    }
    println!("\nWriter batch sizes (commands per transaction):\n");
    println!(
        "| run | batches | mean | p50 | p90 | p99 | max | half the commands in batches of ≥ |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for b in batches {
        println!(
            "| {} | {} | {:.1} | {} | {} | {} | {} | {} |",
            b.label, b.batches, b.mean, b.p50, b.p90, b.p99, b.max, b.command_weighted_p50
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_say_by_how_much_a_target_is_missed() {
        assert_eq!(at_least(2.5, 2.0, "×"), "met");
        assert_eq!(
            at_least(1.5, 2.0, "×"),
            "missed: 75 % of the target (0.50× short)"
        );
        assert_eq!(at_most(4.0, 5.0, " ms"), "met");
        assert_eq!(
            at_most(15.0, 10.0, " ms"),
            "missed by 5.00 ms (1.5× the target)"
        );
    }
}
