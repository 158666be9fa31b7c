-- The schema of the live table: the one that the table's unqualified name
-- finds on the session's search path, as the projection's SQL finds it.
-- No row when there is no such ordinary table.
SELECT n.nspname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(quote_ident($1))
  AND c.relkind = 'r'
