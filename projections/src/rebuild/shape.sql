-- The shape of table $2 in schema $1: its columns in order (name, type,
-- NOT NULL, generated) and the names of its indexes. A copy made LIKE the
-- live table has the same shape until someone alters one of them. NULL
-- columns when there is no such table.
WITH t AS (SELECT to_regclass(format('%I.%I', $1, $2)) AS oid)
SELECT (SELECT coalesce(array_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
                                CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                                CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END)
                         ORDER BY a.attnum), '{}')
        FROM pg_attribute a
        WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       (SELECT coalesce(array_agg(i.relname::text ORDER BY i.relname), '{}')
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = t.oid) AS indexes
FROM t
WHERE t.oid IS NOT NULL
