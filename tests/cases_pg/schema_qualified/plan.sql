-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)
BEGIN;

-- tuner:step 1 kind=create_view transactional=true destructive=false object="app.recent_orders"
-- reason: view missing
CREATE OR REPLACE VIEW "app"."recent_orders" AS SELECT id, customer FROM app.orders WHERE placed > DATE '2025-01-01';

COMMIT;

-- tuner:step 2 kind=create_index transactional=false destructive=false object="app.orders_customer"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_customer" ON "app"."orders" ("customer", "placed");

-- tuner:step 3 kind=create_index transactional=false destructive=false object="orders_note"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_note" ON "public"."orders" ("note");

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="app.orders"
-- reason: refresh planner statistics after index changes
ANALYZE "app"."orders";

-- tuner:step 5 kind=analyze transactional=false destructive=false object="orders"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."orders";
