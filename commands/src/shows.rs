//! The box office over HTTP: the operator schedules, reprices and cancels
//! shows (`/v1/shows`); customers reserve seats, confirm reservations and
//! give tickets back. A customer's command is one command on the show and
//! the customer's wallet, decided in the show's writer shard and committed
//! as one group (ADR 0005). Expiry and cancellation run in the box-office
//! process (`box_office.rs`).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    Reservation, Reserve, Show, ShowCommand, TicketStatus, TierSpec, RESERVATION_TTL_S_DEFAULT,
    TIERS_MAX,
};
use ledger::{AccountId, Currency, Rejection, ReservationId, ShowId, StreamId, TicketId};
use serde::Deserialize;

use crate::render::{Reply, Saved};
use crate::wallets::{parse, NoFields, Parsed};
use crate::writer::{Command, SeatsRequest, Subject};
use crate::{ApiError, AppState};

/// Seats one customer may hold at a show unless the operator says otherwise.
pub const SEATS_PER_CUSTOMER_DEFAULT: u32 = 10;

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/v1/shows", post(schedule))
        .route("/v1/shows/{id}", get(show))
        .route("/v1/shows/{id}/pricing", post(pricing))
        .route("/v1/shows/{id}/refund-rule", post(refund_rule))
        .route("/v1/shows/{id}/cancel", post(cancel))
        .route("/v1/shows/{id}/reservations", post(reserve))
        .route(
            "/v1/shows/{id}/reservations/{reservation}/confirm",
            post(confirm),
        )
        .route("/v1/shows/{id}/tickets/{ticket}/cancel", post(give_back))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScheduleShow {
    id: String,
    name: String,
    starts_at: DateTime<Utc>,
    currency: String,
    tiers: Vec<TierBody>,
    seats_per_customer_max: Option<u32>,
    reservation_ttl_s: Option<u32>,
    refund_rule: Option<RefundRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierBody {
    name: String,
    capacity: u32,
    base_price: i64,
    #[serde(default)]
    steps: Vec<PriceStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePricing {
    tier: u16,
    steps: Vec<PriceStep>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReserveBody {
    account: String,
    tier: u16,
    seats: u32,
}

async fn schedule(
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let (request, parsed) = parse::<ScheduleShow>(&state, "POST /v1/shows", &headers, raw)?;
    let show = ShowId::parse(&request.id)?;
    if request.tiers.len() > TIERS_MAX {
        return Err(Rejection::InvalidShow(format!("a show has 1 to {TIERS_MAX} tiers")).into());
    }
    let command = ShowCommand::Schedule {
        show: show.clone(),
        name: request.name,
        starts_at: request.starts_at,
        currency: Currency::parse(&request.currency)?,
        tiers: request
            .tiers
            .into_iter()
            .map(|t| TierSpec {
                name: t.name,
                capacity: t.capacity,
                base_price: t.base_price,
                steps: t.steps,
            })
            .collect(),
        seats_per_customer_max: request
            .seats_per_customer_max
            .unwrap_or(SEATS_PER_CUSTOMER_DEFAULT),
        reservation_ttl_s: request
            .reservation_ttl_s
            .unwrap_or(RESERVATION_TTL_S_DEFAULT),
        refund_rule: request.refund_rule.unwrap_or_default(),
    };
    submit_show(&state, parsed, &show, command, render_scheduled).await
}

async fn pricing(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/pricing");
    let (request, parsed) = parse::<ChangePricing>(&state, &route, &headers, raw)?;
    let show = ShowId::parse(&id)?;
    let command = ShowCommand::ChangePricing {
        tier: request.tier,
        steps: request.steps,
    };
    submit_show(&state, parsed, &show, command, render_show).await
}

async fn refund_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/refund-rule");
    let (refund_rule, parsed) = parse::<RefundRule>(&state, &route, &headers, raw)?;
    let show = ShowId::parse(&id)?;
    let command = ShowCommand::ChangeRefundRule { refund_rule };
    submit_show(&state, parsed, &show, command, render_show).await
}

async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/cancel");
    let (NoFields {}, parsed) = parse::<NoFields>(&state, &route, &headers, raw)?;
    let show = ShowId::parse(&id)?;
    let reply = submit_show(
        &state,
        parsed,
        &show,
        ShowCommand::Cancel,
        render_cancelling,
    )
    .await?;
    state.box_office.wake();
    Ok(reply)
}

async fn submit_show(
    state: &AppState,
    parsed: Parsed,
    show: &ShowId,
    command: ShowCommand,
    render: crate::writer::ShowRender,
) -> Result<Reply, ApiError> {
    let command = Command::Show {
        stream: StreamId::show(show),
        command,
        render,
    };
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

async fn reserve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/reservations");
    let (request, parsed) = parse::<ReserveBody>(&state, &route, &headers, raw)?;
    let show = ShowId::parse(&id)?;
    let account = AccountId::parse(&request.account)?;
    // A repeat of the key answers with the first attempt's reservation, from
    // the recorded outcome; this id is used only if the command is new.
    let command = SeatsRequest::Reserve(Reserve {
        reservation_id: ReservationId::generate(),
        account: account.clone(),
        tier: request.tier,
        seats: request.seats,
        now: Utc::now(),
    });
    submit_seats(&state, parsed, &show, &account, command, render_reserved).await
}

/// The show as the store has it now, for finding whose a reservation or
/// ticket is (the decision checks it again against the state it decides on).
async fn current_show(state: &AppState, show: &ShowId) -> Result<Show, ApiError> {
    let current = state
        .cache
        .current(&state.store, &StreamId::show(show))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    current
        .show()
        .cloned()
        .ok_or_else(|| Rejection::ShowNotFound.into())
}

fn uuid_of(text: &str, code: &'static str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(text)
        .map_err(|_| ApiError::NotFound(code, format!("{text:?} does not exist")))
}

async fn confirm(
    State(state): State<AppState>,
    Path((id, reservation)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/reservations/{reservation}/confirm");
    let (NoFields {}, parsed) = parse::<NoFields>(&state, &route, &headers, raw)?;
    let show_id = ShowId::parse(&id)?;
    let reservation_id = ReservationId::from_uuid(uuid_of(&reservation, "reservation_not_found")?);
    let show = current_show(&state, &show_id).await?;
    let account = show
        .reservations
        .get(&reservation_id)
        .map(|r| r.account.clone())
        .ok_or(Rejection::ReservationNotFound)?;
    let command = SeatsRequest::Confirm {
        reservation_id,
        now: Utc::now(),
    };
    submit_seats(
        &state,
        parsed,
        &show_id,
        &account,
        command,
        render_confirmed,
    )
    .await
}

async fn give_back(
    State(state): State<AppState>,
    Path((id, ticket)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let route = format!("POST /v1/shows/{id}/tickets/{ticket}/cancel");
    let (NoFields {}, parsed) = parse::<NoFields>(&state, &route, &headers, raw)?;
    let show_id = ShowId::parse(&id)?;
    let ticket_id = TicketId::from_uuid(uuid_of(&ticket, "ticket_not_found")?);
    let show = current_show(&state, &show_id).await?;
    let account = show
        .tickets
        .get(&ticket_id)
        .and_then(|r| show.reservations.get(r))
        .map(|r| r.account.clone())
        .ok_or(Rejection::TicketNotFound)?;
    let command = SeatsRequest::CancelTicket {
        ticket_id,
        now: Utc::now(),
    };
    submit_seats(
        &state,
        parsed,
        &show_id,
        &account,
        command,
        render_given_back,
    )
    .await
}

async fn submit_seats(
    state: &AppState,
    parsed: Parsed,
    show: &ShowId,
    account: &AccountId,
    command: SeatsRequest,
    render: crate::writer::SeatsRender,
) -> Result<Reply, ApiError> {
    let command = Command::Seats {
        streams: vec![StreamId::show(show), StreamId::account(account)],
        command,
        render,
    };
    state
        .writer
        .submit_command(parsed.key, parsed.hash, command, parsed.size)
        .await
}

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Reply, ApiError> {
    let missing = || ApiError::NotFound("show_not_found", format!("show {id:?} does not exist"));
    let show_id = ShowId::parse(&id).map_err(|_| missing())?;
    let current = state
        .cache
        .current(&state.store, &StreamId::show(&show_id))
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let found = current.show().ok_or_else(missing)?;
    Ok(Reply {
        status: StatusCode::OK,
        body: serde_json::json!({ "show": show_json(found, current.head.version) }),
    })
}

fn answer(status: StatusCode, decided: Result<(&Show, i64), &Rejection>) -> Saved {
    match decided {
        Ok((show, version)) => Saved {
            status: status.as_u16(),
            body: serde_json::json!({ "show": show_json(show, version) }),
            with_position: true,
        },
        Err(rejection) => Saved::rejected(rejection),
    }
}

fn render_scheduled(decided: Result<(&Show, i64), &Rejection>) -> Saved {
    answer(StatusCode::CREATED, decided)
}

fn render_show(decided: Result<(&Show, i64), &Rejection>) -> Saved {
    answer(StatusCode::OK, decided)
}

/// The refunds run after the answer: 202, and the show says how far.
fn render_cancelling(decided: Result<(&Show, i64), &Rejection>) -> Saved {
    answer(StatusCode::ACCEPTED, decided)
}

fn seats_answer(status: StatusCode, decided: Result<(&Show, i64, Subject), &Rejection>) -> Saved {
    let (show, version, subject) = match decided {
        Ok(ok) => ok,
        Err(rejection) => return Saved::rejected(rejection),
    };
    let body = match subject {
        Subject::Reservation(id) => match show.reservations.get(&id) {
            Some(r) => serde_json::json!({ "reservation": reservation_json(show, id, r) }),
            None => return Saved::rejected(&Rejection::ReservationNotFound),
        },
        Subject::Ticket(ticket) => {
            let found = show.tickets.get(&ticket).and_then(|id| {
                let r = show.reservations.get(id)?;
                let status = r.tickets.iter().find(|(t, _)| *t == ticket)?.1;
                Some((*id, r, status))
            });
            match found {
                Some((id, r, status)) => serde_json::json!({
                    "ticket": ticket_json(ticket, status),
                    "reservation": reservation_json(show, id, r),
                }),
                None => return Saved::rejected(&Rejection::TicketNotFound),
            }
        }
    };
    let mut body = body;
    if let Some(object) = body.as_object_mut() {
        object.insert("show_version".into(), version.into());
    }
    Saved {
        status: status.as_u16(),
        body,
        with_position: true,
    }
}

fn render_reserved(decided: Result<(&Show, i64, Subject), &Rejection>) -> Saved {
    seats_answer(StatusCode::CREATED, decided)
}

fn render_confirmed(decided: Result<(&Show, i64, Subject), &Rejection>) -> Saved {
    seats_answer(StatusCode::OK, decided)
}

fn render_given_back(decided: Result<(&Show, i64, Subject), &Rejection>) -> Saved {
    seats_answer(StatusCode::OK, decided)
}

fn ticket_json(id: TicketId, status: TicketStatus) -> serde_json::Value {
    let (status, refund) = match status {
        TicketStatus::Valid => ("valid", None),
        TicketStatus::Cancelled { refund } => ("cancelled", Some(refund)),
        TicketStatus::Refunded => ("refunded", None),
    };
    serde_json::json!({ "id": id.to_string(), "status": status, "refund": refund })
}

pub(crate) fn reservation_json(
    show: &Show,
    id: ReservationId,
    r: &Reservation,
) -> serde_json::Value {
    serde_json::json!({
        "id": id.to_string(),
        "show": show.id.as_str(),
        "account": r.account.as_str(),
        "tier": r.tier,
        "seats": r.seats,
        "unit_price": r.unit_price,
        "amount": r.unit_price.saturating_mul(i64::from(r.seats)),
        "currency": show.currency.as_str(),
        "expires_at": r.expires_at,
        "status": r.status.as_str(),
        "tickets": r.tickets.iter().map(|(t, s)| ticket_json(*t, *s)).collect::<Vec<_>>(),
    })
}

/// The write-side view of a show.
pub(crate) fn show_json(show: &Show, version: i64) -> serde_json::Value {
    let tiers: Vec<serde_json::Value> = show
        .tiers
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({
                "index": i,
                "name": t.name,
                "capacity": t.capacity,
                "base_price": t.base_price,
                "steps": t.steps,
                "reserved": t.reserved,
                "sold": t.sold,
                "seats_left": t.seats_left(),
                "current_price": t.current_price(),
            })
        })
        .collect();
    serde_json::json!({
        "id": show.id.as_str(),
        "name": show.name,
        "starts_at": show.starts_at,
        "currency": show.currency.as_str(),
        "status": show.status.as_str(),
        "tiers": tiers,
        "seats_per_customer_max": show.seats_per_customer_max,
        "reservation_ttl_s": show.reservation_ttl_s,
        "refund_rule": show.refund_rule,
        "money_held": show.money_held,
        "money_taken": show.money_taken,
        "reservations_released": show.reservations_released,
        "tickets_refunded": show.tickets_refunded,
        "version": version,
    })
}
