//! A worker: one task, one connection per endpoint, one request at a time,
//! drawing each operation from the mix. And the lag probes, which measure
//! how long a command takes to show up in GraphQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::client::{Conn, Response, TransportError};
use super::Endpoints;
use crate::mix::{Mix, Op};
use crate::report::Latency;
use crate::schedule::{latency_origin, Schedule, Slot};

/// Most requests one worker sends in a run: a bound on the loop besides
/// the schedule's end (10 minutes at 150k requests/s per worker).
const REQUESTS_PER_WORKER_MAX: u64 = 100_000_000;

/// Rinha's client ids.
const RINHA_CLIENTS: u64 = 5;

/// Balance read, and the lag probe's query with `atLeast`.
const READ_QUERY: &str = "query($id:String!){account(id:$id){balance available}}";
const LAG_QUERY: &str = "query($id:String!,$p:Int){account(id:$id,atLeast:$p){balance available}}";

/// What every worker of a run shares.
pub struct Shared {
    pub schedule: Schedule,
    pub measure_from: Instant,
    pub mix: Mix,
    pub accounts: Vec<String>,
    pub run_id: String,
    pub amount_max: i64,
    pub lag_sample_every: u64,
}

/// A command acknowledged at `acked`, whose events are at `position`.
#[derive(Debug)]
pub struct LagSample {
    account: String,
    position: i64,
    acked: Instant,
}

/// A worker's counts, merged into the run's at the end.
pub struct WorkerStats {
    pub latency: Latency,
    pub per_op: Vec<Latency>,
    pub requests: u64,
    pub commands: u64,
    pub ok: u64,
    pub rejected: u64,
    pub failed: u64,
    pub rejected_by_code: BTreeMap<String, u64>,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub lag_dropped: u64,
}

impl WorkerStats {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: Latency::new()?,
            per_op: Op::ALL
                .iter()
                .map(|_| Latency::new())
                .collect::<anyhow::Result<_>>()?,
            requests: 0,
            commands: 0,
            ok: 0,
            rejected: 0,
            failed: 0,
            rejected_by_code: BTreeMap::new(),
            failed_by_reason: BTreeMap::new(),
            lag_dropped: 0,
        })
    }

    pub fn merge(&mut self, other: &WorkerStats) -> anyhow::Result<()> {
        self.latency.merge(&other.latency)?;
        for (mine, theirs) in self.per_op.iter_mut().zip(&other.per_op) {
            mine.merge(theirs)?;
        }
        self.requests += other.requests;
        self.commands += other.commands;
        self.ok += other.ok;
        self.rejected += other.rejected;
        self.failed += other.failed;
        for (code, n) in &other.rejected_by_code {
            *self.rejected_by_code.entry(code.clone()).or_default() += n;
        }
        for (reason, n) in &other.failed_by_reason {
            *self.failed_by_reason.entry(reason.clone()).or_default() += n;
        }
        self.lag_dropped += other.lag_dropped;
        Ok(())
    }

    fn record(&mut self, op: Op, class: &Class, latency: Duration) {
        self.latency.record(latency);
        self.per_op[op.index()].record(latency);
        self.requests += 1;
        if op.is_command() {
            self.commands += 1;
        }
        match class {
            Class::Ok => self.ok += 1,
            Class::Rejected(code) => {
                self.rejected += 1;
                *self.rejected_by_code.entry(code.clone()).or_default() += 1;
            }
            Class::Failed(reason) => {
                self.failed += 1;
                *self.failed_by_reason.entry(reason.clone()).or_default() += 1;
            }
        }
    }
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// 2xx (and, for GraphQL, no errors).
    Ok,
    /// A 4xx with a problem code: the server refused the request on its
    /// merits (insufficient_funds, ...). Not a failure.
    Rejected(String),
    /// A 5xx, a 4xx without a code, a GraphQL error, or no answer at all.
    Failed(String),
}

#[derive(Deserialize)]
struct Problem {
    code: Option<String>,
}

