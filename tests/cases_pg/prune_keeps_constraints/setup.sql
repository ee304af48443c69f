CREATE TABLE users (id serial PRIMARY KEY, chat_id bigint UNIQUE, username text);
CREATE INDEX users_username ON users (username);
CREATE VIEW user_names AS SELECT username FROM users;
