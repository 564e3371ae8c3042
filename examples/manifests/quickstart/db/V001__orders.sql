-- The orders database of 2026.12.0 (orders-api 1.0.0): customers and their orders.
-- +up
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    total REAL NOT NULL
);
-- +down
DROP TABLE orders;
DROP TABLE customers;
