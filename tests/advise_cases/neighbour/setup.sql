-- A query served well enough by an existing index (in ORDER BY order, ~120 rows a total) that
-- filters one more column the chosen index for another query starts with: the chosen
-- (total, status) is widened with customer_id so the first reads only the index, in order.
CREATE INDEX orders_total_customer ON orders(total, customer_id);
