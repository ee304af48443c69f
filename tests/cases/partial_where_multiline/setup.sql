CREATE TABLE events(id INTEGER PRIMARY KEY, date INTEGER, status TEXT, deleted INTEGER);
CREATE INDEX events_live ON events(date) WHERE status = 'active'
    AND deleted = 0;
INSERT INTO events(date, status, deleted) VALUES (1, 'active', 0), (2, 'active', 1);
