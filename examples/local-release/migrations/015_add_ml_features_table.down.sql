DROP TABLE IF EXISTS ml_features;
