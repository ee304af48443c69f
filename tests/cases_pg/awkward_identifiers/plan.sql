-- Phase 1: indexes and views, one statement at a time (CONCURRENTLY cannot run in a transaction)

-- tuner:step 1 kind=create_index transactional=false destructive=false object="Odd \"idx\""
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Odd ""idx""" ON "public"."Odd ""Table""" ("Mixed Col", "select");

-- tuner:step 2 kind=create_view transactional=false destructive=false object="Odd \"view\""
-- reason: view missing
CREATE OR REPLACE VIEW "public"."Odd ""view""" AS SELECT "Mixed Col" AS "Select" FROM "Odd ""Table""";

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="Odd \"Table\""
-- reason: refresh planner statistics after index changes
ANALYZE "public"."Odd ""Table""";
