-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="kv_updated"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "kv_updated" ON "kv" ("updated", "v");

-- tuner:step 2 kind=create_index transactional=true destructive=false object="strict_notes_body"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "strict_notes_body" ON "strict_notes" ("body");

-- tuner:step 3 kind=create_index transactional=true destructive=false object="tags_uses"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "tags_uses" ON "tags" ("uses" DESC);

COMMIT;

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="kv"
-- reason: refresh planner statistics after index changes
ANALYZE "kv";

-- tuner:step 5 kind=analyze transactional=false destructive=false object="strict_notes"
-- reason: refresh planner statistics after index changes
ANALYZE "strict_notes";

-- tuner:step 6 kind=analyze transactional=false destructive=false object="tags"
-- reason: refresh planner statistics after index changes
ANALYZE "tags";
