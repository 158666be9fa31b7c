//! The HTTP surface: `POST /graphql` runs a query, `GET /graphql` serves
//! GraphiQL.

use async_graphql::http::GraphiQLSource;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sqlx::PgPool;

use crate::{schema, QueriesConfig, QuerySchema};

const ENDPOINT: &str = "/graphql";

/// The GraphQL routes, reading from `pool`.
pub fn router(pool: PgPool, config: QueriesConfig) -> Router {
    let body_bytes_max = config.request_bytes_max;
    Router::new()
        .route(ENDPOINT, get(graphiql).post(graphql))
        // `Bytes` honours this limit; async-graphql-axum's extractor reads
        // the whole body whatever its size, so it is not used.
        .layer(DefaultBodyLimit::max(body_bytes_max))
        .with_state(schema(pool, config))
}

/// Runs one GraphQL request (batches are not accepted: one request, one
/// bounded amount of work).
async fn graphql(State(schema): State<QuerySchema>, body: Bytes) -> Response {
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => {
            let body = serde_json::json!({
                "errors": [{
                    "message": format!("the body is not a GraphQL request: {error}"),
                    "extensions": { "code": "bad_request" },
                }]
            });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    Json(schema.execute(request).await).into_response()
}

async fn graphiql() -> Html<String> {
    Html(GraphiQLSource::build().endpoint(ENDPOINT).finish())
}
