//! The Rinha de Backend 2024/Q1 API, served by the same ledger: client `n`
//! is the wallet `rinha-n`, a `c` is a deposit and a `d` a withdrawal.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use chrono::{SecondsFormat, Utc};
use ledger::wallet::{Description, WalletCommand, WalletEvent};
use ledger::{AccountId, Amount, CreditLimit, Currency, Rejection, StreamId, TransferId};

use crate::render::{Decision, Reply, Saved};
use crate::{body, ApiError, AppState};

/// The clients that exist from the start, with their credit limits.
pub const RINHA_CLIENTS: [(u32, i64); 5] = [
    (1, 100_000),
    (2, 80_000),
    (3, 1_000_000),
    (4, 10_000_000),
    (5, 500_000),
];

const RINHA_CURRENCY: &str = "BRL";
const DESCRIPTION_CHARS_MAX: usize = 10;
const STATEMENT_LEN_MAX: i64 = 10;

pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config.body_bytes_max;
    Router::new()
        .route("/clientes/{id}/transacoes", post(transact))
        .route("/clientes/{id}/extrato", get(statement))
        .fallback(|| async { not_found() })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Opens the five clients unless they exist. Safe to run on every start and
/// from several processes at once: the command ids are fixed.
pub async fn seed_clients(state: &AppState) -> Result<(), ApiError> {
    for (id, limit) in RINHA_CLIENTS {
        let account = client_account(id)?;
        let command = WalletCommand::Open {
            account: account.clone(),
            currency: Currency::parse(RINHA_CURRENCY)?,
            credit_limit: CreditLimit::new(limit)?,
        };
        let reply = state
            .writer
            .submit(
                format!("rinha-seed-{id}"),
                b"rinha-seed".to_vec(),
                StreamId::account(&account),
                command,
                render_seed,
                0,
            )
            .await?;
        if !reply.status.is_success() && reply.status != StatusCode::UNPROCESSABLE_ENTITY {
            return Err(ApiError::Internal(
                format!("seeding client {id} answered {}", reply.status).into(),
            ));
        }
    }
    Ok(())
}

fn render_seed(decision: &Decision<'_>) -> Saved {
    match decision {
        Decision::Accepted { .. } => Saved {
            status: 201,
            body: serde_json::json!({}),
            with_position: false,
        },
        Decision::Rejected(rejection) => Saved::rejected(rejection),
    }
}

fn client_account(id: u32) -> Result<AccountId, ApiError> {
    Ok(AccountId::parse(&format!("rinha-{id}"))?)
}

/// The account of a known client; every other id, numeric or not, is 404.
fn client(id: &str) -> Result<AccountId, ApiError> {
    let known = id
        .parse::<u32>()
        .ok()
        .filter(|n| RINHA_CLIENTS.iter().any(|(c, _)| c == n));
    match known {
        Some(n) => client_account(n),
        None => Err(not_found()),
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("client_not_found", "no such client".into())
}

/// Rinha answers every invalid body with 422, whatever was wrong with it.
fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::InvalidRequest(detail.into())
}

fn parse_transaction(bytes: &[u8]) -> Result<(Amount, bool, Description), ApiError> {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let valor = value
        .get("valor")
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| invalid("valor must be a positive integer"))?;
    let amount = Amount::new(valor).map_err(|_| invalid("valor must be a positive integer"))?;
    let credit = match value.get("tipo").and_then(serde_json::Value::as_str) {
        Some("c") => true,
        Some("d") => false,
        _ => return Err(invalid("tipo must be \"c\" or \"d\"")),
    };
    let text = value
        .get("descricao")
        .and_then(serde_json::Value::as_str)
        .filter(|d| (1..=DESCRIPTION_CHARS_MAX).contains(&d.chars().count()))
        .ok_or_else(|| invalid("descricao must be a string of 1 to 10 characters"))?;
    let description = Description::parse(text).map_err(|_| invalid("invalid descricao"))?;
    Ok((amount, credit, description))
}

async fn transact(
    State(state): State<AppState>,
    Path(id): Path<String>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Reply, ApiError> {
    let account = client(&id)?;
    let bytes = body::bytes(raw, state.config.body_bytes_max)?;
    let (amount, credit, description) = parse_transaction(&bytes)?;
    let transfer_id = TransferId::generate();
    let description = Some(description);
    let command = if credit {
        WalletCommand::Deposit {
            transfer_id,
            amount,
            currency: None,
            description,
            payment_ref: None,
        }
    } else {
        WalletCommand::Withdraw {
            transfer_id,
            amount,
            currency: None,
            description,
            payment_ref: None,
        }
    };
    // Rinha sends no idempotency key; each request is a command of its own.
    let command_id = format!("rinha:{transfer_id}");
    state
        .writer
        .submit(
            command_id,
            Vec::new(),
            StreamId::account(&account),
            command,
            render_transaction,
            bytes.len(),
        )
        .await
}

fn render_transaction(decision: &Decision<'_>) -> Saved {
    match decision {
        Decision::Accepted { wallet, .. } => Saved {
            status: 200,
            body: serde_json::json!({ "limite": wallet.credit_limit.get(), "saldo": wallet.balance.posted() }),
            with_position: false,
        },
        Decision::Rejected(Rejection::AccountNotFound) => {
            let error = not_found();
            Saved {
                status: error.status().as_u16(),
                body: error.problem(),
                with_position: false,
            }
        }
        Decision::Rejected(rejection) => Saved::rejected(rejection),
    }
}

async fn statement(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Reply, ApiError> {
    let account = client(&id)?;
    let stream = StreamId::account(&account);
    // Read from the store, not a projection: every acknowledged transaction
    // has committed, so it is here, whichever node acknowledged it.
    let current = state
        .cache
        .current(&state.store, &stream)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let wallet = current.wallet().ok_or_else(not_found)?;
    let types = [WalletEvent::FUNDS_DEPOSITED, WalletEvent::FUNDS_WITHDRAWN];
    let latest = state
        .store
        .read_stream_latest(&stream, &types, STATEMENT_LEN_MAX)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let mut transactions = Vec::with_capacity(latest.len());
    for recorded in &latest {
        let event = WalletEvent::from_stored(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.payload,
        )
        .map_err(ApiError::internal)?;
        let (moved, tipo) = match &event {
            WalletEvent::FundsDeposited(m) => (m, "c"),
            WalletEvent::FundsWithdrawn(m) => (m, "d"),
            _ => continue,
        };
        transactions.push(serde_json::json!({
            "valor": moved.transfer.amount.get(),
            "tipo": tipo,
            "descricao": moved.description.as_deref().unwrap_or(""),
            "realizada_em": recorded.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        }));
    }
    let body = serde_json::json!({
        "saldo": {
            "total": wallet.balance.posted(),
            "data_extrato": Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
            "limite": wallet.credit_limit.get(),
        },
        "ultimas_transacoes": transactions,
    });
    Ok(Reply {
        status: StatusCode::OK,
        body,
    })
}
