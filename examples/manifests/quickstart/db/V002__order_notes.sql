-- 2026.12.1 (orders-api 2.0.0), CHG-3: an expand migration. A new nullable column: 1.0.0
-- keeps working beside 2.0.0 while the canary runs.
-- +up
ALTER TABLE orders ADD COLUMN note TEXT;
-- +down
ALTER TABLE orders DROP COLUMN note;
