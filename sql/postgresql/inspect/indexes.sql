-- Every index on the tables of tables.sql, valid or not (indisvalid = false after a failed
-- CREATE INDEX CONCURRENTLY), with the constraint that owns it, if any, and whether it is a
-- partition's part of an index on a partitioned table (attached: it goes with the parent's). %(schema)s: NULL for
-- every schema, or the one schema to read (pg_temp when normalizing desired indexes).
SELECT n.nspname AS schema, ic.relname AS name, tn.nspname AS table_schema,
       t.relname AS table_name, t.relkind::text AS table_kind, am.amname AS method,
       i.indisunique AS is_unique, i.indisvalid AND i.indisready AS is_valid,
       i.indnkeyatts AS nkeys, i.indnatts AS natts,
       pg_catalog.pg_get_indexdef(i.indexrelid) AS definition,
       pg_catalog.pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       con.contype::text AS constraint_type, ic.relispartition AS is_partition,
       ARRAY(SELECT pg_catalog.pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) k ORDER BY k) AS key_texts,
       ARRAY(SELECT COALESCE(a.attname::text, '')
             FROM generate_series(1, i.indnatts) k
             LEFT JOIN pg_catalog.pg_attribute a
                    ON a.attrelid = i.indrelid AND a.attnum = i.indkey[k - 1]
                   AND i.indkey[k - 1] <> 0
             ORDER BY k) AS key_columns,
       ARRAY(SELECT COALESCE(opc.opcname::text || CASE WHEN opc.opcdefault THEN '' ELSE '!' END,
                             '')
             FROM generate_series(1, i.indnkeyatts) k
             LEFT JOIN pg_catalog.pg_opclass opc ON opc.oid = i.indclass[k - 1]
             ORDER BY k) AS opclasses,
       ARRAY(SELECT COALESCE(coll.collname::text, '')
             FROM generate_series(1, i.indnkeyatts) k
             LEFT JOIN pg_catalog.pg_collation coll ON coll.oid = i.indcollation[k - 1]
             ORDER BY k) AS collations,
       ARRAY(SELECT i.indoption[k - 1]::int FROM generate_series(1, i.indnkeyatts) k
             ORDER BY k) AS options
FROM pg_catalog.pg_index i
JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
JOIN pg_catalog.pg_namespace n ON n.oid = ic.relnamespace
JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
JOIN pg_catalog.pg_namespace tn ON tn.oid = t.relnamespace
JOIN pg_catalog.pg_am am ON am.oid = ic.relam
LEFT JOIN pg_catalog.pg_constraint con
       ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
      AND con.contype IN ('p', 'u', 'x')
WHERE t.relkind IN ('r', 'p')
  AND CASE WHEN %(schema)s::text IS NULL
           THEN tn.nspname NOT IN ('pg_catalog', 'information_schema', 'tuner')
                AND tn.nspname NOT LIKE 'pg\_toast%%' AND tn.nspname NOT LIKE 'pg\_temp%%'
           ELSE tn.oid = pg_catalog.pg_my_temp_schema() END
ORDER BY 1, 2
