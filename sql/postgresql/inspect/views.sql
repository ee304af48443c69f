-- Views outside the system schemas: the definition as the server deparses it, the columns with
-- their types (CREATE OR REPLACE VIEW may only append columns), and what each one reads from
-- (pg_depend through the view's pg_rewrite rule), and its owner, comment and privileges, which
-- a view dropped and created again must get back. %(temp)s: read the session's temp views.
SELECT n.nspname AS schema, c.relname AS name,
       pg_catalog.pg_get_viewdef(c.oid, true) AS definition,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS columns,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
             FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS types,
       ARRAY(SELECT DISTINCT CASE WHEN rn.nspname IN ('public', 'pg_temp')
                                    OR rn.oid = pg_catalog.pg_my_temp_schema()
                                  THEN rc.relname::text
                                  ELSE rn.nspname || '.' || rc.relname END
             FROM pg_catalog.pg_rewrite r
             JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_rewrite'::regclass
                  AND d.objid = r.oid AND d.refclassid = 'pg_catalog.pg_class'::regclass
             JOIN pg_catalog.pg_class rc ON rc.oid = d.refobjid
             JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE r.ev_class = c.oid AND d.refobjid <> c.oid) AS depends_on,
       pg_catalog.pg_get_userbyid(c.relowner) AS owner,
       pg_catalog.obj_description(c.oid, 'pg_class') AS comment,
       -- what DROP VIEW loses: privileges granted to others than the owner (0: PUBLIC)
       (SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                   CASE WHEN a.grantee = 0 THEN NULL
                        ELSE pg_catalog.pg_get_userbyid(a.grantee) END,
                   a.privilege_type, a.is_grantable)
                   ORDER BY a.grantee, a.privilege_type), '[]')
        FROM pg_catalog.aclexplode(c.relacl) a
        WHERE a.grantee <> c.relowner) AS privileges
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'
  AND CASE WHEN %(temp)s
           THEN n.oid = pg_catalog.pg_my_temp_schema()
           ELSE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tuner')
                AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%' END
ORDER BY 1, 2
