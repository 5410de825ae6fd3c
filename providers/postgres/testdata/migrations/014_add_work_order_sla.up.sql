-- Sprint 11: service-level targets on work orders.
ALTER TABLE work_orders
    ADD COLUMN sla_hours integer,
    ADD COLUMN sla_breached boolean NOT NULL DEFAULT false;

CREATE INDEX work_orders_open_sla_idx ON work_orders (opened_at) WHERE status IN ('open', 'in_progress');
