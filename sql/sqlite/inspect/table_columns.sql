-- The columns of one table, hidden and generated ones included.
SELECT name, type, pk FROM pragma_table_xinfo(?) ORDER BY cid
