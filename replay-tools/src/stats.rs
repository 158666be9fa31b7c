//! `stats`: the size and shape of the log, and how far each projection
//! has got through it. All figures come from one snapshot.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use indicatif::HumanBytes;
use serde::Serialize;
use sqlx::Row;

use crate::error::Error;
use crate::{db, output};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub events: i64,
    pub streams: i64,
    /// Null when the log is empty.
    pub min_position: Option<i64>,
    pub max_position: Option<i64>,
    /// Event count per type, by type name.
    pub event_types: Vec<TypeCount>,
    /// `pg_total_relation_size`: table, indexes and TOAST.
    pub events_bytes: i64,
    pub commands_bytes: i64,
    pub projections: Vec<ProjectionLag>,
}

#[derive(Debug, Serialize)]
pub struct TypeCount {
    pub event_type: String,
    pub events: i64,
}

#[derive(Debug, Serialize)]
pub struct ProjectionLag {
    pub name: String,
    pub position: i64,
    pub updated_at: String,
    /// Positions between the checkpoint and the end of the log. Positions
    /// have holes, so this is an upper bound on the events still to apply.
    pub lag_positions: i64,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    let pool = db::connect(database_url).await?;
    let mut tx = db::snapshot(&pool).await?;
    let by_type = sqlx::query(include_str!("stats/event_types.sql"))
        .fetch_all(&mut *tx)
        .await?;
    let mut stats = Stats::default();
    for row in &by_type {
        let events: i64 = row.try_get("events")?;
        stats.events += events;
        stats.streams += row.try_get::<i64, _>("streams_started")?;
        stats.min_position = min_some(stats.min_position, row.try_get("min_position")?);
        stats.max_position = stats.max_position.max(row.try_get("max_position")?);
        stats.event_types.push(TypeCount {
            event_type: row.try_get("event_type")?,
            events,
        });
    }
    let sizes = sqlx::query(include_str!("stats/sizes.sql"))
        .fetch_one(&mut *tx)
        .await?;
    stats.events_bytes = sizes.try_get("events_bytes")?;
    stats.commands_bytes = sizes.try_get("commands_bytes")?;
    let max_position = stats.max_position;
    stats.projections = sqlx::query(include_str!("stats/checkpoints.sql"))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| {
            let position: i64 = row.try_get(1)?;
            let updated_at: DateTime<Utc> = row.try_get(2)?;
            Ok(ProjectionLag {
                name: row.try_get(0)?,
                position,
                updated_at: updated_at.to_rfc3339_opts(SecondsFormat::Micros, true),
                lag_positions: max_position.unwrap_or(0).saturating_sub(position).max(0),
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    tx.commit().await?;
    output::print(&stats, args.json, text)
}

fn text(stats: &Stats) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_text(&mut out, stats);
    out
}

fn write_text(out: &mut String, s: &Stats) -> std::fmt::Result {
    match (s.min_position, s.max_position) {
        (Some(min), Some(max)) => writeln!(
            out,
            "events: {} in {} streams, positions {min} to {max}",
            s.events, s.streams
        )?,
        _ => writeln!(out, "events: none")?,
    }
    for t in &s.event_types {
        writeln!(out, "  {:<24} {:>12}", t.event_type, t.events)?;
    }
    writeln!(
        out,
        "on disk: events {}, commands {}",
        human_bytes(s.events_bytes),
        human_bytes(s.commands_bytes)
    )?;
    if s.projections.is_empty() {
        writeln!(out, "projections: none has run")?;
    } else {
        writeln!(out, "projections:")?;
    }
    for p in &s.projections {
        writeln!(
            out,
            "  {:<24} at {:>12}, lag {:>10} positions (moved {})",
            p.name, p.position, p.lag_positions, p.updated_at
        )?;
    }
    Ok(())
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn human_bytes(bytes: i64) -> String {
    let bytes = u64::try_from(bytes).unwrap_or(0);
    format!("{} ({bytes} bytes)", HumanBytes(bytes))
}
