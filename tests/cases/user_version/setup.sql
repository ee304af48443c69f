PRAGMA user_version = 2;
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT, created INTEGER);
INSERT INTO notes(body, created) VALUES ('one', 1), ('two', 2);
