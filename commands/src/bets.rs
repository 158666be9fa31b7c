//! A player's bets: `/v1/accounts/{id}/bets` places a single or an
//! accumulator; cash-out asks for an offer and accepts it.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::{Duration, Utc};
use ledger::sportsbook::bet::{current_odds, LegRequest, OddsPolicy, PlaceBet, LEGS_MAX};
use ledger::sportsbook::market::MarketState;
use ledger::sportsbook::odds::{Odds, ODDS_SCALE};
use ledger::wallet::{AcceptCashOut, Bet, BetStatus, OfferCashOut, WalletCommand};
use ledger::{AccountId, Amount, BetId, MarketId, OfferId, Rejection, StreamId};
use serde::Deserialize;

use crate::cache::Aggregate;
use crate::render::{wallet_json, Decision, Reply, Saved};
use crate::wallets::{parse, Parsed};
use crate::writer::{BetDecided, Command};
use crate::{ApiError, AppState};

/// How long a cash-out offer stands.
pub const CASH_OUT_OFFER_VALID_S: i64 = 10;

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/v1/accounts/{id}/bets", post(place_bet))
        .route(
            "/v1/accounts/{id}/bets/{bet}/cash-out-offers",
            post(offer_cash_out),
        )
        .route("/v1/accounts/{id}/bets/{bet}/cash-out", post(cash_out))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBetRequest {
    stake: i64,
    legs: Vec<LegBody>,
    #[serde(default = "exact")]
    odds_policy: OddsPolicy,
}

