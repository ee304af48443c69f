-- The bot's four tables (tuner/workload/demo.py SCHEMA), untuned, with a few rows.
CREATE TABLE users(id INTEGER PRIMARY KEY, username TEXT UNIQUE, chat_id INTEGER UNIQUE,
    created_at INTEGER);
CREATE TABLE events(id INTEGER PRIMARY KEY, title TEXT, creator_id INTEGER REFERENCES users(id),
    date INTEGER, location TEXT, description TEXT, status TEXT);
CREATE TABLE participants(id INTEGER PRIMARY KEY, event_id INTEGER REFERENCES events(id),
    user_id INTEGER REFERENCES users(id), status TEXT, joined_at INTEGER, updated_at INTEGER,
    UNIQUE(event_id, user_id));
CREATE TABLE messages(id INTEGER PRIMARY KEY, event_id INTEGER REFERENCES events(id),
    user_id INTEGER REFERENCES users(id), text TEXT, timestamp INTEGER);
INSERT INTO users(id, username, chat_id, created_at) VALUES
    (1, 'alice', 100, 1700000000), (2, 'bob', 200, 1700000100), (3, 'carol', 300, 1700000200);
INSERT INTO events(id, title, creator_id, date, location, description, status) VALUES
    (1, 'Board games', 1, 1700100000, 'Cafe Luna', '', 'active'),
    (2, 'Hiking trip', 2, 1700200000, 'Central Park', 'Bring water.', 'cancelled');
INSERT INTO participants(event_id, user_id, status, joined_at, updated_at) VALUES
    (1, 1, 'confirmed', 1700000300, 1700000300), (1, 2, 'pending', 1700000400, 1700000400),
    (2, 3, 'declined', 1700000500, 1700000600);
INSERT INTO messages(event_id, user_id, text, timestamp) VALUES
    (1, 1, 'hi all', 1700000700), (1, 2, 'count me in', 1700000800);
