CREATE TABLE events (id serial PRIMARY KEY, date bigint, status text);
INSERT INTO events (date, status) SELECT g, 'active' FROM generate_series(1, 100) g;
