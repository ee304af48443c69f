CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT, updated INTEGER) WITHOUT ROWID;
-- Table options in the other order: WITHOUT ROWID is not always the last two words.
CREATE TABLE tags(name TEXT PRIMARY KEY, uses INTEGER) WITHOUT ROWID, STRICT;
CREATE TABLE strict_notes(id INTEGER PRIMARY KEY, body TEXT) STRICT;
INSERT INTO kv(k, v, updated) VALUES ('a', '1', 10), ('b', '2', 20), ('c', '3', 30);
INSERT INTO tags(name, uses) VALUES ('x', 1), ('y', 2);
INSERT INTO strict_notes(body) VALUES ('one');
