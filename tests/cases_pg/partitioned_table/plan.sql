-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)

-- tuner:step 1 kind=drop_index transactional=false destructive=true object="measurements_id"
-- reason: not declared in the profile (prune: true) (measurements is partitioned, and PostgreSQL cannot build or drop an index on a partitioned table CONCURRENTLY: this plain form blocks writes to every partition while it runs)
DROP INDEX IF EXISTS "public"."measurements_id";

-- tuner:step 2 kind=create_index transactional=false destructive=false object="measurements_taken"
-- reason: index missing (measurements is partitioned, and PostgreSQL cannot build or drop an index on a partitioned table CONCURRENTLY: this plain form blocks writes to every partition while it runs)
CREATE INDEX IF NOT EXISTS "measurements_taken" ON "public"."measurements" ("taken" DESC);

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="measurements"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."measurements";
