-- Release 2: audit trail and retention for compliance.
CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    entity      text NOT NULL,
    entity_id   bigint NOT NULL,
    action      text NOT NULL CHECK (action IN ('insert', 'update', 'delete')),
    changes     jsonb
);

CREATE INDEX audit_log_entity_idx ON audit_log (entity, entity_id, occurred_at DESC);

CREATE FUNCTION audit_work_orders() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (actor, entity, entity_id, action, changes)
    VALUES (coalesce(current_setting('dcmms.actor', true), current_user),
            'work_orders',
            coalesce(NEW.id, OLD.id),
            lower(TG_OP),
            CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END);
    RETURN coalesce(NEW, OLD);
END;
$$;

CREATE TRIGGER work_orders_audit
AFTER INSERT OR UPDATE OR DELETE ON work_orders
FOR EACH ROW EXECUTE FUNCTION audit_work_orders();

ALTER TABLE sites ADD COLUMN data_retention_days integer NOT NULL DEFAULT 2555;
