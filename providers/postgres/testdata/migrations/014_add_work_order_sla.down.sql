DROP INDEX work_orders_open_sla_idx;
ALTER TABLE work_orders
    DROP COLUMN sla_breached,
    DROP COLUMN sla_hours;
