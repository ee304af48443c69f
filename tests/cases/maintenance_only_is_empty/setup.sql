-- The declared index exists but the table has no statistics: ANALYZE alone is no plan.
CREATE TABLE events(id INTEGER PRIMARY KEY, date INTEGER, status TEXT);
CREATE INDEX events_date ON events(date);
INSERT INTO events(date, status) VALUES (1, 'active'), (2, 'done');
