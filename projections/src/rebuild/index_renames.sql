-- CREATE TABLE ... LIKE names the copy's indexes by Postgres' default rule,
-- not as the live table's are named (`markets_by_status`, say). These
-- statements give each index of the copy (table $3 in schema $2) the name
-- of the live index of the same definition (same table in schema $1), so
-- that after the swap every index has the name the migrations gave it.
WITH ix AS (
    SELECT x.indrelid, i.relname, x.indisunique, x.indisprimary,
           substr(pg_get_indexdef(x.indexrelid), strpos(pg_get_indexdef(x.indexrelid), ' USING '))
               AS definition
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid IN (to_regclass(format('%I.%I', $1, $3)), to_regclass(format('%I.%I', $2, $3)))
)
SELECT format('ALTER INDEX %I.%I RENAME TO %I', $2, copy.relname, live.relname)
FROM ix live
JOIN ix copy USING (definition, indisunique, indisprimary)
WHERE live.indrelid = to_regclass(format('%I.%I', $1, $3))
  AND copy.indrelid = to_regclass(format('%I.%I', $2, $3))
  AND copy.relname <> live.relname
