-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="notes_created"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "notes_created" ON "notes" ("created");

-- tuner:step 2 kind=set_setting transactional=true destructive=false object="application_id"
-- reason: application_id: 0 -> 1414876242
PRAGMA application_id = 1414876242;

-- tuner:step 3 kind=set_setting transactional=true destructive=false object="user_version"
-- reason: user_version: 2 -> 3
PRAGMA user_version = 3;

COMMIT;

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="notes"
-- reason: refresh planner statistics after index changes
ANALYZE "notes";
