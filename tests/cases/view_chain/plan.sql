-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_view transactional=true destructive=false object="totals"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "totals";

-- tuner:step 2 kind=drop_view transactional=true destructive=false object="paid_orders"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "paid_orders";

-- tuner:step 3 kind=replace_view transactional=true destructive=false object="paid_orders"
-- reason: definition differs: query differs
CREATE VIEW IF NOT EXISTS "paid_orders" AS SELECT id, customer, amount FROM orders WHERE status IN ('paid', 'refunded');

-- tuner:step 4 kind=replace_view transactional=true destructive=false object="totals"
-- reason: definition differs: query differs
CREATE VIEW IF NOT EXISTS "totals" AS SELECT customer, sum(amount) AS total, count(*) AS n FROM paid_orders GROUP BY customer;

-- tuner:step 5 kind=create_view transactional=true destructive=false object="z_customer_totals"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "z_customer_totals" AS SELECT customer, total FROM totals;

-- tuner:step 6 kind=create_view transactional=true destructive=false object="a_big_spenders"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "a_big_spenders" AS SELECT customer FROM z_customer_totals WHERE total > 100;

COMMIT;
