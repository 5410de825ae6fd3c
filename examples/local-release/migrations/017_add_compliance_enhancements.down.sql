DROP TABLE IF EXISTS compliance_reports;
ALTER TABLE work_orders DROP COLUMN IF EXISTS compliance_ref;