/// Classifies a REST answer.
pub fn classify(status: u16, body: &[u8]) -> Class {
    let code = || {
        serde_json::from_slice::<Problem>(body)
            .ok()
            .and_then(|p| p.code)
    };
    match status {
        200..=299 => Class::Ok,
        400..=499 => match code() {
            Some(code) => Class::Rejected(code),
            None => Class::Failed(format!("{status} without a problem code")),
        },
        _ => Class::Failed(match code() {
            Some(code) => format!("{status} {code}"),
            None => status.to_string(),
        }),
    }
}

#[derive(Deserialize)]
struct GraphqlAnswer {
    errors: Option<Vec<GraphqlError>>,
}

#[derive(Deserialize)]
struct GraphqlError {
    extensions: Option<GraphqlExtensions>,
}

#[derive(Deserialize)]
struct GraphqlExtensions {
    code: Option<String>,
}

/// Classifies a GraphQL answer: any error is a failure, named by its code.
pub fn classify_graphql(status: u16, body: &[u8]) -> Class {
    if status != 200 {
        return Class::Failed(format!("graphql {status}"));
    }
    match serde_json::from_slice::<GraphqlAnswer>(body) {
        Err(_) => Class::Failed("graphql: unreadable answer".into()),
        Ok(GraphqlAnswer { errors: None }) => Class::Ok,
        Ok(GraphqlAnswer {
            errors: Some(errors),
        }) => {
            let code = errors
                .first()
                .and_then(|e| e.extensions.as_ref())
                .and_then(|x| x.code.clone())
                .unwrap_or_else(|| "error".into());
            Class::Failed(format!("graphql {code}"))
        }
    }
}

/// The fields of a command's answer the harness uses.
#[derive(Deserialize)]
struct Ack {
    position: Option<i64>,
    hold_id: Option<String>,
}

pub struct Worker {
    id: u32,
    shared: Arc<Shared>,
    rng: fastrand::Rng,
    commands: Conn,
    graphql: Conn,
    rinha: Conn,
    /// This worker's latest hold still pending, which `post` and `void`
    /// resolve (as the baseline's pgbench client keeps `:hold_id`).
    pending_hold: Option<String>,
    sequence: u64,
    accepted_commands: u64,
    lag: Option<mpsc::Sender<LagSample>>,
    stats: WorkerStats,
}

/// What one request was, and how it went.
struct Done {
    op: Op,
    account: Option<String>,
    answer: Result<Response, TransportError>,
}

impl Worker {
    pub fn new(
        id: u32,
        shared: Arc<Shared>,
        endpoints: &Endpoints,
        lag: Option<mpsc::Sender<LagSample>>,
    ) -> anyhow::Result<Worker> {
        Ok(Worker {
            id,
            rng: fastrand::Rng::with_seed(fastrand::u64(..) ^ u64::from(id)),
            commands: Conn::new(endpoints.commands.clone(), endpoints.timeout)?,
            graphql: Conn::new(endpoints.graphql.clone(), endpoints.timeout)?,
            rinha: Conn::new(endpoints.rinha.clone(), endpoints.timeout)?,
            shared,
            pending_hold: None,
            sequence: 0,
            accepted_commands: 0,
            lag,
            stats: WorkerStats::new()?,
        })
    }

    pub async fn run(mut self) -> anyhow::Result<WorkerStats> {
        for _ in 0..REQUESTS_PER_WORKER_MAX {
            let now = Instant::now();
            let Slot::Send { due, on_time } = self.shared.schedule.next(now) else {
                break;
            };
            if due > now {
                tokio::time::sleep_until(due.into()).await;
            }
            let origin = latency_origin(due, on_time, Instant::now());
            let op = self.shared.mix.pick(self.rng.u64(..));
            let done = self.execute(op).await;
            let acked = Instant::now();
            let measured = due >= self.shared.measure_from;
            self.after(done, acked, acked.duration_since(origin), measured);
        }
        Ok(self.stats)
    }

