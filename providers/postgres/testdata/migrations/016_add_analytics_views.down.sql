DROP MATERIALIZED VIEW asset_mttr_daily;
DROP VIEW work_order_backlog;
