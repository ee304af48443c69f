-- Phase 1: views in one transaction, then indexes one statement at a time (CONCURRENTLY cannot run in a transaction)
BEGIN;

-- tuner:step 1 kind=drop_view transactional=true destructive=false object="busy_event_ids"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "public"."busy_event_ids";

-- tuner:step 2 kind=drop_view transactional=true destructive=false object="busy_events"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "public"."busy_events";

-- tuner:step 3 kind=drop_view transactional=true destructive=false object="counts"
-- reason: replaced: dropped before it is created again
DROP VIEW IF EXISTS "public"."counts";

-- tuner:step 4 kind=replace_view transactional=true destructive=false object="counts"
-- reason: definition differs: columns (event_id integer, n bigint) -> (event_id integer, n integer); query differs
CREATE OR REPLACE VIEW "public"."counts" AS SELECT event_id, count(*)::int AS n FROM participants GROUP BY event_id;

-- tuner:step 5 kind=replace_view transactional=true destructive=false object="busy_events"
-- reason: reads view counts, which is dropped and created again; recreated as declared
CREATE OR REPLACE VIEW "public"."busy_events" AS SELECT event_id FROM counts WHERE n > 10;

-- tuner:step 6 kind=replace_view transactional=true destructive=false object="busy_event_ids"
-- reason: reads view busy_events, which is dropped and created again; recreated verbatim, as it is now
CREATE OR REPLACE VIEW "public"."busy_event_ids" AS SELECT busy_events.event_id
   FROM busy_events;

-- tuner:step 7 kind=replace_view transactional=true destructive=false object="confirmed"
-- reason: definition differs: columns (user_id integer) -> (user_id integer, event_id integer); query differs (CREATE OR REPLACE: the old columns are kept, in order)
CREATE OR REPLACE VIEW "public"."confirmed" AS SELECT user_id, event_id FROM participants WHERE status = 'confirmed';

-- tuner:step 8 kind=create_view transactional=true destructive=false object="event_sizes"
-- reason: view missing
CREATE OR REPLACE VIEW "public"."event_sizes" ("event", "participants") AS SELECT event_id, count(*) FROM participants GROUP BY event_id;

COMMIT;
