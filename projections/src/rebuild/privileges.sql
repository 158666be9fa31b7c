-- Statements that give table $2 in schema $1 the owner and the grants of
-- the same table in schema $3 (the one it replaces). A table made LIKE
-- another copies neither; the application's role (`betledger_app`) needs
-- its grants on the new table the moment it is swapped in. Owner first:
-- grants are then recorded as the owner's.
WITH source AS (
    SELECT c.relowner, c.relacl
    FROM pg_class c
    WHERE c.oid = to_regclass(format('%I.%I', $3, $2))
)
SELECT statement FROM (
    SELECT 1 AS step, format('ALTER TABLE %I.%I OWNER TO %I', $1, $2, pg_get_userbyid(s.relowner))
                          AS statement
    FROM source s
    UNION ALL
    SELECT 2, format('GRANT %s ON %I.%I TO %s%s', a.privilege_type, $1, $2,
                     CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                          ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                     CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
    FROM source s, aclexplode(s.relacl) a
    WHERE a.grantee <> s.relowner
) statements
ORDER BY step
