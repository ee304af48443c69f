CREATE TABLE events(id INTEGER PRIMARY KEY, date INTEGER, status TEXT);
CREATE INDEX events_upcoming ON events(date) WHERE status = 'active';
INSERT INTO events(date, status) VALUES (1, 'active'), (2, 'Active'), (3, 'done');
