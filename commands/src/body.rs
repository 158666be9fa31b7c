//! Turning a request into a command's inputs: the body as JSON of the right
//! shape, the idempotency key, and the hash that tells a repeat from a reuse.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use ledger::store::canonical_json;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::ApiError;

const IDEMPOTENCY_KEY_LEN_MAX: usize = 200;

/// The body bytes, or a problem when they were too many.
pub(crate) fn bytes(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection {
        BytesRejection::FailedToBufferBody(_) => ApiError::BodyTooLarge(limit),
        other => ApiError::MalformedJson(other.body_text()),
    })
}

/// Parses JSON into `T`, keeping the parsed value for hashing. Bad syntax is
/// a 400; the wrong shape (unknown field, wrong type, overflow) a 422.
pub(crate) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<(T, serde_json::Value), ApiError> {
    let text = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    let typed = T::deserialize(&value).map_err(|e| ApiError::InvalidRequest(e.to_string()))?;
    Ok((typed, value))
}

/// The client's `Idempotency-Key`, required on every command.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let value = headers
        .get("idempotency-key")
        .ok_or(ApiError::IdempotencyKeyMissing)?;
    let key = value
        .to_str()
        .map_err(|_| ApiError::IdempotencyKeyInvalid)?;
    let visible = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_LEN_MAX || !visible {
        return Err(ApiError::IdempotencyKeyInvalid);
    }
    Ok(format!("key:{key}"))
}

/// Identifies a request by what it asks for, not how it was spelt: the same
/// key with the same route and JSON is a repeat, with anything else a reuse.
pub(crate) fn request_hash(route: &str, body: &serde_json::Value) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(route.as_bytes());
    hasher.update([0]);
    hasher.update(canonical_json(body));
    hasher.finalize().to_vec()
}
