//! What a command answers, decided with it and saved with it, so that a
//! repeat of the same idempotency key gets the very same status and body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ledger::wallet::{Wallet, WalletEvent};
use ledger::Rejection;

use crate::error::json_response;
use crate::ApiError;

/// The outcome of deciding one command.
pub(crate) enum Decision<'a> {
    Accepted {
        wallet: &'a Wallet,
        version: i64,
        events: &'a [WalletEvent],
    },
    Rejected(&'a Rejection),
}

/// Builds the saved response of a command from its decision.
pub(crate) type Render = fn(&Decision<'_>) -> Saved;

/// A response as saved with the command. `position` is filled in at reply
/// time from where the command's events landed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Saved {
    pub status: u16,
    pub body: serde_json::Value,
    pub with_position: bool,
}

impl Saved {
    pub fn rejected(rejection: &Rejection) -> Self {
        let error = ApiError::Rejected(rejection.clone());
        Self {
            status: error.status().as_u16(),
            body: error.problem(),
            with_position: false,
        }
    }

    pub fn to_outcome(&self) -> serde_json::Value {
        serde_json::json!({ "status": self.status, "body": self.body, "with_position": self.with_position })
    }

    pub fn from_outcome(outcome: &serde_json::Value) -> Option<Self> {
        Some(Self {
            status: u16::try_from(outcome.get("status")?.as_u64()?).ok()?,
            body: outcome.get("body")?.clone(),
            with_position: outcome.get("with_position")?.as_bool()?,
        })
    }

    pub fn reply(mut self, position: Option<i64>) -> Reply {
        if let (true, Some(object)) = (self.with_position, self.body.as_object_mut()) {
            object.insert("position".into(), position.into());
        }
        Reply {
            status: StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: self.body,
        }
    }
}

/// A command's HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub body: serde_json::Value,
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// The write-side view of a wallet.
pub(crate) fn wallet_json(wallet: &Wallet, version: i64) -> serde_json::Value {
    let pending_holds = wallet
        .holds
        .values()
        .filter(|h| h.status == ledger::wallet::HoldStatus::Pending)
        .count();
    serde_json::json!({
        "id": wallet.id.as_str(),
        "currency": wallet.currency.as_str(),
        "credit_limit": wallet.credit_limit.get(),
        "balance": wallet.balance.posted(),
        "available": wallet.available(),
        "posted_debits": wallet.balance.posted_debits,
        "posted_credits": wallet.balance.posted_credits,
        "pending_debits": wallet.balance.pending_debits,
        "pending_credits": wallet.balance.pending_credits,
        "pending_holds": pending_holds,
        "version": version,
    })
}
