CREATE SCHEMA app;
CREATE TABLE app.orders (id serial PRIMARY KEY, customer int, placed date);
CREATE TABLE orders (id serial PRIMARY KEY, note text);
