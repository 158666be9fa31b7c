-- What would break if table $2 of schema $1 moved to another schema and was
-- dropped there: views and rules that read it, foreign keys from or to it,
-- triggers (a copy made LIKE it has none), and defaults drawn from a
-- sequence (the copy's would still draw from the live table's sequence,
-- which is dropped with it). One row per blocker, none when it may move.
WITH t AS (SELECT to_regclass(format('%I.%I', $1, $2)) AS oid)
SELECT format('view or rule %s reads it', r.ev_class::regclass)
FROM t
JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass
JOIN pg_rewrite r ON r.oid = d.objid
WHERE r.ev_class <> t.oid
UNION ALL
SELECT format('foreign key %I', c.conname)
FROM t
JOIN pg_constraint c ON c.contype = 'f' AND (c.conrelid = t.oid OR c.confrelid = t.oid)
UNION ALL
SELECT format('trigger %I', g.tgname)
FROM t
JOIN pg_trigger g ON g.tgrelid = t.oid AND NOT g.tgisinternal
UNION ALL
SELECT format('column %I takes its default from a sequence', a.attname)
FROM t
JOIN pg_attrdef ad ON ad.adrelid = t.oid
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
WHERE pg_get_expr(ad.adbin, ad.adrelid) LIKE 'nextval(%'
