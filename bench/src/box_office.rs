//! `bench box-office`: the hot-show case over the real HTTP API of a
//! running `betledger serve`. N clients (each with a wallet of its own)
//! reserve one seat at a time at one show, as fast as they are answered,
//! for a bounded time: every reservation is decided against the same show
//! stream, in its writer shard. The baseline of the same run is the same
//! clients depositing into their own wallets (streams spread over every
//! shard) for as long, on the same server. Reports each side's rate and
//! latency percentiles, their ratio, and checks that the show sold no more
//! seats than the answers said.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use hdrhistogram::Histogram;
use hyper::Method;

use crate::http::{Conn, Endpoint};

/// Seats of the show: enough that the clients never run out in a run.
const CAPACITY: u32 = 100_000;
/// Each client's seat limit at the show (the domain's highest).
const SEATS_PER_CLIENT: u32 = 100;
/// Clients opening wallets at once before the measured phases.
const SETUP_CONCURRENCY: usize = 64;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, clap::Args)]
pub struct BoxOfficeArgs {
    /// The command API of a running `betledger serve`.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Concurrent clients, each with a connection and a wallet (1 to 5,000).
    #[arg(long, default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..=5_000))]
    pub clients: u64,
    /// Measured seconds of each phase (1 to 600).
    #[arg(long, default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub duration_s: u64,
}

/// One phase's answers: accepted, refused (4xx) and failed, and the
/// latency of every answer in microseconds.
struct Phase {
    accepted: u64,
    refused: u64,
    failed: u64,
    latency_us: Histogram<u64>,
    elapsed: Duration,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.accepted as f64 / self.elapsed.as_secs_f64()
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1_000.0
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {} accepted ({:.0}/s), {} refused, {} failed in {:.1} s; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.accepted,
            self.rate(),
            self.refused,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.ms(0.5),
            self.ms(0.99),
            self.latency_us.max() as f64 / 1_000.0,
        );
    }
}

