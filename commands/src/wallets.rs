//! The `/v1` wallet commands and the write-side account view.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use ledger::wallet::{Description, WalletCommand, WalletEvent};
use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, PaymentRef, StreamId, TransferId};
use serde::Deserialize;

use crate::body;
use crate::render::{wallet_json, Decision, Render, Reply, Saved};
use crate::{ApiError, AppState};

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/v1/accounts", post(open_account))
        .route("/v1/accounts/{id}", get(show_account))
        .route("/v1/accounts/{id}/deposits", post(deposit))
        .route("/v1/accounts/{id}/withdrawals", post(withdraw))
        .route("/v1/accounts/{id}/holds", post(place_hold))
        .route("/v1/holds/{id}/post", post(post_hold))
        .route("/v1/holds/{id}/void", post(void_hold))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route_not_found", "no such route".into())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenAccount {
    id: Option<String>,
    currency: String,
    #[serde(default)]
    credit_limit: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveFunds {
    amount: i64,
    currency: Option<String>,
    description: Option<String>,
    /// The payment gateway's id of a deposit or withdrawal; holds take none.
    payment_ref: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoFields {}

/// A command parsed from a request, ready for the writer.
pub(crate) struct Parsed {
    pub key: String,
    pub hash: Vec<u8>,
    pub size: usize,
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(
    state: &AppState,
    route: &str,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(T, Parsed), ApiError> {
    let key = body::idempotency_key(headers)?;
    let bytes = body::bytes(raw, state.config.body_bytes_max)?;
    let (typed, value) = body::json::<T>(&bytes)?;
    let hash = body::request_hash(route, &value);
    Ok((
        typed,
        Parsed {
            key,
            hash,
            size: bytes.len(),
        },
    ))
}

async fn submit(
    state: &AppState,
    parsed: Parsed,
    account: &AccountId,
    command: WalletCommand,
    render: Render,
) -> Result<Reply, ApiError> {
    let stream = StreamId::account(account);
    state
        .writer
        .submit(
            parsed.key,
            parsed.hash,
            stream,
            command,
            render,
            parsed.size,
        )
        .await
}

async fn open_account(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let (request, parsed) = parse::<OpenAccount>(&state, "POST /v1/accounts", &headers, raw)?;
    // A server-chosen id is time-ordered; a repeat of the key answers with
    // the id of the first attempt, from the recorded outcome.
    let account = match &request.id {
        Some(id) => AccountId::parse(id)?,
        None => AccountId::parse(&format!("acc-{}", uuid::Uuid::now_v7().simple()))?,
    };
    let command = WalletCommand::Open {
        account: account.clone(),
        currency: Currency::parse(&request.currency)?,
        credit_limit: CreditLimit::new(request.credit_limit)?,
    };
    submit(&state, parsed, &account, command, render_opened).await
}

/// A [`MoveFunds`] request, parsed.
struct MovementRequest {
    amount: Amount,
    currency: Option<Currency>,
    description: Option<Description>,
    payment_ref: Option<PaymentRef>,
}

fn parse_movement(request: &MoveFunds) -> Result<MovementRequest, ApiError> {
    let amount = Amount::new(request.amount)?;
    let currency = request
        .currency
        .as_deref()
        .map(Currency::parse)
        .transpose()?;
    let description = request
        .description
        .as_deref()
        .map(Description::parse)
        .transpose()?;
    let payment_ref = request
        .payment_ref
        .as_deref()
        .map(PaymentRef::parse)
        .transpose()?;
    Ok(MovementRequest {
        amount,
        currency,
        description,
        payment_ref,
    })
}

/// The three commands that move money on a wallet: one request shape, one
/// way to handle it, a different command and answer each.
#[derive(Clone, Copy)]
enum Movement {
    Deposit,
    Withdrawal,
    Hold,
}

impl Movement {
    fn route(self) -> &'static str {
        match self {
            Self::Deposit => "deposits",
            Self::Withdrawal => "withdrawals",
            Self::Hold => "holds",
        }
    }

    fn command(self, request: MovementRequest) -> Result<WalletCommand, ApiError> {
        let MovementRequest {
            amount,
            currency,
            description,
            payment_ref,
        } = request;
        Ok(match self {
            Self::Deposit => WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount,
                currency,
                description,
                payment_ref,
            },
            Self::Withdrawal => WalletCommand::Withdraw {
                transfer_id: TransferId::generate(),
                amount,
                currency,
                description,
                payment_ref,
            },
            // A hold moves money to the house, not through the gateway.
            Self::Hold if payment_ref.is_some() => {
                return Err(ApiError::InvalidRequest(
                    "payment_ref is for deposits and withdrawals; a hold takes none".into(),
                ))
            }
            Self::Hold => WalletCommand::PlaceHold {
                hold_id: HoldId::generate(),
                amount,
                currency,
                description,
            },
        })
    }

    fn render(self) -> Render {
        match self {
            Self::Deposit | Self::Withdrawal => render_moved,
            Self::Hold => render_hold,
        }
    }
}

async fn move_funds(
    state: &AppState,
    id: &str,
    headers: &HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    movement: Movement,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/accounts/{id}/{}", movement.route());
    let (request, parsed) = parse::<MoveFunds>(state, &route, headers, raw)?;
    let account = AccountId::parse(id)?;
    let command = movement.command(parse_movement(&request)?)?;
    submit(state, parsed, &account, command, movement.render()).await
}

async fn deposit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    move_funds(&state, &id, &headers, raw, Movement::Deposit).await
}

