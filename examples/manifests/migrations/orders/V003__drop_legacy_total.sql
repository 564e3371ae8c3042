-- Contract: the old code still reads legacy_total.
-- +up
UPDATE orders SET total_cents = CAST(legacy_total * 100 AS INTEGER) WHERE total_cents IS NULL;
ALTER TABLE orders DROP COLUMN legacy_total;
-- +down
ALTER TABLE orders ADD COLUMN legacy_total REAL;
UPDATE orders SET legacy_total = total_cents / 100.0;
