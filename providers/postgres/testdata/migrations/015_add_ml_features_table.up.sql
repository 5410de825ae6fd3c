-- Release 2: features computed for the failure-prediction model.
CREATE TABLE ml_features (
    id            bigserial PRIMARY KEY,
    asset_id      bigint NOT NULL REFERENCES assets (id) ON DELETE CASCADE,
    feature_set   text NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    features      jsonb NOT NULL,
    model_version text,
    CONSTRAINT ml_features_features_is_object CHECK (jsonb_typeof(features) = 'object')
);

CREATE INDEX ml_features_asset_time_idx ON ml_features (asset_id, computed_at DESC);
CREATE INDEX ml_features_features_gin ON ml_features USING gin (features jsonb_path_ops);

COMMENT ON TABLE ml_features IS 'Per-asset feature vectors for the failure-prediction model (Release 2)';
