CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, chat_id INTEGER);
CREATE INDEX users_chat ON users(chat_id);
INSERT INTO users(email, chat_id) VALUES ('a@example.org', 1), ('b@example.org', 2);
