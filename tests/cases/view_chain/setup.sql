CREATE TABLE orders(id INTEGER PRIMARY KEY, customer TEXT, amount INTEGER, status TEXT);
-- totals reads paid_orders: when both are replaced, totals must be dropped first and
-- created last.
CREATE VIEW paid_orders AS SELECT id, customer, amount FROM orders WHERE status = 'paid';
CREATE VIEW totals AS SELECT customer, sum(amount) AS total FROM paid_orders GROUP BY customer;
INSERT INTO orders(customer, amount, status) VALUES ('ann', 10, 'paid'), ('bob', 5, 'open');
