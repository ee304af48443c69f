CREATE TABLE users (id serial PRIMARY KEY, username text, created_at timestamptz);
CREATE INDEX users_lower_name ON users USING btree (lower(username) DESC NULLS FIRST)
  WHERE (username IS NOT NULL);
CREATE INDEX users_created ON public.users (created_at) INCLUDE (id);
