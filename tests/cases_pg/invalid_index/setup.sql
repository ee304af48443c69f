CREATE TABLE subscriptions (id serial PRIMARY KEY, user_id int NOT NULL, chat_id int NOT NULL);
INSERT INTO subscriptions (user_id, chat_id) VALUES (1, 10), (1, 10), (2, 20);
-- A concurrent unique build fails on the duplicate and leaves an INVALID index behind.
-- expect error
CREATE UNIQUE INDEX CONCURRENTLY subscriptions_user_chat ON subscriptions (user_id, chat_id);
