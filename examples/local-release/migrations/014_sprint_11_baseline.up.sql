-- Sprint 11 baseline: the schema Release 2 starts from.
CREATE TABLE IF NOT EXISTS work_orders (
  id         bigserial PRIMARY KEY,
  site_id    text NOT NULL,
  asset_id   text NOT NULL,
  title      text NOT NULL,
  status     text NOT NULL DEFAULT 'open',
  created_at timestamptz NOT NULL DEFAULT now()
);
