-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)
BEGIN;

-- tuner:step 1 kind=drop_view transactional=true destructive=true object="user_names"
-- reason: not declared in the profile (prune: true)
DROP VIEW IF EXISTS "public"."user_names";

COMMIT;

-- tuner:step 2 kind=drop_index transactional=false destructive=true object="users_username"
-- reason: not declared in the profile (prune: true)
DROP INDEX CONCURRENTLY IF EXISTS "public"."users_username";

-- tuner:step 3 kind=create_index transactional=false destructive=false object="users_lower_username"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "users_lower_username" ON "public"."users" ((lower(username)));

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="users"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."users";
