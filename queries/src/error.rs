//! The GraphQL surface's one error enum. Each variant becomes a GraphQL
//! error whose `extensions.code` is the stable code in its doc comment;
//! database and unexpected errors are logged and shown only as `internal`.

use async_graphql::ErrorExtensions;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// `projection_behind`: the read model had not reached `atLeast` when
    /// the bounded wait ended. Retrying later is safe.
    #[error(
        "the {projection} projection is behind: it is at position {reached}, \
         not yet {wanted}, after {waited_ms} ms; retry later"
    )]
    ProjectionBehind {
        projection: String,
        wanted: i64,
        reached: i64,
        waited_ms: u64,
    },
    /// `currency_required`: the account has balances in several currencies
    /// (only system accounts can), so the query must name one.
    #[error("account {account} has balances in several currencies; pass `currency`")]
    CurrencyRequired { account: String },
    /// `invalid_argument`: an argument is malformed or out of range.
    #[error("invalid argument `{argument}`: {reason}")]
    InvalidArgument {
        argument: &'static str,
        reason: String,
    },
    /// `analytics_unavailable`: ClickHouse is not configured for this
    /// process, or did not answer (in time). Retrying later may work.
    #[error("analytics are unavailable: {0}")]
    AnalyticsUnavailable(String),
    /// `internal`: anything else. The cause is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl QueryError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::ProjectionBehind { .. } => "projection_behind",
            Self::CurrencyRequired { .. } => "currency_required",
            Self::InvalidArgument { .. } => "invalid_argument",
            Self::AnalyticsUnavailable(_) => "analytics_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn invalid(argument: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            argument,
            reason: reason.into(),
        }
    }

    /// The GraphQL error a client sees. Resolvers call this once, at their
    /// edge: async-graphql turns any `Display` error into a message, so
    /// letting a database error through with `?` would show it to clients.
    pub(crate) fn into_graphql(self) -> async_graphql::Error {
        if let Self::Internal(source) = &self {
            tracing::error!(
                error = projections::error_chain(source.as_ref()),
                "GraphQL query failed"
            );
        }
        self.extend()
    }
}

impl ErrorExtensions for QueryError {
    fn extend(&self) -> async_graphql::Error {
        let code = self.code();
        async_graphql::Error::new(self.to_string()).extend_with(|_, e| e.set("code", code))
    }
}

impl From<sqlx::Error> for QueryError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(Box::new(error))
    }
}

impl From<projections::Error> for QueryError {
    fn from(error: projections::Error) -> Self {
        match error {
            projections::Error::Behind {
                projection,
                wanted,
                reached,
                waited_ms,
            } => Self::ProjectionBehind {
                projection,
                wanted,
                reached,
                waited_ms,
            },
            projections::Error::ReportParams { problem, .. } => Self::InvalidArgument {
                argument: "reports",
                reason: problem,
            },
            // ClickHouse down or slow: not the client's fault, not a bug.
            projections::Error::ClickHouse { .. }
            | projections::Error::ClickHouseTimeout { .. } => {
                tracing::warn!(error = projections::error_chain(&error), "report failed");
                Self::AnalyticsUnavailable(error.to_string())
            }
            other => Self::Internal(Box::new(other)),
        }
    }
}
