-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="events_date"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "events_date" ON "events" ("date");

COMMIT;
