-- The orders table as the first release created it.
-- +up
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    legacy_total REAL,
    total_cents INTEGER
);
-- +down
DROP TABLE orders;
DROP TABLE customers;
