-- The tables every advise case starts from: 20,000 customers, 60,000 orders. Each case's
-- setup.sql adds its own indexes; the test runs ANALYZE afterwards.
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  email TEXT NOT NULL,
  name TEXT NOT NULL,
  country TEXT NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL REFERENCES customers(id),
  created INTEGER NOT NULL,
  status TEXT NOT NULL,          -- three values, 20,000 rows each
  total INTEGER NOT NULL
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
INSERT INTO customers
SELECT i, 'user' || i || '@example.com', 'Customer ' || i, 'c' || (i % 20), 1600000000 + i * 97
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO orders
SELECT i, 1 + (i * 7919) % 20000, 1600000000 + i * 60,
       CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'paid' ELSE 'shipped' END, i % 500
FROM n;
