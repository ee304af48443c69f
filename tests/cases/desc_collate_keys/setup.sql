CREATE TABLE messages(id INTEGER PRIMARY KEY, event_id INTEGER, author TEXT, ts INTEGER);
CREATE INDEX messages_event_ts ON messages(event_id, ts);
CREATE INDEX messages_author ON messages(author);
INSERT INTO messages(event_id, author, ts) VALUES (1, 'ann', 10), (1, 'Ann', 20), (2, 'bob', 30);
