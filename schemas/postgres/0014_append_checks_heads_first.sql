-- An append checks each stream's head once, then inserts plainly.
--
-- Until now the events went in with `INSERT ... ON CONFLICT DO NOTHING`,
-- and a stream that got fewer rows than it sent had conflicted. That is a
-- speculative insertion for every event: a probe of the (stream_id,
-- stream_version) index before the row goes in, and a second WAL record to
-- confirm it after. A settlement's chunk writes 2,667 events on 2,000
-- streams; a wallet command one event on one stream.
--
-- Inside the append lock (ADR 0002) no other append can move a stream, so
-- one probe a stream, "does the log hold any version from the first one I
-- bring?", finds every conflict before anything is written, and the rows
-- then go in with a plain INSERT. A batch that brings one stream's version
-- twice conflicts on that stream too, as it did.
--
-- The lock is released before a commit (ADR 0002), so an append may still
-- be uncommitted when the next one checks: its rows are not visible yet,
-- the check passes, and the plain INSERT waits on that append's index
-- entries until it commits, then fails with a unique violation. That is
-- caught (a subtransaction, one a batch, not one an event), the check runs
-- again and now sees the rows, and the batch conflicts as before. The lock
-- is released before a conflict is raised, so a conflict (an everyday
-- thing: two nodes, a stale cache) leaves the connection usable; anything
-- else that fails under the lock closes the connection, which releases it.
--
-- Same arguments, same results, same errors as 0005's function.

-- The streams of a batch whose first version the log already holds, or
-- whose versions the batch brings twice; NULL when there are none.
CREATE FUNCTION events_append_conflicts(e_stream text[], e_version int8[])
RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(DISTINCT c.s) FROM (
        SELECT w.s
        FROM (SELECT s, min(v) AS v FROM unnest(e_stream, e_version) AS b(s, v)
              GROUP BY s) w
        WHERE EXISTS (SELECT 1 FROM events e
                      WHERE e.stream_id = w.s AND e.stream_version >= w.v)
        UNION ALL
        SELECT b.s FROM unnest(e_stream, e_version) AS b(s, v)
        GROUP BY b.s, b.v HAVING count(*) > 1
    ) c
$$;

CREATE OR REPLACE FUNCTION events_append(
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
        conflicted := events_append_conflicts(e_stream, e_version);
        IF conflicted IS NULL THEN
            BEGIN
                WITH ins AS (
                    INSERT INTO events (stream_id, stream_version, event_id, command_id,
                                        event_type, schema_version, payload, metadata,
                                        recorded_at, prev_hash, hash)
                    SELECT * FROM unnest(e_stream, e_version, e_event_id, e_command_id,
                                         e_type, e_schema, e_payload, e_metadata,
                                         e_recorded_at, e_prev_hash, e_hash)
                    RETURNING events.stream_id, events.stream_version,
                              events.global_position, events.command_id
                )
                SELECT array_agg(ins.stream_id), array_agg(ins.stream_version),
                       array_agg(ins.global_position), array_agg(ins.command_id)
                INTO ins_stream, ins_version, ins_position, ins_command
                FROM ins;
            EXCEPTION WHEN unique_violation THEN
                -- An append that had released the lock but not yet
                -- committed wrote one of these versions: the insert waited
                -- for its commit, and the check sees its rows now.
                conflicted := events_append_conflicts(e_stream, e_version);
                IF conflicted IS NULL THEN
                    PERFORM pg_advisory_unlock(7240117);
                    RAISE;
                END IF;
            END;
        END IF;
        PERFORM pg_advisory_unlock(7240117);
        IF conflicted IS NOT NULL THEN
            RAISE EXCEPTION 'streams conflicted' USING ERRCODE = 'BL409',
                DETAIL = array_to_json(conflicted)::text;
        END IF;
    END IF;

    -- Streams that wrote nothing but were decided against a version that
    -- has moved.
    SELECT array_agg(DISTINCT r.s) INTO conflicted
    FROM unnest(r_stream, r_version) AS r(s, v)
    WHERE EXISTS (SELECT 1 FROM events e WHERE e.stream_id = r.s AND e.stream_version > r.v);
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

GRANT EXECUTE ON FUNCTION events_append_conflicts TO betledger_app;