async fn withdraw(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    move_funds(&state, &id, &headers, raw, Movement::Withdrawal).await
}

async fn place_hold(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    move_funds(&state, &id, &headers, raw, Movement::Hold).await
}

async fn post_hold(
    state: State<AppState>,
    id: Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    resolve_hold(state, id, headers, raw, "post").await
}

async fn void_hold(
    state: State<AppState>,
    id: Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    resolve_hold(state, id, headers, raw, "void").await
}

async fn resolve_hold(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
    action: &'static str,
) -> Result<Reply, ApiError> {
    let (NoFields {}, parsed) = parse::<NoFields>(
        &state,
        &format!("POST /v1/holds/{id}/{action}"),
        &headers,
        raw,
    )?;
    let hold_id = uuid::Uuid::parse_str(&id)
        .map(HoldId::from_uuid)
        .map_err(|_| ledger::Rejection::HoldNotFound)?;
    let stream = state
        .store
        .find_hold_stream(&hold_id.to_string())
        .await
        .map_err(|_| ApiError::Unavailable)?
        .ok_or(ledger::Rejection::HoldNotFound)?;
    let command = match action {
        "post" => WalletCommand::PostHold { hold_id },
        _ => WalletCommand::VoidHold { hold_id },
    };
    state
        .writer
        .submit(
            parsed.key,
            parsed.hash,
            stream,
            command,
            render_hold,
            parsed.size,
        )
        .await
}

async fn show_account(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let missing = || {
        ApiError::NotFound(
            "account_not_found",
            format!("account {id:?} does not exist"),
        )
    };
    let account = AccountId::parse(&id).map_err(|_| missing())?;
    let current = state
        .cache
        .current(&state.store, &StreamId::account(&account))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let wallet = current.wallet().ok_or_else(missing)?;
    Ok(Reply {
        status: StatusCode::OK,
        body: serde_json::json!({ "account": wallet_json(wallet, current.head.version) }),
    })
}

fn accepted(
    status: StatusCode,
    decision: &Decision<'_>,
    extra: impl FnOnce(&[WalletEvent]) -> serde_json::Value,
) -> Saved {
    match decision {
        Decision::Rejected(rejection) => Saved::rejected(rejection),
        Decision::Accepted {
            wallet,
            version,
            events,
        } => {
            let mut body = extra(events);
            if let Some(object) = body.as_object_mut() {
                object.insert("account".into(), wallet_json(wallet, *version));
            }
            Saved {
                status: status.as_u16(),
                body,
                with_position: true,
            }
        }
    }
}

fn render_opened(decision: &Decision<'_>) -> Saved {
    accepted(StatusCode::CREATED, decision, |_| serde_json::json!({}))
}

fn render_moved(decision: &Decision<'_>) -> Saved {
    accepted(StatusCode::OK, decision, |events| {
        let transfer = events
            .iter()
            .find_map(|e| e.transfers().next())
            .map(|(t, _)| t.id.to_string());
        serde_json::json!({ "transfer_id": transfer })
    })
}

fn render_hold(decision: &Decision<'_>) -> Saved {
    let status = match decision {
        Decision::Accepted { events, .. }
            if matches!(events.first(), Some(WalletEvent::HoldPlaced(_))) =>
        {
            StatusCode::CREATED
        }
        _ => StatusCode::OK,
    };
    accepted(status, decision, |events| match events.first() {
        Some(WalletEvent::HoldPlaced(e)) => {
            serde_json::json!({ "hold_id": e.hold_id.to_string(), "status": "pending" })
        }
        Some(WalletEvent::HoldPosted(e)) => {
            serde_json::json!({ "hold_id": e.hold_id.to_string(), "status": "posted" })
        }
        Some(WalletEvent::HoldVoided(e)) => {
            serde_json::json!({ "hold_id": e.hold_id.to_string(), "status": "voided" })
        }
        _ => serde_json::json!({}),
    })
}
