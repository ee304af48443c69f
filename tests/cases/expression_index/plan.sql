-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="users_day"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "users_day" ON "users" (created_at / 86400 DESC, "username");

-- tuner:step 2 kind=create_index transactional=true destructive=false object="users_username_lower"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "users_username_lower" ON "users" (lower(username));

COMMIT;

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="users"
-- reason: refresh planner statistics after index changes
ANALYZE "users";
