-- Objects other than views that read a view (materialized views, through their pg_rewrite
-- rule): tuner cannot drop and recreate the view without dropping them, so it refuses to.
SELECT DISTINCT vn.nspname AS schema, v.relname AS name,
       dn.nspname AS dependent_schema, dc.relname AS dependent, dc.relkind::text AS kind
FROM pg_catalog.pg_depend d
JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_catalog.pg_class dc ON dc.oid = r.ev_class
JOIN pg_catalog.pg_namespace dn ON dn.oid = dc.relnamespace
JOIN pg_catalog.pg_class v ON v.oid = d.refobjid AND d.refclassid = 'pg_catalog.pg_class'::regclass
JOIN pg_catalog.pg_namespace vn ON vn.oid = v.relnamespace
WHERE v.relkind = 'v' AND dc.relkind <> 'v' AND dc.oid <> v.oid
ORDER BY 1, 2, 3, 4
