-- Release 2: analytics views for the dashboards.
CREATE VIEW work_order_backlog AS
SELECT s.name                          AS site,
       a.kind                          AS asset_kind,
       count(*)                        AS open_orders,
       count(*) FILTER (WHERE w.sla_breached) AS breached,
       min(w.opened_at)                AS oldest_opened_at
FROM work_orders w
JOIN assets a ON a.id = w.asset_id
JOIN sites s ON s.id = a.site_id
WHERE w.status IN ('open', 'in_progress')
GROUP BY s.name, a.kind;

CREATE MATERIALIZED VIEW asset_mttr_daily AS
SELECT a.id                                   AS asset_id,
       date_trunc('day', w.closed_at)         AS day,
       avg(w.closed_at - w.opened_at)         AS mean_time_to_repair,
       count(*)                               AS repairs
FROM work_orders w
JOIN assets a ON a.id = w.asset_id
WHERE w.status = 'done' AND w.closed_at IS NOT NULL
GROUP BY a.id, date_trunc('day', w.closed_at)
WITH NO DATA;

CREATE UNIQUE INDEX asset_mttr_daily_key ON asset_mttr_daily (asset_id, day);
