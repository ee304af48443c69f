CREATE TABLE participants (id serial PRIMARY KEY, event_id int, user_id int, status text);
CREATE VIEW counts AS SELECT event_id, count(*) AS n FROM participants GROUP BY event_id;
CREATE VIEW busy_events AS SELECT event_id FROM counts WHERE n > 10;
-- Not declared in the profile: it must be recreated verbatim, never silently dropped.
CREATE VIEW busy_event_ids AS SELECT * FROM busy_events;
CREATE VIEW confirmed AS SELECT user_id FROM participants WHERE status = 'confirmed';
