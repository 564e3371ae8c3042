-- 2026.12.2 (orders-api 3.0.0), CHG-5: a new column and a data migration that fills it for
-- every existing order. Its canary fails in production; the rollback restores the
-- pre-deployment backup, so production's orders come back exactly as they were.
-- +up
ALTER TABLE orders ADD COLUMN total_cents INTEGER;
UPDATE orders SET total_cents = CAST(ROUND(total * 100) AS INTEGER);
-- +down
ALTER TABLE orders DROP COLUMN total_cents;
