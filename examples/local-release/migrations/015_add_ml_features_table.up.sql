CREATE TABLE ml_features (
  id          bigserial PRIMARY KEY,
  site_id     text NOT NULL,
  asset_id    text NOT NULL,
  features    jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ml_features_asset ON ml_features (site_id, asset_id);
