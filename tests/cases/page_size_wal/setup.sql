PRAGMA page_size = 4096;
PRAGMA journal_mode = wal;
CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO notes(body) VALUES ('one'), ('two'), ('three');
