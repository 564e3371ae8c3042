-- Expand: a nullable column old code ignores.
-- +up
ALTER TABLE orders ADD COLUMN note TEXT;
CREATE INDEX orders_customer ON orders (customer_id);
-- +down
DROP INDEX orders_customer;
ALTER TABLE orders DROP COLUMN note;
