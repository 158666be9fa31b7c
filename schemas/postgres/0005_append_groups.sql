-- Commands that write several streams (a bet writes the player's wallet and
-- each market it is on): their events carry the one command id on every
-- stream, and the command is recorded once, with the position of its last
-- event on any stream, so a read-your-writes wait covers all of them.
--
-- The function takes the same arguments as before but one: a command's last
-- position no longer comes from (stream, version) of its last event; it is
-- the largest position this statement gave an event of that command id.
DROP FUNCTION events_append(
    text[], int8[], uuid[], text[], text[], int4[], jsonb[], jsonb[], timestamptz[], bytea[],
    bytea[], text[], text[], bytea[], jsonb[], int8[], text[], int8[]);

CREATE FUNCTION events_append(
    e_stream text[], e_version int8[], e_event_id uuid[], e_command_id text[],
    e_type text[], e_schema int4[], e_payload jsonb[], e_metadata jsonb[],
    e_recorded_at timestamptz[], e_prev_hash bytea[], e_hash bytea[],
    c_id text[], c_stream text[], c_hash bytea[], c_outcome jsonb[],
    r_stream text[], r_version int8[]
) RETURNS TABLE (stream_id text, stream_version bigint, global_position bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    ins_stream text[];
    ins_version int8[];
    ins_position int8[];
    ins_command text[];
    conflicted text[];
BEGIN
    IF cardinality(e_stream) > 0 THEN
        -- Taking the xid and drawing the positions under one lock keeps xid
        -- order equal to position order (ADR 0002).
        PERFORM pg_advisory_lock(7240117);
        PERFORM pg_current_xact_id();
        WITH ins AS (
            INSERT INTO events (stream_id, stream_version, event_id, command_id, event_type,
                                schema_version, payload, metadata, recorded_at, prev_hash, hash)
            SELECT * FROM unnest(e_stream, e_version, e_event_id, e_command_id, e_type,
                                 e_schema, e_payload, e_metadata, e_recorded_at,
                                 e_prev_hash, e_hash)
            ON CONFLICT DO NOTHING
            RETURNING events.stream_id, events.stream_version, events.global_position,
                      events.command_id
        )
        SELECT array_agg(ins.stream_id), array_agg(ins.stream_version),
               array_agg(ins.global_position), array_agg(ins.command_id)
        INTO ins_stream, ins_version, ins_position, ins_command
        FROM ins;
        PERFORM pg_advisory_unlock(7240117);
    END IF;

    -- Streams that wrote fewer events than they meant to, and streams that
    -- wrote none but were decided against a version that has moved.
    SELECT array_agg(DISTINCT s) INTO conflicted FROM (
        SELECT want.s FROM
            (SELECT s, count(*) AS n FROM unnest(e_stream) AS s GROUP BY s) want
            LEFT JOIN (SELECT s, count(*) AS n FROM unnest(ins_stream) AS s GROUP BY s) got
            USING (s)
        WHERE got.n IS DISTINCT FROM want.n
        UNION ALL
        SELECT r.s FROM unnest(r_stream, r_version) AS r(s, v)
        WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream_id = r.s AND e.stream_version > r.v)
    ) c;
    IF conflicted IS NOT NULL THEN
        RAISE EXCEPTION 'streams conflicted' USING ERRCODE = 'BL409',
            DETAIL = array_to_json(conflicted)::text;
    END IF;

    WITH recorded AS (
        INSERT INTO commands (command_id, stream_id, request_hash, outcome, last_position)
        SELECT c.id, c.s, c.h, c.o, p.pos
        FROM unnest(c_id, c_stream, c_hash, c_outcome) AS c(id, s, h, o)
        LEFT JOIN (SELECT cmd, max(pos) AS pos
                   FROM unnest(ins_command, ins_position) AS i(cmd, pos)
                   GROUP BY cmd) p
               ON p.cmd = c.id
        ON CONFLICT DO NOTHING
        RETURNING command_id
    )
    SELECT array_agg(DISTINCT c.s) INTO conflicted
    FROM unnest(c_id, c_stream) AS c(id, s)
    WHERE c.id NOT IN (SELECT command_id FROM recorded);
    IF conflicted IS NOT NULL THEN
        RAISE EXCEPTION 'command ids already recorded' USING ERRCODE = 'BL409',
            DETAIL = array_to_json(conflicted)::text;
    END IF;

    RETURN QUERY
        SELECT * FROM unnest(ins_stream, ins_version, ins_position);
END
$$;

GRANT EXECUTE ON FUNCTION events_append TO betledger_app;
