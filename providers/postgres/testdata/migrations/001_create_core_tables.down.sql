DROP TABLE work_orders;
DROP TABLE assets;
DROP TABLE sites;
