-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_view transactional=true destructive=true object="users_by_name"
-- reason: not declared in the profile (prune: true)
DROP VIEW IF EXISTS "users_by_name";

-- tuner:step 2 kind=drop_index transactional=true destructive=true object="user_chats"
-- reason: not declared in the profile (prune: true)
DROP INDEX IF EXISTS "user_chats";

-- tuner:step 3 kind=create_index transactional=true destructive=false object="users_by_name"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "users_by_name" ON "users" ("username");

-- tuner:step 4 kind=create_view transactional=true destructive=false object="user_chats"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "user_chats" AS SELECT chat_id FROM users;

COMMIT;

-- Phase 3: statistics

-- tuner:step 5 kind=analyze transactional=false destructive=false object="users"
-- reason: refresh planner statistics after index changes
ANALYZE "users";
