//! Parimutuel pools over HTTP: the operator's `/v1/pools` commands
//! (create, close, settle, cancel), a player's entry
//! (`POST /v1/pools/{id}/entries`, on the wallet and the pool at once), and
//! the write-side view of a pool. Payouts run after the answer, in the
//! pool payout process (`pool_payouts`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ledger::pool::{EnterPool, Pool, PoolCommand, PoolStatus, Resolution, OUTCOMES_MAX};
use ledger::{AccountId, Amount, Currency, PoolEntryId, PoolId, Rejection, StreamId};
use serde::Deserialize;

use crate::render::{wallet_json, Reply, Saved};
use crate::wallets::{parse, NoFields, Parsed};
use crate::writer::{Command, EntryDecided, PoolRender};
use crate::{ApiError, AppState};

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/v1/pools", post(create_pool))
        .route("/v1/pools/{id}", get(show_pool))
        .route("/v1/pools/{id}/entries", post(enter))
        .route("/v1/pools/{id}/close", post(close))
        .route("/v1/pools/{id}/settle", post(settle))
        .route("/v1/pools/{id}/cancel", post(cancel))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreatePool {
    id: String,
    name: String,
    outcomes: Vec<String>,
    min_entry: i64,
    #[serde(default)]
    rake_bp: u32,
    closes_at: DateTime<Utc>,
    currency: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    account: String,
    outcome: u16,
    stake: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settle {
    winners: Vec<u16>,
}

async fn create_pool(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let (request, parsed) = parse::<CreatePool>(&state, "POST /v1/pools", &headers, raw)?;
    let pool = PoolId::parse(&request.id)?;
    let command = PoolCommand::Create {
        pool: pool.clone(),
        name: request.name,
        outcomes: request.outcomes,
        min_entry: request.min_entry,
        rake_bp: request.rake_bp,
        closes_at: request.closes_at,
        currency: Currency::parse(&request.currency)?,
    };
    submit(&state, parsed, &pool, command, render_created).await
}

async fn enter(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/pools/{id}/entries");
    let (request, parsed) = parse::<Entry>(&state, &route, &headers, raw)?;
    let pool = PoolId::parse(&id)?;
    let account = AccountId::parse(&request.account)?;
    // A repeat of the key answers with the first attempt's entry id, from
    // the recorded outcome; this one is used only if the command is new.
    let command = EnterPool {
        entry_id: PoolEntryId::generate(),
        pool: pool.clone(),
        outcome: request.outcome,
        stake: Amount::new(request.stake)?,
        now: Utc::now(),
    };
    let command = Command::PoolEntry {
        streams: [StreamId::account(&account), StreamId::pool(&pool)],
        command,
        render: render_entry,
    };
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

async fn lifecycle(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    action: &str,
    command: PoolCommand,
    render: PoolRender,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/pools/{id}/{action}");
    let (NoFields {}, parsed) = parse::<NoFields>(state, &route, headers, raw)?;
    let pool = PoolId::parse(id)?;
    submit(state, parsed, &pool, command, render).await
}

async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let command = PoolCommand::Close;
    lifecycle(&state, &id, &headers, raw, "close", command, render_pool).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let command = PoolCommand::Cancel;
    let reply = lifecycle(&state, &id, &headers, raw, "cancel", command, render_paying).await?;
    state.pool_payer.wake();
    Ok(reply)
}

async fn settle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/pools/{id}/settle");
    let (request, parsed) = parse::<Settle>(&state, &route, &headers, raw)?;
    let pool = PoolId::parse(&id)?;
    if request.winners.len() > OUTCOMES_MAX {
        return Err(Rejection::InvalidPool(format!(
            "at most {OUTCOMES_MAX} winners, got {}",
            request.winners.len()
        ))
        .into());
    }
    let command = PoolCommand::Settle {
        winners: request.winners,
    };
    let reply = submit(&state, parsed, &pool, command, render_paying).await?;
    state.pool_payer.wake();
    Ok(reply)
}

