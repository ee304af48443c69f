-- Ordinary and partitioned tables outside the system schemas and tuner's own schema, with
-- their columns and the planner's row estimate (reltuples is -1 until the first ANALYZE or
-- VACUUM, PostgreSQL 14+).
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       c.reltuples::bigint AS reltuples,
       ARRAY(SELECT a.attname::text FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS columns,
       ARRAY(SELECT pg_catalog.format_type(a.atttypid, a.atttypmod)
                    || CASE WHEN a.attcollation <> 0 THEN ' ' || a.attcollation::regcollation::text
                            ELSE '' END
             FROM pg_catalog.pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS types
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'tuner')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
ORDER BY 1, 2
