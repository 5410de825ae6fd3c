CREATE VIEW analytics_views AS
  SELECT site_id, status, count(*) AS work_orders
  FROM work_orders
  GROUP BY site_id, status;
