ALTER TABLE sites DROP COLUMN data_retention_days;
DROP TRIGGER work_orders_audit ON work_orders;
DROP FUNCTION audit_work_orders();
DROP TABLE audit_log;