    /// Counts the outcome, keeps the worker's pending hold up to date and
    /// hands a sample to the lag probe now and then.
    fn after(&mut self, done: Done, acked: Instant, latency: Duration, measured: bool) {
        let class = match &done.answer {
            Err(error) => Class::Failed(error.reason()),
            Ok(r) if done.op == Op::Read => classify_graphql(r.status, &r.body),
            Ok(r) => classify(r.status, &r.body),
        };
        let body = done.answer.as_ref().ok().map(|r| &r.body);
        if done.op == Op::Hold {
            // A refused hold leaves the worker without one, as in pgbench.
            self.pending_hold = match (&class, body) {
                (Class::Ok, Some(body)) => serde_json::from_slice::<Ack>(body)
                    .ok()
                    .and_then(|a| a.hold_id),
                _ => None,
            };
        }
        if measured {
            self.stats.record(done.op, &class, latency);
        }
        let v1_command = done.op.uses_accounts() && done.op.is_command();
        if !(measured && v1_command && class == Class::Ok) {
            return;
        }
        self.accepted_commands += 1;
        let every = self.shared.lag_sample_every;
        if every == 0 || !self.accepted_commands.is_multiple_of(every) {
            return;
        }
        let (Some(lag), Some(body), Some(account)) = (&self.lag, body, done.account) else {
            return;
        };
        let Some(position) = serde_json::from_slice::<Ack>(body)
            .ok()
            .and_then(|a| a.position)
        else {
            return;
        };
        let sample = LagSample {
            account,
            position,
            acked,
        };
        if lag.try_send(sample).is_err() {
            self.stats.lag_dropped += 1;
        }
    }

    async fn execute(&mut self, op: Op) -> Done {
        match op {
            Op::Deposit => self.move_funds(op, "deposits", "bench deposit").await,
            Op::Withdraw => self.move_funds(op, "withdrawals", "bench withdraw").await,
            Op::Hold => self.move_funds(Op::Hold, "holds", "bench hold").await,
            Op::Post | Op::Void => match self.pending_hold.take() {
                Some(hold) => self.resolve_hold(op, &hold).await,
                // No pending hold: place one, as pgbench's post.sql does.
                None => self.move_funds(Op::Hold, "holds", "bench hold").await,
            },
            Op::Read => self.read().await,
            Op::RinhaCredit => self.rinha_transaction(op, "c").await,
            Op::RinhaDebit => self.rinha_transaction(op, "d").await,
            Op::Statement => self.rinha_statement().await,
        }
    }

    fn next_key(&mut self) -> String {
        self.sequence += 1;
        format!("{}-{}-{}", self.shared.run_id, self.id, self.sequence)
    }

    fn random_account(&mut self) -> String {
        let n = self.shared.accounts.len();
        match n {
            0 => String::new(),
            _ => self.shared.accounts[self.rng.usize(..n)].clone(),
        }
    }

    fn random_amount(&mut self) -> i64 {
        self.rng.i64(1..=self.shared.amount_max)
    }

