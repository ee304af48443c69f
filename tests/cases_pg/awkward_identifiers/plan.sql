-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)
BEGIN;

-- tuner:step 1 kind=create_view transactional=true destructive=false object="Odd \"view\""
-- reason: view missing
CREATE OR REPLACE VIEW "public"."Odd ""view""" AS SELECT "Mixed Col" AS "Select" FROM "Odd ""Table""";

COMMIT;

-- tuner:step 2 kind=create_index transactional=false destructive=false object="Odd \"idx\""
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Odd ""idx""" ON "public"."Odd ""Table""" ("Mixed Col", "select");

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="Odd \"Table\""
-- reason: refresh planner statistics after index changes
ANALYZE "public"."Odd ""Table""";
