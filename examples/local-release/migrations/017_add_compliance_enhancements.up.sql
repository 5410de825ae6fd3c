ALTER TABLE work_orders ADD COLUMN compliance_ref text;
CREATE TABLE compliance_reports (
  id           bigserial PRIMARY KEY,
  site_id      text NOT NULL,
  period       daterange NOT NULL,
  generated_at timestamptz NOT NULL DEFAULT now()
);
