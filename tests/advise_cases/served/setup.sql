CREATE INDEX orders_customer_created ON orders(customer_id, created);
