CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT);
CREATE VIEW users_by_name AS SELECT username FROM users ORDER BY username;
