-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="users_chat"
-- reason: definition differs: unique false -> true
DROP INDEX IF EXISTS "users_chat";

-- tuner:step 2 kind=replace_index transactional=true destructive=false object="users_chat"
-- reason: definition differs: unique false -> true
CREATE UNIQUE INDEX IF NOT EXISTS "users_chat" ON "users" ("chat_id");

-- tuner:step 3 kind=create_index transactional=true destructive=false object="users_email"
-- reason: index missing
CREATE UNIQUE INDEX IF NOT EXISTS "users_email" ON "users" ("email");

COMMIT;

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="users"
-- reason: refresh planner statistics after index changes
ANALYZE "users";
