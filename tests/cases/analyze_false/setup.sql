CREATE TABLE events(id INTEGER PRIMARY KEY, date INTEGER, status TEXT);
INSERT INTO events(date, status) VALUES (1, 'active'), (2, 'done');
