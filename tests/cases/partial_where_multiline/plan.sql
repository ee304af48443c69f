-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=drop_index transactional=true destructive=false object="events_live"
-- reason: definition differs: where status = 'active' AND deleted = 0 -> status = 'active' AND deleted = 0 AND date > 0
DROP INDEX IF EXISTS "events_live";

-- tuner:step 2 kind=replace_index transactional=true destructive=false object="events_live"
-- reason: definition differs: where status = 'active' AND deleted = 0 -> status = 'active' AND deleted = 0 AND date > 0
CREATE INDEX IF NOT EXISTS "events_live" ON "events" ("date") WHERE status = 'active'
  AND deleted = 0
  AND date > 0;

COMMIT;

-- Phase 3: statistics

-- tuner:step 3 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
ANALYZE "events";
