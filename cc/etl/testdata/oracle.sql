-- An independent oracle for the batch job, written from DESIGN.md in plain
-- SQL over the raw payloads (table oracle_raw(payload bytea)), then compared
-- with the warehouse the batch job wrote. Parameters (psql-free: the test
-- substitutes them): :fact_first and :fact_last are dates ('YYYY-MM-DD').
--
-- Rules encoded here, from DESIGN.md "Events" and "The star schema":
--   * a record is valid if it is a JSON object whose local_time is a string
--     "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS" naming a real date/time;
--   * a dimension value is the text it decodes to: strings unescaped,
--     numbers as written, {"$oid": x} -> x; null, "" and missing -> Unknown;
--   * dimensions take their members from every valid event; facts only from
--     events of the fact dates that have a product_id;
--   * grain (date, product_id, store_id, referrer_url, device_id);
--     view_count = count(*), unique_visitors = count(DISTINCT device_id)
--     ignoring Unknown, first/last = min/max(local_time), duration = last -
--     first in seconds, avg_view_timestamp = avg of local_time as Unix
--     seconds (naive, read as UTC), to 1e-6 s compared as double precision
--     (a float8 -> numeric cast keeps only 15 digits).

CREATE OR REPLACE FUNCTION oracle_json(p bytea) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RETURN convert_from(p, 'UTF8')::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION oracle_time(v jsonb) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  t text;
  m text[];
BEGIN
  IF v IS NULL OR jsonb_typeof(v) <> 'string' THEN RETURN NULL; END IF;
  t := v #>> '{}';
  m := regexp_match(t, '^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$');
  IF m IS NULL THEN RETURN NULL; END IF;
  IF m[4]::int > 23 OR m[5]::int > 59 OR m[6]::int > 59 THEN RETURN NULL; END IF;
  RETURN make_timestamp(m[1]::int, m[2]::int, m[3]::int, m[4]::int, m[5]::int, m[6]::int);
