CREATE TABLE users (id bigserial PRIMARY KEY, chat_id bigint UNIQUE, username text UNIQUE,
                    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE events (id bigserial PRIMARY KEY, creator_id bigint REFERENCES users(id),
                     title text NOT NULL, date bigint NOT NULL, location text,
                     status text NOT NULL DEFAULT 'active');
CREATE TABLE participants (id bigserial PRIMARY KEY, event_id bigint REFERENCES events(id),
                           user_id bigint REFERENCES users(id), status text NOT NULL,
                           UNIQUE (event_id, user_id));
CREATE TABLE messages (id bigserial PRIMARY KEY, event_id bigint REFERENCES events(id),
                       user_id bigint, text text, "timestamp" bigint NOT NULL);
-- the original scripts' single-column indexes
CREATE INDEX idx_participants_status ON participants (status);
INSERT INTO users (chat_id, username) SELECT g, 'user' || g FROM generate_series(1, 50) g;
INSERT INTO events (creator_id, title, date) SELECT 1 + g % 50, 'event ' || g, 1700000000 + g
  FROM generate_series(1, 20) g;
INSERT INTO participants (event_id, user_id, status)
  SELECT 1 + g % 20, 1 + g / 20, (ARRAY['confirmed', 'pending', 'declined'])[1 + g % 3]
  FROM generate_series(0, 499) g;
