-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="messages_author"
-- reason: definition differs: columns (author) -> (author COLLATE nocase)
DROP INDEX IF EXISTS "messages_author";

-- tuner:step 2 kind=drop_index transactional=true destructive=false object="messages_event_ts"
-- reason: definition differs: columns (event_id, ts) -> (event_id, ts DESC)
DROP INDEX IF EXISTS "messages_event_ts";

-- tuner:step 3 kind=replace_index transactional=true destructive=false object="messages_author"
-- reason: definition differs: columns (author) -> (author COLLATE nocase)
CREATE INDEX IF NOT EXISTS "messages_author" ON "messages" ("author" COLLATE "nocase");

-- tuner:step 4 kind=create_index transactional=true destructive=false object="messages_author_ts"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "messages_author_ts" ON "messages" ("author" COLLATE "nocase" DESC, "ts" DESC);

-- tuner:step 5 kind=replace_index transactional=true destructive=false object="messages_event_ts"
-- reason: definition differs: columns (event_id, ts) -> (event_id, ts DESC)
CREATE INDEX IF NOT EXISTS "messages_event_ts" ON "messages" ("event_id", "ts" DESC);

COMMIT;

-- Phase 3: statistics

-- tuner:step 6 kind=analyze transactional=false destructive=false object="messages"
-- reason: refresh planner statistics after index changes
ANALYZE "messages";
