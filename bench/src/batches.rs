//! `bench batch-sizes`: the writer's batch size distribution, read from a
//! server log. Each writer batch logs, at debug level on the `commands`
//! target, a line `writer batch commands=N bytes=M`; run the server with
//! `RUST_LOG=info,commands=debug` to get them.

use std::path::PathBuf;

use anyhow::Context;

use crate::report::{BatchBucket, BatchReport, Output, Record};

/// Most log lines read.
const LINES_MAX: usize = 50_000_000;

#[derive(Debug, Clone, clap::Args)]
pub struct BatchSizesArgs {
    /// The server's log.
    #[arg(long)]
    pub log: PathBuf,
    /// Lines to skip first (what earlier phases of a run logged).
    #[arg(long, default_value_t = 0)]
    pub skip_lines: usize,
    /// Lines to read after the skipped ones (0: to the end).
    #[arg(long, default_value_t = 0)]
    pub lines: usize,
    #[command(flatten)]
    pub output: Output,
}

pub fn run(args: BatchSizesArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.log).with_context(|| format!("reading {}", args.log.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let take = if args.lines == 0 {
        LINES_MAX
    } else {
        args.lines
    };
    let sizes: Vec<u64> = text
        .lines()
        .skip(args.skip_lines)
        .take(take)
        .filter_map(batch_size)
        .collect();
    let mut report = distribution(&sizes);
    report.label = args.output.label_or("batches");
    print_report(&report);
    args.output.emit(&Record::Batches(report))
}

/// Removes terminal colour codes (`ESC [ ... m`), which tracing adds.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Bounded by the line: skip to the sequence's final letter.
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The size of the batch a `writer batch` line reports.
pub fn batch_size(line: &str) -> Option<u64> {
    if !line.contains("writer batch") {
        return None;
    }
    let line = strip_ansi(line);
    let rest = line.split_once("commands=")?.1;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

pub fn distribution(sizes: &[u64]) -> BatchReport {
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    let batches = sorted.len() as u64;
    let commands: u64 = sorted.iter().sum();
    let at = |q: f64| -> u64 {
        if sorted.is_empty() {
            return 0;
        }
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i]
    };
    // The batch size the median command was committed in.
    let mut seen = 0u64;
    let command_weighted_p50 = sorted
        .iter()
        .find(|&&size| {
            seen += size;
            seen * 2 >= commands
        })
        .copied()
        .unwrap_or(0);
    let mut buckets: Vec<BatchBucket> = Vec::new();
    for &size in &sorted {
        // Powers of two: 1, 2-3, 4-7, ...
        let low = if size == 0 { 0 } else { 1u64 << size.ilog2() };
        let high = if low == 0 { 0 } else { low * 2 - 1 };
        match buckets.last_mut() {
            Some(b) if b.low == low => {
                b.batches += 1;
                b.commands += size;
            }
            _ => buckets.push(BatchBucket {
                low,
                high,
                batches: 1,
                commands: size,
            }),
        }
    }
    BatchReport {
        label: String::new(),
        batches,
        commands,
        mean: if batches == 0 {
            0.0
        } else {
            commands as f64 / batches as f64
        },
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: sorted.last().copied().unwrap_or(0),
        command_weighted_p50,
        buckets,
    }
}

fn print_report(r: &BatchReport) {
    println!("bench batch-sizes [{}]", r.label);
    println!(
        "  {} batches, {} commands: mean {:.1}, p50 {}, p90 {}, p99 {}, max {}; half the commands went in batches of {} or more",
        r.batches, r.commands, r.mean, r.p50, r.p90, r.p99, r.max, r.command_weighted_p50
    );
    for b in &r.buckets {
        let share = if r.commands == 0 {
            0.0
        } else {
            100.0 * b.commands as f64 / r.commands as f64
        };
        println!(
            "    {:>5}-{:<5} {:>8} batches  {:>5.1} % of commands",
            b.low, b.high, b.batches, share
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_are_found_with_or_without_colours() {
        let plain = "2026-01-01T00:00:00Z DEBUG commands::writer::batch: writer batch commands=12 bytes=560";
        let coloured = "\u{1b}[2m2026\u{1b}[0m \u{1b}[34mDEBUG\u{1b}[0m \u{1b}[2mcommands::writer::batch\u{1b}[0m\u{1b}[2m:\u{1b}[0m writer batch \u{1b}[3mcommands\u{1b}[0m\u{1b}[2m=\u{1b}[0m7 \u{1b}[3mbytes\u{1b}[0m\u{1b}[2m=\u{1b}[0m3";
        assert_eq!(batch_size(plain), Some(12));
        assert_eq!(batch_size(coloured), Some(7));
        assert_eq!(batch_size("INFO listening commands=3"), None);
    }

    #[test]
    fn the_distribution_has_power_of_two_buckets() {
        let report = distribution(&[1, 1, 2, 3, 5, 40]);
        assert_eq!((report.batches, report.commands, report.max), (6, 52, 40));
        assert_eq!(report.p50, 2);
        assert_eq!(report.command_weighted_p50, 40);
        let buckets: Vec<(u64, u64, u64)> = report
            .buckets
            .iter()
            .map(|b| (b.low, b.batches, b.commands))
            .collect();
        assert_eq!(buckets, [(1, 2, 2), (2, 2, 5), (4, 1, 5), (32, 1, 40)]);
        assert_eq!(distribution(&[]).batches, 0);
    }
}
