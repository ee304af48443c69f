-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="events_upcoming"
-- reason: definition differs: where status = 'active' -> STATUS = 'Active'
DROP INDEX IF EXISTS "events_upcoming";

-- tuner:step 2 kind=replace_index transactional=true destructive=false object="events_upcoming"
-- reason: definition differs: where status = 'active' -> STATUS = 'Active'
CREATE INDEX IF NOT EXISTS "events_upcoming" ON "events" ("date") WHERE STATUS = 'Active';

COMMIT;

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
ANALYZE "events";