async fn submit(
    state: &AppState,
    parsed: Parsed,
    pool: &PoolId,
    command: PoolCommand,
    render: PoolRender,
) -> Result<Reply, ApiError> {
    let command = Command::Pool {
        stream: StreamId::pool(pool),
        command,
        render,
    };
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

async fn show_pool(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let missing = || ApiError::NotFound("pool_not_found", format!("pool {id:?} does not exist"));
    let pool = PoolId::parse(&id).map_err(|_| missing())?;
    let current = state
        .cache
        .current(&state.store, &StreamId::pool(&pool))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let open = current.pool().ok_or_else(missing)?;
    Ok(Reply {
        status: StatusCode::OK,
        body: serde_json::json!({ "pool": pool_json(open, current.head.version) }),
    })
}

fn answer(status: StatusCode, decided: Result<(&Pool, i64), &Rejection>) -> Saved {
    match decided {
        Ok((pool, version)) => Saved {
            status: status.as_u16(),
            body: serde_json::json!({ "pool": pool_json(pool, version) }),
            with_position: true,
        },
        Err(rejection) => Saved::rejected(rejection),
    }
}

fn render_created(decided: Result<(&Pool, i64), &Rejection>) -> Saved {
    answer(StatusCode::CREATED, decided)
}

fn render_pool(decided: Result<(&Pool, i64), &Rejection>) -> Saved {
    answer(StatusCode::OK, decided)
}

/// Payouts run after the answer: 202, and the pool says how far.
fn render_paying(decided: Result<(&Pool, i64), &Rejection>) -> Saved {
    answer(StatusCode::ACCEPTED, decided)
}

fn render_entry(decided: EntryDecided<'_>) -> Saved {
    match decided {
        Ok((wallet, version, pool, entry_id)) => {
            let entry = pool.entries.iter().rev().find(|e| e.entry_id == entry_id);
            Saved {
                status: StatusCode::CREATED.as_u16(),
                body: serde_json::json!({
                    "entry": entry.map(|e| serde_json::json!({
                        "id": e.entry_id.to_string(),
                        "pool": pool.id.as_str(),
                        "account": e.account.as_str(),
                        "outcome": e.outcome,
                        "stake": e.stake,
                    })),
                    "pool": { "id": pool.id.as_str(), "pot": pool.pot, "entries": pool.entries.len() },
                    "wallet": wallet_json(wallet, version),
                }),
                with_position: true,
            }
        }
        Err(rejection) => Saved::rejected(rejection),
    }
}

/// The write-side view of a pool.
pub(crate) fn pool_json(pool: &Pool, version: i64) -> serde_json::Value {
    let outcomes: Vec<serde_json::Value> = pool
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, name)| serde_json::json!({ "index": i, "name": name, "staked": pool.staked.get(i) }))
        .collect();
    let (winners, entries_done, paid, rake) = match &pool.status {
        PoolStatus::Paying {
            resolution,
            entries_done,
            paid,
        } => (winners(resolution), Some(*entries_done), Some(*paid), None),
        PoolStatus::Finished {
            resolution,
            paid,
            rake,
        } => (
            winners(resolution),
            Some(pool.entries.len() as u64),
            Some(*paid),
            Some(*rake),
        ),
        _ => (None, None, None, None),
    };
    serde_json::json!({
        "id": pool.id.as_str(),
        "name": pool.name,
        "status": pool.status.as_str(),
        "currency": pool.currency.as_str(),
        "min_entry": pool.min_entry,
        "rake_bp": pool.rake_bp,
        "closes_at": pool.closes_at,
        "pot": pool.pot,
        "entries": pool.entries.len(),
        "outcomes": outcomes,
        "winners": winners,
        "entries_paid": entries_done,
        "paid": paid,
        "rake": rake,
        "version": version,
    })
}

fn winners(resolution: &Resolution) -> Option<Vec<u16>> {
    match resolution {
        Resolution::Winners(w) => Some(w.clone()),
        Resolution::Cancelled => None,
    }
}