EXCEPTION WHEN others THEN
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION oracle_text(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN v IS NULL THEN ''
    WHEN jsonb_typeof(v) = 'null' THEN ''
    WHEN jsonb_typeof(v) = 'string' THEN v #>> '{}'
    WHEN jsonb_typeof(v) = 'object' AND v ? '$oid' THEN coalesce(v ->> '$oid', '')
    ELSE v::text
  END
$$;

DROP TABLE IF EXISTS oracle_events;
CREATE TABLE oracle_events AS
SELECT oracle_time(j -> 'local_time') AS local_time,
       oracle_text(j -> 'product_id') AS product_id,
       oracle_text(j -> 'store_id') AS store_id,
       oracle_text(j -> 'referrer_url') AS referrer_url,
       oracle_text(j -> 'device_id') AS device_id
FROM (SELECT oracle_json(payload) AS j FROM oracle_raw) r
WHERE jsonb_typeof(j) = 'object';
DELETE FROM oracle_events WHERE local_time IS NULL;

DROP TABLE IF EXISTS oracle_facts;
CREATE TABLE oracle_facts AS
SELECT local_time::date AS date, product_id, store_id, referrer_url, device_id,
       count(*) AS view_count,
       count(DISTINCT nullif(device_id, '')) AS unique_visitors,
       min(local_time) AS first_view_time,
       max(local_time) AS last_view_time,
       extract(epoch FROM max(local_time) - min(local_time))::bigint AS view_duration_seconds,
       avg(extract(epoch FROM local_time)) AS avg_view_timestamp
FROM oracle_events
WHERE product_id <> ''
  AND local_time::date BETWEEN :fact_first::date AND :fact_last::date
GROUP BY 1, 2, 3, 4, 5;

-- The warehouse, joined back to natural keys.
DROP VIEW IF EXISTS warehouse_facts;
CREATE VIEW warehouse_facts AS
SELECT d.date, p.product_id, c.store_id, r.referrer_url, v.device_id,
       f.view_count, f.unique_visitors, f.first_view_time, f.last_view_time,
       f.view_duration_seconds, f.avg_view_timestamp
FROM fact_product_views f
JOIN dim_date d ON d.date_key = f.date_key
JOIN dim_product p ON p.product_key = f.product_key
JOIN dim_country c ON c.country_key = f.country_key
JOIN dim_referrer r ON r.referrer_key = f.referrer_key
JOIN dim_device v ON v.device_key = f.device_key
WHERE d.date BETWEEN :fact_first::date AND :fact_last::date;

-- One row per check: its name and how many rows disagree (0 = agreement).
DROP TABLE IF EXISTS oracle_checks;
CREATE TABLE oracle_checks AS
SELECT 'products missing from dim_product' AS check_name, count(*) AS mismatches
  FROM (SELECT DISTINCT product_id FROM oracle_events WHERE product_id <> ''
        EXCEPT SELECT product_id FROM dim_product) x
UNION ALL SELECT 'dim_product members not in the input', count(*)
  FROM (SELECT product_id FROM dim_product WHERE product_key <> 0
        EXCEPT SELECT product_id FROM oracle_events) x
UNION ALL SELECT 'stores missing from dim_country', count(*)
  FROM (SELECT DISTINCT store_id FROM oracle_events WHERE store_id <> ''
        EXCEPT SELECT store_id FROM dim_country) x
UNION ALL SELECT 'dim_country members not in the input', count(*)
  FROM (SELECT store_id FROM dim_country WHERE country_key <> 0
        EXCEPT SELECT store_id FROM oracle_events) x
UNION ALL SELECT 'referrers missing from dim_referrer', count(*)
  FROM (SELECT DISTINCT referrer_url FROM oracle_events WHERE referrer_url <> ''
        EXCEPT SELECT referrer_url FROM dim_referrer) x
UNION ALL SELECT 'dim_referrer members not in the input', count(*)
  FROM (SELECT referrer_url FROM dim_referrer WHERE referrer_key <> 0
        EXCEPT SELECT referrer_url FROM oracle_events) x
UNION ALL SELECT 'devices missing from dim_device', count(*)
  FROM (SELECT DISTINCT device_id FROM oracle_events WHERE device_id <> ''
        EXCEPT SELECT device_id FROM dim_device) x
UNION ALL SELECT 'dim_device members not in the input', count(*)
  FROM (SELECT device_id FROM dim_device WHERE device_key <> 0
        EXCEPT SELECT device_id FROM oracle_events) x
UNION ALL SELECT 'dates differ from dim_date', count(*)
  FROM ((SELECT DISTINCT local_time::date FROM oracle_events EXCEPT SELECT date FROM dim_date)
        UNION ALL (SELECT date FROM dim_date EXCEPT SELECT DISTINCT local_time::date FROM oracle_events)) x
UNION ALL SELECT 'oracle fact rows missing from the warehouse', count(*)
  FROM (SELECT date, product_id, store_id, referrer_url, device_id FROM oracle_facts
        EXCEPT SELECT date, product_id, store_id, referrer_url, device_id FROM warehouse_facts) x
UNION ALL SELECT 'warehouse fact rows not in the oracle', count(*)
  FROM (SELECT date, product_id, store_id, referrer_url, device_id FROM warehouse_facts
        EXCEPT SELECT date, product_id, store_id, referrer_url, device_id FROM oracle_facts) x
UNION ALL SELECT 'fact rows whose measures differ', count(*)
  FROM oracle_facts o JOIN warehouse_facts w
    USING (date, product_id, store_id, referrer_url, device_id)
  WHERE o.view_count <> w.view_count
     OR o.unique_visitors <> w.unique_visitors
     OR o.first_view_time <> w.first_view_time
     OR o.last_view_time <> w.last_view_time
     OR o.view_duration_seconds <> w.view_duration_seconds
     OR abs(o.avg_view_timestamp::float8 - w.avg_view_timestamp) > 1e-6
UNION ALL SELECT 'dim_date attributes wrong', count(*)
  FROM dim_date
  WHERE date_key <> to_char(date, 'YYYYMMDD')::int
     OR day_of_week <> extract(dow FROM date)::int + 1
     OR week_of_year <> extract(week FROM date)::int
     OR quarter <> extract(quarter FROM date)::int
     OR year <> extract(year FROM date)::int
     OR month <> extract(month FROM date)::int
     OR day <> extract(day FROM date)::int
UNION ALL SELECT 'oracle has no fact rows (test data problem)',
  CASE WHEN (SELECT count(*) FROM oracle_facts) = 0 THEN 1 ELSE 0 END;
