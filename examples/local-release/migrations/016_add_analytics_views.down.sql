DROP VIEW IF EXISTS analytics_views;
