-- Phase 1: transactional DDL, all or nothing
BEGIN IMMEDIATE;

-- tuner:step 1 kind=create_index transactional=true destructive=false object="events_creator_date"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "events_creator_date" ON "events" ("creator_id", "date");

-- tuner:step 2 kind=create_index transactional=true destructive=false object="events_upcoming"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "events_upcoming" ON "events" ("date") WHERE status = 'active';

-- tuner:step 3 kind=create_index transactional=true destructive=false object="messages_event_time"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "messages_event_time" ON "messages" ("event_id", "timestamp");

-- tuner:step 4 kind=create_index transactional=true destructive=false object="participants_event_status"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "participants_event_status" ON "participants" ("event_id", "status", "user_id");

-- tuner:step 5 kind=create_index transactional=true destructive=false object="participants_user_status"
-- reason: index missing
CREATE INDEX IF NOT EXISTS "participants_user_status" ON "participants" ("user_id", "status", "event_id");

-- tuner:step 6 kind=create_view transactional=true destructive=false object="event_participant_counts"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "event_participant_counts" AS SELECT event_id, status, COUNT(*) AS n FROM participants GROUP BY event_id, status;

-- tuner:step 7 kind=create_view transactional=true destructive=false object="upcoming_events"
-- reason: view missing
CREATE VIEW IF NOT EXISTS "upcoming_events" AS SELECT e.id, e.title, e.date, e.location,
       (SELECT COUNT(*) FROM participants p
        WHERE p.event_id = e.id AND p.status = 'confirmed') AS confirmed
FROM events e WHERE e.status = 'active';

COMMIT;

-- Phase 2: settings that cannot run inside a transaction

-- tuner:step 8 kind=set_pragma transactional=false destructive=false object="journal_mode"
-- reason: journal_mode: delete -> wal
PRAGMA journal_mode = wal;

-- Phase 3: statistics

-- tuner:step 9 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
ANALYZE "events";

-- tuner:step 10 kind=analyze transactional=false destructive=false object="messages"
-- reason: refresh planner statistics after index changes
ANALYZE "messages";

-- tuner:step 11 kind=analyze transactional=false destructive=false object="participants"
-- reason: refresh planner statistics after index changes
ANALYZE "participants";
