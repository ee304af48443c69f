-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)
BEGIN;

-- tuner:step 1 kind=create_view transactional=true destructive=false object="event_participant_counts"
-- reason: view missing
CREATE OR REPLACE VIEW "public"."event_participant_counts" AS SELECT event_id, status, COUNT(*) AS n FROM participants GROUP BY event_id, status;

-- tuner:step 2 kind=create_view transactional=true destructive=false object="upcoming_events"
-- reason: view missing
CREATE OR REPLACE VIEW "public"."upcoming_events" AS SELECT e.id, e.title, e.date, e.location,
       (SELECT COUNT(*) FROM participants p
        WHERE p.event_id = e.id AND p.status = 'confirmed') AS confirmed
FROM events e WHERE e.status = 'active';

COMMIT;

-- tuner:step 3 kind=create_index transactional=false destructive=false object="events_upcoming"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "events_upcoming" ON "public"."events" ("date") WHERE status = 'active';

-- tuner:step 4 kind=create_index transactional=false destructive=false object="messages_event_time"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "messages_event_time" ON "public"."messages" ("event_id", "timestamp" DESC);

-- tuner:step 5 kind=create_index transactional=false destructive=false object="participants_event_status"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "participants_event_status" ON "public"."participants" ("event_id", "status") INCLUDE ("user_id");

-- tuner:step 6 kind=create_index transactional=false destructive=false object="participants_user_active"
-- reason: index missing
CREATE INDEX CONCURRENTLY IF NOT EXISTS "participants_user_active" ON "public"."participants" ("user_id", "event_id") WHERE status IN ('confirmed', 'pending');

-- Phase 2: settings

-- tuner:step 7 kind=set_setting transactional=false destructive=false object="default_statistics_target"
-- reason: default_statistics_target: 100 -> 200 (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "default_statistics_target" = '200';

-- tuner:step 8 kind=set_setting transactional=false destructive=false object="jit"
-- reason: jit: on -> off (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "jit" = 'off';

-- tuner:step 9 kind=set_setting transactional=false destructive=false object="random_page_cost"
-- reason: random_page_cost: 4 -> 1.1 (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "random_page_cost" = '1.1';

-- tuner:step 10 kind=set_setting transactional=false destructive=false object="work_mem"
-- reason: work_mem: 4MB -> 32MB (context user: ALTER DATABASE, for new sessions of this database)
ALTER DATABASE "{{database}}" SET "work_mem" = '32MB';

-- Phase 3: statistics

-- tuner:step 11 kind=analyze transactional=false destructive=false object="events"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."events";

-- tuner:step 12 kind=analyze transactional=false destructive=false object="messages"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."messages";

-- tuner:step 13 kind=analyze transactional=false destructive=false object="participants"
-- reason: refresh planner statistics after index changes
ANALYZE "public"."participants";
