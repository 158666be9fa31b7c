-- The ClickHouse projection's health (docs/analytics.md): its checkpoint is
-- the `clickhouse` row of projection_checkpoints, like any projection's;
-- this row says why it is not moving, if it is not. The sink writes it on
-- every failed step and clears it on the next step that succeeds, so the
-- query side (GraphQL `analyticsLag`) can show it from any process.
CREATE TABLE analytics_sink_status (
    name          text        PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 100),
    last_error    text        CHECK (length(last_error) <= 2000),
    failing_since timestamptz,
    failures      bigint      NOT NULL DEFAULT 0 CHECK (failures >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON analytics_sink_status TO betledger_app;