fn exact() -> OddsPolicy {
    OddsPolicy::Exact
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LegBody {
    market: String,
    outcome: u16,
    /// The decimal odds the player saw, as the API shows them ("2.5000").
    odds: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptOffer {
    offer_id: uuid::Uuid,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

/// Decimal odds of up to four decimals, as text: "2.5", "2.5000".
fn parse_odds(text: &str) -> Result<Odds, ApiError> {
    let invalid = || {
        ApiError::InvalidRequest(format!(
            "odds {text:?} must be a decimal with at most 4 decimals, like \"2.5000\""
        ))
    };
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 9 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 4) {
        return Err(invalid());
    }
    let fraction = fraction.unwrap_or("");
    let whole: u64 = whole.parse().map_err(|_| invalid())?;
    let scaled: u64 = format!("{fraction:0<4}").parse().map_err(|_| invalid())?;
    Ok(Odds(whole * ODDS_SCALE + scaled))
}

async fn place_bet(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/accounts/{id}/bets");
    let (request, parsed) = parse::<PlaceBetRequest>(&state, &route, &headers, raw)?;
    let account = AccountId::parse(&id)?;
    if request.legs.is_empty() || request.legs.len() > LEGS_MAX {
        return Err(Rejection::InvalidBet(format!(
            "a bet has 1 to {LEGS_MAX} legs, got {}",
            request.legs.len()
        ))
        .into());
    }
    let mut legs = Vec::with_capacity(request.legs.len());
    for leg in &request.legs {
        legs.push(LegRequest {
            market: MarketId::parse(&leg.market)?,
            outcome: leg.outcome,
            odds_seen: parse_odds(&leg.odds)?,
        });
    }
    let mut streams = vec![StreamId::account(&account)];
    streams.extend(legs.iter().map(|l| StreamId::market(&l.market)));
    if (1..streams.len()).any(|i| streams[1..i].contains(&streams[i])) {
        return Err(Rejection::InvalidBet("two legs are on one market".into()).into());
    }
    // A repeat of the key answers with the first attempt's bet id, from the
    // recorded outcome; this one is used only if the command is new.
    let command = PlaceBet {
        bet_id: BetId::generate(),
        stake: Amount::new(request.stake)?,
        legs,
        policy: request.odds_policy,
    };
    let command = Command::Bet {
        streams,
        command,
        render: render_placed,
    };
    submit(&state, parsed, command).await
}

async fn submit(state: &AppState, parsed: Parsed, command: Command) -> Result<Reply, ApiError> {
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

fn bet_id(text: &str) -> Result<BetId, ApiError> {
    uuid::Uuid::parse_str(text)
        .map(BetId::from_uuid)
        .map_err(|_| ApiError::NotFound("bet_not_found", format!("bet {text:?} does not exist")))
}

/// The wallet's bet and its markets' streams, as the store has them now.
async fn bet_of(
    state: &AppState,
    account: &AccountId,
    bet: BetId,
) -> Result<(Bet, Vec<StreamId>), ApiError> {
    let current = state
        .cache
        .current(&state.store, &StreamId::account(account))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let wallet = current.wallet().ok_or(Rejection::AccountNotFound)?;
    let found = wallet.bets.get(&bet).ok_or(Rejection::BetNotFound)?;
    let markets = found
        .legs
        .iter()
        .map(|leg| StreamId::market(&leg.market))
        .collect();
    Ok(((**found).clone(), markets))
}

async fn offer_cash_out(
    State(state): State<AppState>,
    Path((id, bet)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/accounts/{id}/bets/{bet}/cash-out-offers");
    let (NoFields {}, parsed) = parse::<NoFields>(&state, &route, &headers, raw)?;
    let account = AccountId::parse(&id)?;
    let bet_id = bet_id(&bet)?;
    let (found, market_streams) = bet_of(&state, &account, bet_id).await?;
    // The offer prices the bet at the markets' odds now; it is the wallet's
    // decision (and stands for a while), so only the wallet is written.
    let mut markets: Vec<MarketState> = Vec::with_capacity(market_streams.len());
    for stream in &market_streams {
        let current = state
            .cache
            .current(&state.store, stream)
            .await
            .map_err(|_| ApiError::Unavailable)?;
        match current.state {
            Aggregate::Market(market) => markets.push(market),
            Aggregate::Wallet(_) | Aggregate::Show(_) | Aggregate::Pool(_) => {
                return Err(Rejection::MarketNotFound.into())
            }
        }
    }
    let refs: Vec<&MarketState> = markets.iter().collect();
    let odds = current_odds(&refs, &found)?;
    let now = Utc::now();
    let command = WalletCommand::OfferCashOut(OfferCashOut {
        bet_id,
        offer_id: OfferId::generate(),
        current_odds: odds,
        now,
        expires_at: now + Duration::seconds(CASH_OUT_OFFER_VALID_S),
    });
    state
        .writer
        .submit(
            parsed.key,
            parsed.hash,
            StreamId::account(&account),
            command,
            render_offer,
            parsed.size,
        )
        .await
}

async fn cash_out(
    State(state): State<AppState>,
    Path((id, bet)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/accounts/{id}/bets/{bet}/cash-out");
    let (request, parsed) = parse::<AcceptOffer>(&state, &route, &headers, raw)?;
    let account = AccountId::parse(&id)?;
    let bet_id = bet_id(&bet)?;
    let (_, market_streams) = bet_of(&state, &account, bet_id).await?;
    let mut streams = vec![StreamId::account(&account)];
    streams.extend(market_streams);
    let command = Command::CashOut {
        streams,
        command: AcceptCashOut {
            bet_id,
            offer_id: OfferId::from_uuid(request.offer_id),
            now: Utc::now(),
        },
        render: render_bet,
    };
    submit(&state, parsed, command).await
}

fn bet_answer(status: StatusCode, decided: BetDecided<'_>) -> Saved {
    match decided {
        Ok((wallet, version, id, bet)) => Saved {
            status: status.as_u16(),
            body: serde_json::json!({
                "bet": bet_json(id, bet),
                "account": wallet_json(wallet, version),
            }),
            with_position: true,
        },
        Err(rejection) => Saved::rejected(rejection),
    }
}

fn render_placed(decided: BetDecided<'_>) -> Saved {
    bet_answer(StatusCode::CREATED, decided)
}

fn render_bet(decided: BetDecided<'_>) -> Saved {
    bet_answer(StatusCode::OK, decided)
}

fn render_offer(decision: &Decision<'_>) -> Saved {
    match decision {
        Decision::Rejected(rejection) => Saved::rejected(rejection),
        Decision::Accepted { events, .. } => {
            let offer = events.iter().find_map(|e| match e {
                ledger::wallet::WalletEvent::CashOutOffered(o) => Some(o),
                _ => None,
            });
            match offer {
                Some(o) => Saved {
                    status: StatusCode::CREATED.as_u16(),
                    body: serde_json::json!({
                        "offer": {
                            "bet_id": o.bet_id.to_string(),
                            "offer_id": o.offer_id.to_string(),
                            "amount": o.amount.get(),
                            "expires_at": o.expires_at,
                        }
                    }),
                    with_position: true,
                },
                None => Saved::rejected(&Rejection::CashOutUnavailable),
            }
        }
    }
}

/// The write-side view of a bet.
pub(crate) fn bet_json(id: BetId, bet: &Bet) -> serde_json::Value {
    let legs: Vec<serde_json::Value> = bet
        .legs
        .iter()
        .map(|leg| {
            serde_json::json!({
                "market": leg.market.as_str(),
                "outcome": leg.outcome,
                "odds": leg.odds.to_string(),
                "result": leg.result.as_ref().map(|(_, r)| r),
            })
        })
        .collect();
    let (status, returned) = match bet.status {
        BetStatus::Open => ("open", None),
        BetStatus::Settled { returned, .. } => ("settled", Some(returned)),
        BetStatus::CashedOut { amount } => ("cashed_out", Some(amount)),
    };
    serde_json::json!({
        "id": id.to_string(),
        "stake": bet.stake.get(),
        "odds": bet.odds.to_string(),
        "payout_if_wins": bet.payout_if_wins,
        "status": status,
        "returned": returned,
        "legs": legs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odds_parse_from_decimal_text() {
        assert_eq!(parse_odds("2.5").ok(), Some(Odds(25_000)));
        assert_eq!(parse_odds("2.5000").ok(), Some(Odds(25_000)));
        assert_eq!(parse_odds("1000").ok(), Some(Odds(10_000_000)));
        for bad in ["", "2.", ".5", "2.50001", "-2", "2,5", "1e3", "9999999999"] {
            assert!(parse_odds(bad).is_err(), "{bad:?}");
        }
    }
}
