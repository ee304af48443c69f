CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT UNIQUE, chat_id INTEGER, note TEXT);
CREATE TABLE log(id INTEGER PRIMARY KEY, line TEXT);
CREATE INDEX users_chat ON users(chat_id);
CREATE INDEX users_note ON users(note);
CREATE VIEW user_names AS SELECT username FROM users;
CREATE TRIGGER users_log AFTER INSERT ON users BEGIN
    INSERT INTO log(line) VALUES ('new user ' || NEW.username);
END;
INSERT INTO users(username, chat_id) VALUES ('ann', 1), ('bob', 2);
