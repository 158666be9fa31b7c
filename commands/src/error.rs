//! The command API's one error enum and its mapping to HTTP: every error is
//! an `application/problem+json` document with a stable `code`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger::Rejection;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// 400: commands need an `Idempotency-Key` header.
    #[error("the Idempotency-Key header is required on commands")]
    IdempotencyKeyMissing,
    /// 400: the header is there but unusable.
    #[error("the Idempotency-Key header must be 1 to 200 visible ASCII characters")]
    IdempotencyKeyInvalid,
    /// 413: the body is over the limit.
    #[error("the body is larger than {0} bytes")]
    BodyTooLarge(usize),
    /// 422: JSON of the wrong shape (unknown field, wrong type, overflow).
    #[error("{0}")]
    InvalidRequest(String),
    /// 422: the domain refused the command.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// 404: what the path names does not exist.
    #[error("{1}")]
    NotFound(&'static str, String),
    /// 409: the key was used before with a different request.
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    /// 503: the writer's queue is full; retry later.
    #[error("too many commands are waiting; retry shortly")]
    Overloaded,
    /// 503: the stream kept changing under us; retry later.
    #[error("the account is too contended right now; retry shortly")]
    Contended,
    /// 503: the commit did not answer in time; retry with the same key.
    #[error("the command did not complete in time; retry with the same Idempotency-Key")]
    Timeout,
    /// 503: the store could not be reached; retry with the same key.
    #[error("the ledger's store is unavailable; retry with the same Idempotency-Key")]
    Unavailable,
    /// 500: logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn internal(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Internal(Box::new(err))
    }

    /// A store read that failed: unavailable when the database did not
    /// answer, internal when what it answered could not be read.
    pub(crate) fn from_store(err: ledger::Error) -> Self {
        match err {
            ledger::Error::Database(_) => Self::Unavailable,
            other => Self::internal(other),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::IdempotencyKeyMissing | Self::IdempotencyKeyInvalid => {
                StatusCode::BAD_REQUEST
            }
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::InvalidRequest(_) | Self::Rejected(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(..) => StatusCode::NOT_FOUND,
            Self::IdempotencyKeyReused => StatusCode::CONFLICT,
            Self::Overloaded | Self::Contended | Self::Timeout | Self::Unavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::IdempotencyKeyMissing => "idempotency_key_missing",
            Self::IdempotencyKeyInvalid => "idempotency_key_invalid",
            Self::BodyTooLarge(_) => "body_too_large",
            Self::InvalidRequest(_) => "invalid_request",
            Self::Rejected(r) => r.code(),
            Self::NotFound(code, _) => code,
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::Overloaded => "overloaded",
            Self::Contended => "contended",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The problem document (RFC 9457) for this error. A rejection that
    /// tells the client what to do next carries it as fields: the odds now,
    /// so a front end can show them and ask again.
    pub fn problem(&self) -> serde_json::Value {
        let mut document = problem(self.status(), self.code(), &self.to_string());
        if let (Self::Rejected(Rejection::OddsChanged { leg, current }), Some(fields)) =
            (self, document.as_object_mut())
        {
            fields.insert("leg".into(), (*leg).into());
            fields.insert(
                "current_odds".into(),
                ledger::sportsbook::odds::Odds(*current).to_string().into(),
            );
        }
        document
    }
}

pub(crate) fn problem(status: StatusCode, code: &str, detail: &str) -> serde_json::Value {
    serde_json::json!({
        "type": format!("https://betledger.dev/problems/{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(source) = &self {
            tracing::error!(error = %ledger::error_chain(source.as_ref()), "command failed");
        }
        let mut response = json_response(self.status(), &self.problem());
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// A JSON response; errors are sent as problem documents.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let content_type = if status.is_client_error() || status.is_server_error() {
        "application/problem+json"
    } else {
        "application/json"
    };
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