    async fn move_funds(&mut self, op: Op, route: &str, description: &str) -> Done {
        let account = self.random_account();
        let amount = self.random_amount();
        let key = self.next_key();
        let path = format!("/v1/accounts/{account}/{route}");
        // Account ids and descriptions here never need JSON escaping.
        let body = format!(r#"{{"amount":{amount},"description":"{description}"}}"#);
        let answer = self
            .commands
            .send(Method::POST, &path, Some(&key), Some(Bytes::from(body)))
            .await;
        Done {
            op,
            account: Some(account),
            answer,
        }
    }

    async fn resolve_hold(&mut self, op: Op, hold: &str) -> Done {
        let key = self.next_key();
        let action = if op == Op::Post { "post" } else { "void" };
        let path = format!("/v1/holds/{hold}/{action}");
        let answer = self
            .commands
            .send(
                Method::POST,
                &path,
                Some(&key),
                Some(Bytes::from_static(b"{}")),
            )
            .await;
        // The answer holds the account; the lag probe reads it from there.
        let account = answer
            .as_ref()
            .ok()
            .and_then(|r| serde_json::from_slice::<AccountOf>(&r.body).ok())
            .map(|a| a.account.id);
        Done {
            op,
            account,
            answer,
        }
    }

    async fn read(&mut self) -> Done {
        let account = self.random_account();
        let body = serde_json::json!({ "query": READ_QUERY, "variables": { "id": account } });
        let answer = self
            .graphql
            .send(
                Method::POST,
                "/graphql",
                None,
                Some(Bytes::from(body.to_string())),
            )
            .await;
        Done {
            op: Op::Read,
            account: Some(account),
            answer,
        }
    }

    async fn rinha_transaction(&mut self, op: Op, tipo: &str) -> Done {
        let client = self.rng.u64(1..=RINHA_CLIENTS);
        let valor = self.random_amount();
        let path = format!("/clientes/{client}/transacoes");
        let body = format!(r#"{{"valor":{valor},"tipo":"{tipo}","descricao":"bench"}}"#);
        let answer = self
            .rinha
            .send(Method::POST, &path, None, Some(Bytes::from(body)))
            .await;
        Done {
            op,
            account: None,
            answer,
        }
    }

    async fn rinha_statement(&mut self) -> Done {
        let client = self.rng.u64(1..=RINHA_CLIENTS);
        let path = format!("/clientes/{client}/extrato");
        let answer = self.rinha.send(Method::GET, &path, None, None).await;
        Done {
            op: Op::Statement,
            account: None,
            answer,
        }
    }
}

#[derive(Deserialize)]
struct AccountOf {
    account: AccountId,
}

#[derive(Deserialize)]
struct AccountId {
    id: String,
}

/// What one lag probe measured.
pub struct ProbeStats {
    pub lag: Latency,
    pub timeouts: u64,
    pub errors: u64,
}

/// Asks GraphQL for an account `atLeast` a command's position, one sample
/// at a time, and measures from the command's acknowledgement to the
/// answer.
pub struct LagProbe {
    conn: Conn,
    samples: SharedSamples,
    stats: ProbeStats,
}

/// The probes' one queue: whichever probe is idle takes the next sample.
pub type SharedSamples = Arc<tokio::sync::Mutex<mpsc::Receiver<LagSample>>>;

impl LagProbe {
    pub fn new(conn: Conn, samples: SharedSamples) -> anyhow::Result<LagProbe> {
        Ok(LagProbe {
            conn,
            samples,
            stats: ProbeStats {
                lag: Latency::new()?,
                timeouts: 0,
                errors: 0,
            },
        })
    }

    /// Runs until every worker has dropped its sender.
    pub async fn run(mut self) -> anyhow::Result<ProbeStats> {
        loop {
            // Idle probes wait their turn on the lock; the one holding it
            // takes the next sample. Ends when every sender is gone.
            let next = self.samples.lock().await.recv().await;
            let Some(sample) = next else {
                break;
            };
            let body = serde_json::json!({
                "query": LAG_QUERY,
                "variables": { "id": sample.account, "p": sample.position },
            });
            let answer = self
                .conn
                .send(
                    Method::POST,
                    "/graphql",
                    None,
                    Some(Bytes::from(body.to_string())),
                )
                .await;
            let lag = sample.acked.elapsed();
            match answer.map(|r| classify_graphql(r.status, &r.body)) {
                Ok(Class::Ok) => self.stats.lag.record(lag),
                Ok(Class::Failed(reason)) if reason.ends_with("projection_behind") => {
                    // At least this much: the server gave up waiting.
                    self.stats.timeouts += 1;
                    self.stats.lag.record(lag);
                }
                _ => self.stats.errors += 1,
            }
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_by_status_and_code() {
        let problem = br#"{"type":"x","status":422,"code":"insufficient_funds"}"#;
        assert_eq!(classify(200, b"{}"), Class::Ok);
        assert_eq!(classify(201, b""), Class::Ok);
        assert_eq!(
            classify(422, problem),
            Class::Rejected("insufficient_funds".into())
        );
        assert_eq!(
            classify(404, b"not json"),
            Class::Failed("404 without a problem code".into())
        );
        assert_eq!(
            classify(503, br#"{"code":"overloaded"}"#),
            Class::Failed("503 overloaded".into())
        );
        assert_eq!(classify(500, b""), Class::Failed("500".into()));
    }

    #[test]
    fn graphql_errors_are_failures_named_by_code() {
        assert_eq!(
            classify_graphql(200, br#"{"data":{"account":null}}"#),
            Class::Ok
        );
        let behind = br#"{"data":null,"errors":[{"message":"m","extensions":{"code":"projection_behind"}}]}"#;
        assert_eq!(
            classify_graphql(200, behind),
            Class::Failed("graphql projection_behind".into())
        );
        assert!(LAG_QUERY.contains("atLeast"));
    }
}
