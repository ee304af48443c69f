CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT UNIQUE);
CREATE TABLE participants(id INTEGER PRIMARY KEY, event_id INTEGER, user_id INTEGER,
    status TEXT, UNIQUE(event_id, user_id));
INSERT INTO users(username) VALUES ('ann'), ('bob');
INSERT INTO participants(event_id, user_id, status) VALUES (1, 1, 'confirmed'), (1, 2, 'pending');
