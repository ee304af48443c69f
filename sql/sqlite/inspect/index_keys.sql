-- The key columns of one index in order. cid -1 is the rowid, -2 an expression.
SELECT seqno, cid, name, "desc", coll FROM pragma_index_xinfo(?) WHERE key ORDER BY seqno
