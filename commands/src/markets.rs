//! The operator's `/v1/markets` commands (open, suspend, resume, close,
//! settle, re-settle) and the write-side view of a market.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ledger::sportsbook::market::{Market, MarketCommand, MarketResult, MarketStatus};
use ledger::sportsbook::odds::{Pricing, BP};
use ledger::{Currency, MarketId, Rejection, SettlementId, StreamId};
use serde::Deserialize;

use crate::render::{Reply, Saved};
use crate::wallets::{parse, NoFields};
use crate::writer::Command;
use crate::{ApiError, AppState};

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/v1/markets", post(open_market))
        .route("/v1/markets/{id}", get(show_market))
        .route("/v1/markets/{id}/suspend", post(suspend))
        .route("/v1/markets/{id}/resume", post(resume))
        .route("/v1/markets/{id}/close", post(close))
        .route("/v1/markets/{id}/settlements", post(settle))
        .route("/v1/markets/{id}/resettlements", post(resettle))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenMarket {
    id: String,
    name: String,
    starts_at: DateTime<Utc>,
    currency: String,
    outcomes: Vec<String>,
    /// The operator's probabilities in basis points; even when left out.
    prior_bp: Option<Vec<u64>>,
    prior_weight: u64,
    margin_bp: u64,
    liability_limit: i64,
    #[serde(default = "one")]
    stake_min: i64,
    stake_max: i64,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settle {
    result: MarketResult,
}

/// An even prior: 10,000 basis points shared, the remainder to the first
/// outcomes so that they sum exactly.
fn even_prior(outcomes: usize) -> Vec<u64> {
    let n = outcomes.max(1) as u64;
    (0..n).map(|i| BP / n + u64::from(i < BP % n)).collect()
}

async fn open_market(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let (request, parsed) = parse::<OpenMarket>(&state, "POST /v1/markets", &headers, raw)?;
    let market = MarketId::parse(&request.id)?;
    let prior_bp = request
        .prior_bp
        .unwrap_or_else(|| even_prior(request.outcomes.len()));
    let command = MarketCommand::Open {
        market: market.clone(),
        name: request.name,
        starts_at: request.starts_at,
        currency: Currency::parse(&request.currency)?,
        outcomes: request.outcomes,
        pricing: Pricing {
            prior_bp,
            prior_weight: request.prior_weight,
            margin_bp: request.margin_bp,
        },
        liability_limit: request.liability_limit,
        stake_min: request.stake_min,
        stake_max: request.stake_max,
    };
    submit(&state, parsed, &market, command, render_opened).await
}

async fn lifecycle(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    action: &str,
    command: MarketCommand,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/markets/{id}/{action}");
    let (NoFields {}, parsed) = parse::<NoFields>(state, &route, headers, raw)?;
    let market = MarketId::parse(id)?;
    submit(state, parsed, &market, command, render_market).await
}

async fn suspend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    lifecycle(
        &state,
        &id,
        &headers,
        raw,
        "suspend",
        MarketCommand::Suspend,
    )
    .await
}

async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    lifecycle(&state, &id, &headers, raw, "resume", MarketCommand::Resume).await
}

async fn close(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    lifecycle(&state, &id, &headers, raw, "close", MarketCommand::Close).await
}

async fn settle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/markets/{id}/settlements");
    let (request, parsed) = parse::<Settle>(&state, &route, &headers, raw)?;
    let market = MarketId::parse(&id)?;
    let command = MarketCommand::StartSettlement {
        settlement_id: SettlementId::generate(),
        result: request.result,
    };
    let reply = submit(&state, parsed, &market, command, render_settlement).await?;
    state.settler.wake();
    Ok(reply)
}

async fn resettle(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/markets/{id}/resettlements");
    let (request, parsed) = parse::<Settle>(&state, &route, &headers, raw)?;
    let market = MarketId::parse(&id)?;
    let command = MarketCommand::Resettle {
        settlement_id: SettlementId::generate(),
        result: request.result,
    };
    let reply = submit(&state, parsed, &market, command, render_settlement).await?;
    state.settler.wake();
    Ok(reply)
}

async fn submit(
    state: &AppState,
    parsed: crate::wallets::Parsed,
    market: &MarketId,
    command: MarketCommand,
    render: crate::writer::MarketRender,
) -> Result<Reply, ApiError> {
    let command = Command::Market {
        stream: StreamId::market(market),
        command,
        render,
    };
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

async fn show_market(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let missing =
        || ApiError::NotFound("market_not_found", format!("market {id:?} does not exist"));
    let market = MarketId::parse(&id).map_err(|_| missing())?;
    let current = state
        .cache
        .current(&state.store, &StreamId::market(&market))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let open = current.market().ok_or_else(missing)?;
    Ok(Reply {
        status: StatusCode::OK,
        body: serde_json::json!({ "market": market_json(open, current.head.version) }),
    })
}

fn answer(status: StatusCode, decided: Result<(&Market, i64), &Rejection>) -> Saved {
    match decided {
        Ok((market, version)) => Saved {
            status: status.as_u16(),
            body: serde_json::json!({ "market": market_json(market, version) }),
            with_position: true,
        },
        Err(rejection) => Saved::rejected(rejection),
    }
}

fn render_opened(decided: Result<(&Market, i64), &Rejection>) -> Saved {
    answer(StatusCode::CREATED, decided)
}

fn render_market(decided: Result<(&Market, i64), &Rejection>) -> Saved {
    answer(StatusCode::OK, decided)
}

/// A settlement runs after the answer: 202, and the market says how far.
fn render_settlement(decided: Result<(&Market, i64), &Rejection>) -> Saved {
    answer(StatusCode::ACCEPTED, decided)
}

/// The write-side view of a market.
pub(crate) fn market_json(market: &Market, version: i64) -> serde_json::Value {
    let outcomes: Vec<serde_json::Value> = market
        .outcomes
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let index = u16::try_from(i).unwrap_or(u16::MAX);
            serde_json::json!({
                "index": index,
                "name": name,
                "odds": market.odds.get(i).map(|o| o.to_string()),
                "staked": market.staked.get(i),
                "liability": market.liability(index),
            })
        })
        .collect();
    let settlement = match &market.status {
        MarketStatus::Settling {
            settlement_id,
            result,
            replaces,
            bets_settled,
            ..
        } => serde_json::json!({
            "id": settlement_id.to_string(),
            "result": result,
            "replaces": replaces.map(|r| r.to_string()),
            "bets_settled": bets_settled,
        }),
        MarketStatus::Settled {
            settlement_id,
            result,
        } => serde_json::json!({ "id": settlement_id.to_string(), "result": result }),
        _ => serde_json::Value::Null,
    };
    serde_json::json!({
        "id": market.id.as_str(),
        "name": market.name,
        "starts_at": market.starts_at,
        "currency": market.currency.as_str(),
        "status": market.status.as_str(),
        "outcomes": outcomes,
        "margin_bp": market.pricing.margin_bp,
        "liability_limit": market.liability_limit,
        "stake_min": market.stake_min,
        "stake_max": market.stake_max,
        "bets": market.bets,
        "settlement": settlement,
        "version": version,
    })
}
