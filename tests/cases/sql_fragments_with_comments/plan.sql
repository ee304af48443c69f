-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="events_active"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "events_active" ON "events" ("date") WHERE status = 'active';

-- tuner:step 2 kind=create_index transactional=true destructive=false object="events_title_lower"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "events_title_lower" ON "events" (lower(title), "date");

-- tuner:step 3 kind=create_view transactional=true destructive=false object="active_titles"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "active_titles" AS SELECT title -- as the bot shows it
FROM events
WHERE status = 'active';

COMMIT;

-- Phase 3: statistics

-- tuner:step 4 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
ANALYZE "events";
