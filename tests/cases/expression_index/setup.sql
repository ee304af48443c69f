CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT, created_at INTEGER);
INSERT INTO users(username, created_at) VALUES ('Alice', 1), ('BOB', 2), ('carol', 3);
