CREATE TABLE participants (id serial PRIMARY KEY, event_id int, status text);
CREATE VIEW counts AS SELECT event_id, count(*) AS n FROM participants GROUP BY event_id;
CREATE MATERIALIZED VIEW counts_snapshot AS SELECT * FROM counts;
