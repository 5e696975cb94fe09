-- The demo's closing report on the warehouse (psql).
\pset footer off
\echo
\echo '== Rows per table'
SELECT 'dim_date' AS table_name, count(*) AS rows FROM dim_date
UNION ALL SELECT 'dim_product', count(*) FROM dim_product
UNION ALL SELECT 'dim_country', count(*) FROM dim_country
UNION ALL SELECT 'dim_referrer', count(*) FROM dim_referrer
UNION ALL SELECT 'dim_device', count(*) FROM dim_device
UNION ALL SELECT 'fact_product_views', count(*) FROM fact_product_views;

\echo '== Views per day'
SELECT d.date, sum(f.view_count) AS views, sum(f.unique_visitors) AS visitor_rows,
       count(*) AS fact_rows
FROM fact_product_views f JOIN dim_date d USING (date_key)
GROUP BY d.date ORDER BY d.date;

\echo '== Top 10 products on the latest day'
SELECT p.product_id, sum(f.view_count) AS views, count(DISTINCT f.device_key) AS devices
FROM fact_product_views f JOIN dim_product p USING (product_key)
WHERE f.date_key = (SELECT max(date_key) FROM fact_product_views)
GROUP BY p.product_id ORDER BY views DESC, p.product_id LIMIT 10;

\echo '== Referrer types on the latest day'
SELECT r.referrer_type, sum(f.view_count) AS views
FROM fact_product_views f JOIN dim_referrer r USING (referrer_key)
WHERE f.date_key = (SELECT max(date_key) FROM fact_product_views)
GROUP BY r.referrer_type ORDER BY views DESC;

\echo '== Views by country and device type on the latest day (top 8)'
SELECT c.country_name, dv.device_type, sum(f.view_count) AS views
FROM fact_product_views f
JOIN dim_country c USING (country_key) JOIN dim_device dv USING (device_key)
WHERE f.date_key = (SELECT max(date_key) FROM fact_product_views)
GROUP BY 1, 2 ORDER BY views DESC LIMIT 8;

\echo '== Run ledger (last 5)'
SELECT run_id, status, dates, fact_rows, round(extract(epoch FROM finished_at - started_at)::numeric, 2) AS seconds,
       counts->'invalid' AS invalid
FROM etl_run_ledger ORDER BY run_id DESC LIMIT 5;
