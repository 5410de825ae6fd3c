DROP TABLE ml_features;
