-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_view transactional=true destructive=true object="user_names"
-- reason: not declared in the profile (prune: true)
DROP VIEW IF EXISTS "user_names";

-- tuner:step 2 kind=drop_index transactional=true destructive=true object="users_note"
-- reason: not declared in the profile (prune: true)
DROP INDEX IF EXISTS "users_note";

COMMIT;

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="users"
-- reason: the table has managed indexes and no statistics
ANALYZE "users";
