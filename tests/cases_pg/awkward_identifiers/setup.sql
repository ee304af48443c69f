CREATE TABLE "Odd ""Table""" (id serial PRIMARY KEY, "Mixed Col" int, "select" text);
