# Builds the one betledger binary (every role: serve, migrate, schema).
#
#   docker build -t betledger:local .
#   docker run --rm -e DATABASE_URL=postgres://... betledger:local betledger serve
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# No database at build time: any sqlx query macros use the checked-in
# offline data.
ENV SQLX_OFFLINE=true
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin betledger \
    && cp target/release/betledger /usr/local/bin/betledger

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin betledger
COPY --from=builder /usr/local/bin/betledger /usr/local/bin/betledger
USER betledger
ENV RUST_LOG=info
# command API, GraphQL, Rinha API
EXPOSE 8080 8081 9999
CMD ["betledger", "serve"]
