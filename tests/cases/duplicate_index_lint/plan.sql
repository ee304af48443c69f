-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="participants_event"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "participants_event" ON "participants" ("event_id");

-- tuner:step 2 kind=create_index transactional=true destructive=false object="participants_id"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "participants_id" ON "participants" ("id");

-- tuner:step 3 kind=create_index transactional=true destructive=false object="participants_user_status"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "participants_user_status" ON "participants" ("user_id", "status");

-- tuner:step 4 kind=create_index transactional=true destructive=false object="users_username"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "users_username" ON "users" ("username");

COMMIT;

-- Phase 3: statistics

-- tuner:step 5 kind=analyze transactional=false destructive=false object="participants"
-- reason: refresh planner statistics after index changes
ANALYZE "participants";

-- tuner:step 6 kind=analyze transactional=false destructive=false object="users"
-- reason: refresh planner statistics after index changes
ANALYZE "users";
