-- Every schema object with its definition. sqlite_* objects (sqlite_sequence, sqlite_stat*)
-- belong to SQLite; automatic indexes are read per table through pragma_index_list.
SELECT type, name, tbl_name, sql
FROM sqlite_master
WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'view' THEN 1 WHEN 'index' THEN 2 ELSE 3 END, name
