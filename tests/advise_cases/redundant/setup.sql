CREATE INDEX orders_customer ON orders(customer_id);
CREATE INDEX orders_customer_created ON orders(customer_id, created);
CREATE UNIQUE INDEX customers_email ON customers(email);
CREATE INDEX customers_email_again ON customers(email);
