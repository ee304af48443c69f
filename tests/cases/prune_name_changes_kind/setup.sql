CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT, chat_id INTEGER);
CREATE VIEW users_by_name AS SELECT username FROM users ORDER BY username;
CREATE INDEX user_chats ON users(chat_id);
INSERT INTO users(username, chat_id) VALUES ('ann', 1), ('bob', 2);
