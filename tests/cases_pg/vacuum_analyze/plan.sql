-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)

-- tuner:step 1 kind=create_index transactional=false destructive=false object="events_date"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_date" ON "public"."events" ("date");

-- Phase 3: statistics

-- tuner:step 2 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
VACUUM (ANALYZE) "public"."events";
