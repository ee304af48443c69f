CREATE TABLE events(id INTEGER PRIMARY KEY, title TEXT, date INTEGER, status TEXT);
INSERT INTO events(title, date, status) VALUES ('Quiz', 1, 'active'), ('Picnic', 2, 'done');