pub async fn run(args: BoxOfficeArgs) -> anyhow::Result<()> {
    let endpoint = Endpoint::parse(&args.url)?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let clients = usize::try_from(args.clients).context("clients")?;
    let duration = Duration::from_secs(args.duration_s);
    let show = format!("hot-{run_id}");
    let accounts: Arc<Vec<String>> =
        Arc::new((0..clients).map(|i| format!("bo{run_id}-{i}")).collect());

    println!("opening {clients} wallets and the show {show}");
    open_wallets(&endpoint, &accounts).await?;
    schedule(&endpoint, &show).await?;

    let deposits = phase(&endpoint, &accounts, duration, |account, n| {
        (
            format!("/v1/accounts/{account}/deposits"),
            format!("bo-dep-{account}-{n}"),
            r#"{"amount":1}"#.to_owned(),
        )
    })
    .await;
    let path = format!("/v1/shows/{show}/reservations");
    let reservations = phase(&endpoint, &accounts, duration, move |account, n| {
        (
            path.clone(),
            format!("bo-res-{account}-{n}"),
            format!(r#"{{"account":"{account}","tier":0,"seats":1}}"#),
        )
    })
    .await;

    deposits.print("baseline (deposits, own wallets)");
    reservations.print("hot show (reservations, one show)");
    println!(
        "ratio hot show / baseline: {:.2} (rate), p99 {:.2}",
        reservations.rate() / deposits.rate(),
        reservations.ms(0.99) / deposits.ms(0.99),
    );
    check_show(&endpoint, &show, reservations.accepted).await
}

async fn post(conn: &mut Conn, path: &str, key: &str, body: String) -> anyhow::Result<u16> {
    let response = conn
        .send(Method::POST, path, Some(key), Some(Bytes::from(body)))
        .await
        .map_err(|e| anyhow::anyhow!("{path}: {}", e.reason()))?;
    Ok(response.status)
}

async fn open_wallets(endpoint: &Endpoint, accounts: &Arc<Vec<String>>) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..SETUP_CONCURRENCY {
        let (endpoint, accounts) = (endpoint.clone(), accounts.clone());
        tasks.spawn(async move {
            let mut conn = Conn::new(endpoint, REQUEST_TIMEOUT)?;
            for account in accounts.iter().skip(worker).step_by(SETUP_CONCURRENCY) {
                let body = format!(r#"{{"id":"{account}","currency":"EUR"}}"#);
                let opened =
                    post(&mut conn, "/v1/accounts", &format!("open-{account}"), body).await?;
                let path = format!("/v1/accounts/{account}/deposits");
                let body = r#"{"amount":100000000}"#.to_owned();
                let funded = post(&mut conn, &path, &format!("fund-{account}"), body).await?;
                if opened != 201 || funded != 200 {
                    bail!("opening {account}: {opened}, {funded}");
                }
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

async fn schedule(endpoint: &Endpoint, show: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({
        "id": show,
        "name": "the hot show",
        "starts_at": "2099-12-31T20:00:00Z",
        "currency": "EUR",
        "tiers": [{ "name": "floor", "capacity": CAPACITY, "base_price": 5_000,
                    "steps": [{ "at_sold_bp": 5_000, "raise_bp": 1_000 }] }],
        "seats_per_customer_max": SEATS_PER_CLIENT,
    });
    let mut conn = Conn::new(endpoint.clone(), REQUEST_TIMEOUT)?;
    let status = post(
        &mut conn,
        "/v1/shows",
        &format!("open-{show}"),
        body.to_string(),
    )
    .await?;
    if status != 201 {
        bail!("scheduling {show}: {status}");
    }
    Ok(())
}

/// Every client sends its request (from `request(account, n)`), waits for
/// the answer and sends the next, for `duration`.
async fn phase<F>(
    endpoint: &Endpoint,
    accounts: &Arc<Vec<String>>,
    duration: Duration,
    request: F,
) -> Phase
where
    F: Fn(&str, u64) -> (String, String, String) + Clone + Send + Sync + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    let owned: Vec<String> = accounts.to_vec();
    for account in owned {
        let (endpoint, request) = (endpoint.clone(), request.clone());
        tasks.spawn(async move {
            let mut result = (0u64, 0u64, 0u64, Histogram::<u64>::new(3).ok());
            let Ok(mut conn) = Conn::new(endpoint, REQUEST_TIMEOUT) else {
                return result;
            };
            let mut n = 0;
            while Instant::now() < deadline {
                let (path, key, body) = request(&account, n);
                n += 1;
                let sent = Instant::now();
                let answer = conn
                    .send(Method::POST, &path, Some(&key), Some(Bytes::from(body)))
                    .await;
                let us = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                if let Some(h) = result.3.as_mut() {
                    let _ = h.record(us);
                }
                match answer.map(|r| r.status) {
                    Ok(200..=299) => result.0 += 1,
                    // The client's seat limit: it stops asking.
                    Ok(422) => {
                        result.1 += 1;
                        break;
                    }
                    Ok(400..=499) => result.1 += 1,
                    _ => result.2 += 1,
                }
            }
            result
        });
    }
    let mut phase = Phase {
        accepted: 0,
        refused: 0,
        failed: 0,
        latency_us: Histogram::new(3).unwrap_or_else(|_| unreachable_histogram()),
        elapsed: Duration::ZERO,
    };
    while let Some(Ok((accepted, refused, failed, latency))) = tasks.join_next().await {
        phase.accepted += accepted;
        phase.refused += refused;
        phase.failed += failed;
        if let Some(latency) = latency {
            let _ = phase.latency_us.add(latency);
        }
    }
    phase.elapsed = start.elapsed();
    phase
}

/// Three significant digits is a valid precision, so `Histogram::new(3)`
/// does not fail; this is only its type's fallback.
fn unreachable_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 2, 0).unwrap_or_else(|_| std::process::abort())
}

/// The show holds exactly the seats the answers accepted.
async fn check_show(endpoint: &Endpoint, show: &str, accepted: u64) -> anyhow::Result<()> {
    let mut conn = Conn::new(endpoint.clone(), REQUEST_TIMEOUT)?;
    let response = conn
        .send(Method::GET, &format!("/v1/shows/{show}"), None, None)
        .await
        .map_err(|e| anyhow::anyhow!("reading {show}: {}", e.reason()))?;
    let body: serde_json::Value = serde_json::from_slice(&response.body)?;
    let reserved = body["show"]["tiers"][0]["reserved"]
        .as_u64()
        .unwrap_or(u64::MAX);
    println!("show {show}: {reserved} seats reserved, {accepted} reservations accepted");
    if reserved != accepted {
        bail!("the show holds {reserved} seats but {accepted} reservations were accepted");
    }
    Ok(())
}
