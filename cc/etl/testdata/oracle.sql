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
--
-- Row counts (a set comparison cannot see a duplicate): no fact row twice on
-- the natural grain, as many fact rows and as many views (sum of view_count)
-- as the oracle, no fact key outside its dimension, no dimension member twice
-- on its natural key, one Unknown member (key 0, natural key '') each.
--
-- Derived attributes, from docs/semantics.md ("Semantics" and "Derived
-- attributes") alone, member by member (oracle_dim_country, _referrer,
-- _device; the differences in oracle_attribute_diffs):
--   * the host of a URL (steps 1-10, "www." dropped for the domains), the
--     storefront suffix table -> dim_country, the referrer types, the
--     user-agent tokens -> dim_device type, browser, os, browser_info;
--   * a store keeps the attributes of its earliest event with a non-empty
--     current_url (ties: the bytewise smaller store_domain), a device those
--     of its earliest event with a non-empty user_agent (ties: the smaller
--     packed (type, browser, os), numbered as cc/star/attributes.h's
--     enumerations); attr_time is that event's local_time in Unix seconds,
--     attr_code the packed value; with no such event: the Unknown
--     attributes and NULLs (browser_info "Unknown on Unknown", key 0's
--     "Unknown" as the schema seeds it).

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
       oracle_text(j -> 'device_id') AS device_id,
       oracle_text(j -> 'current_url') AS current_url,
       oracle_text(j -> 'user_agent') AS user_agent
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

-- The warehouse, joined back to natural keys (a table with statistics: the
-- comparisons below join it with oracle_facts on five text columns, which a
-- view over unanalysed fact partitions turns into nested loops of minutes).
ANALYZE oracle_facts;
DROP TABLE IF EXISTS warehouse_facts;
CREATE TABLE warehouse_facts AS
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
ANALYZE warehouse_facts;

-- Derived attributes (docs/semantics.md, "Derived attributes"), written from
-- the docs alone: the host of a URL by regular expressions and a byte loop
-- for %XX, the storefronts as a table, referrer and user-agent rules as
-- label and substring tests. Not from cc/star/attributes.cc.

-- "The host of a URL", steps 1-10; '' when there is no host.
CREATE OR REPLACE FUNCTION oracle_url_host(url text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  s text;
  rest text;
  auth text;
  host text;
  m text[];
  schemeless boolean := false;
  b bytea;
  decoded bytea;
  i int;
  c int;
  high boolean := false;
BEGIN
  -- 1. ASCII whitespace around the URL is ignored.
  s := btrim(url, E' \t\r\n\f\x0B');
  IF s = '' THEN RETURN ''; END IF;
  -- 2. Where the authority starts.
  m := regexp_match(s, '^[A-Za-z][A-Za-z0-9+.-]*://');
  IF m IS NOT NULL THEN
    rest := substr(s, length(m[1]) + 1);
  ELSIF left(s, 2) = '//' THEN
    rest := substr(s, 3);
  ELSE
    m := regexp_match(s, '^[A-Za-z][A-Za-z0-9+.-]*:([^/?#]*)');
    IF m IS NOT NULL AND m[1] !~ '^[0-9]*$' THEN RETURN ''; END IF;  -- opaque URI
    rest := s;
    schemeless := true;
  END IF;
  -- 3. The authority ends at the first /, ? or #.
  auth := substring(rest FROM '^[^/?#]*');
  -- 4. Userinfo: up to the last @.
  auth := regexp_replace(auth, '^.*@', '');
  -- 5. IPv6 literal, with an optional :port; kept with its brackets.
  IF left(auth, 1) = '[' THEN
    m := regexp_match(auth, '^(\[[0-9A-Fa-f:.]+\])(:[0-9]*)?$');
    IF m IS NULL THEN RETURN ''; END IF;
    RETURN translate(m[1], 'ABCDEF', 'abcdef');
  END IF;
  -- 5-6. Any other host ends at the first ':'; what follows is digits.
  m := regexp_match(auth, '^([^:]*)(:[0-9]*)?$');
  IF m IS NULL THEN RETURN ''; END IF;
  host := m[1];
  -- 7. %XX decoded (byte by byte); a lone % is no host.
  IF strpos(host, '%') > 0 THEN
    b := convert_to(host, 'UTF8');
    decoded := ''::bytea;
    i := 0;
    WHILE i < length(b) LOOP
      c := get_byte(b, i);
      IF c = 37 THEN
        IF i + 2 >= length(b) THEN RETURN ''; END IF;  -- fewer than two bytes follow
        IF NOT (chr(get_byte(b, i + 1)) || chr(get_byte(b, i + 2))) ~ '^[0-9A-Fa-f]{2}$' THEN
          RETURN '';
        END IF;
        c := get_byte(decode(chr(get_byte(b, i + 1)) || chr(get_byte(b, i + 2)), 'hex'), 0);
        IF c = 0 THEN RETURN ''; END IF;  -- NUL: not a host character (step 10)
        IF c >= 128 THEN high := true; END IF;
        i := i + 3;
      ELSE
        i := i + 1;
      END IF;
      decoded := decoded || set_byte('\x00'::bytea, 0, c);
    END LOOP;
    IF high THEN
      BEGIN
        host := convert_from(decoded, 'UTF8');
      EXCEPTION WHEN others THEN
        RETURN '<not UTF-8>';  -- outside what text can hold: shows as a mismatch
      END;
    ELSE
      host := convert_from(decoded, 'UTF8');
    END IF;
  END IF;
  -- 8. ASCII letters lower-cased; other bytes kept.
  host := translate(host, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');
  -- 9. One trailing dot dropped.
  IF right(host, 1) = '.' THEN host := left(host, -1); END IF;
  -- 10. Non-empty; letters, digits, - _ . and non-ASCII; no empty label.
  IF host = '' OR host ~ '[\x01-\x2c\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]'
     OR host ~ '^\.|\.\.|\.$' THEN
    RETURN '';
  END IF;
  -- 2 (no scheme): the host must contain a dot.
  IF schemeless AND strpos(host, '.') = 0 THEN RETURN ''; END IF;
  RETURN host;
END $$;

-- "www.": one leading www label dropped when at least two labels remain.
CREATE OR REPLACE FUNCTION oracle_domain(host text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN host ~ '^www\.[^.]+\.[^.]' THEN substr(host, 5) ELSE host END
$$;

-- The storefront table of docs/semantics.md, "dim_country".
DROP TABLE IF EXISTS oracle_storefronts;
CREATE TABLE oracle_storefronts (suffix, country_code, country_name, region, continent) AS
VALUES ('ae', 'AE', 'United Arab Emirates', 'Western Asia', 'Asia'),
       ('at', 'AT', 'Austria', 'Western Europe', 'Europe'),
       ('com.au', 'AU', 'Australia', 'Australia and New Zealand', 'Oceania'),
       ('be', 'BE', 'Belgium', 'Western Europe', 'Europe'),
       ('bg', 'BG', 'Bulgaria', 'Eastern Europe', 'Europe'),
       ('com.br', 'BR', 'Brazil', 'South America', 'Americas'),
       ('ca', 'CA', 'Canada', 'Northern America', 'Americas'),
       ('ch', 'CH', 'Switzerland', 'Western Europe', 'Europe'),
       ('cl', 'CL', 'Chile', 'South America', 'Americas'),
       ('cz', 'CZ', 'Czechia', 'Eastern Europe', 'Europe'),
       ('de', 'DE', 'Germany', 'Western Europe', 'Europe'),
       ('dk', 'DK', 'Denmark', 'Northern Europe', 'Europe'),
       ('ee', 'EE', 'Estonia', 'Northern Europe', 'Europe'),
       ('es', 'ES', 'Spain', 'Southern Europe', 'Europe'),
       ('fi', 'FI', 'Finland', 'Northern Europe', 'Europe'),
       ('fr', 'FR', 'France', 'Western Europe', 'Europe'),
       ('co.uk', 'GB', 'United Kingdom', 'Northern Europe', 'Europe'),
       ('uk', 'GB', 'United Kingdom', 'Northern Europe', 'Europe'),
       ('gr', 'GR', 'Greece', 'Southern Europe', 'Europe'),
       ('hr', 'HR', 'Croatia', 'Southern Europe', 'Europe'),
       ('hu', 'HU', 'Hungary', 'Eastern Europe', 'Europe'),
       ('ie', 'IE', 'Ireland', 'Northern Europe', 'Europe'),
       ('in', 'IN', 'India', 'Southern Asia', 'Asia'),
       ('it', 'IT', 'Italy', 'Southern Europe', 'Europe'),
       ('jp', 'JP', 'Japan', 'Eastern Asia', 'Asia'),
       ('co.kr', 'KR', 'South Korea', 'Eastern Asia', 'Asia'),
       ('lt', 'LT', 'Lithuania', 'Northern Europe', 'Europe'),
       ('lu', 'LU', 'Luxembourg', 'Western Europe', 'Europe'),
       ('lv', 'LV', 'Latvia', 'Northern Europe', 'Europe'),
       ('com.mx', 'MX', 'Mexico', 'Central America', 'Americas'),
       ('mx', 'MX', 'Mexico', 'Central America', 'Americas'),
       ('nl', 'NL', 'Netherlands', 'Western Europe', 'Europe'),
       ('no', 'NO', 'Norway', 'Northern Europe', 'Europe'),
       ('co.nz', 'NZ', 'New Zealand', 'Australia and New Zealand', 'Oceania'),
       ('pl', 'PL', 'Poland', 'Eastern Europe', 'Europe'),
       ('pt', 'PT', 'Portugal', 'Southern Europe', 'Europe'),
       ('ro', 'RO', 'Romania', 'Eastern Europe', 'Europe'),
       ('rs', 'RS', 'Serbia', 'Southern Europe', 'Europe'),
       ('se', 'SE', 'Sweden', 'Northern Europe', 'Europe'),
       ('com.sg', 'SG', 'Singapore', 'South-eastern Asia', 'Asia'),
       ('sg', 'SG', 'Singapore', 'South-eastern Asia', 'Asia'),
       ('si', 'SI', 'Slovenia', 'Southern Europe', 'Europe'),
       ('sk', 'SK', 'Slovakia', 'Eastern Europe', 'Europe'),
       ('com.tr', 'TR', 'Turkey', 'Western Asia', 'Asia'),
       ('com', 'US', 'United States', 'Northern America', 'Americas'),
       ('co.za', 'ZA', 'South Africa', 'Southern Africa', 'Africa');

-- dim_referrer's (domain, type) of a referrer URL.
CREATE OR REPLACE FUNCTION oracle_referrer(url text, OUT referrer_domain text, OUT referrer_type text)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  host text;
  labels text[];
BEGIN
  IF url = '' THEN
    referrer_domain := ''; referrer_type := 'Direct'; RETURN;
  END IF;
  host := oracle_url_host(url);
  IF host = '' THEN
    referrer_domain := ''; referrer_type := 'Other'; RETURN;
  END IF;
  referrer_domain := oracle_domain(host);
  labels := string_to_array(host, '.');
  referrer_type := CASE
    WHEN 'glamira' = ANY (labels) THEN 'Internal'
    WHEN labels && ARRAY['google', 'bing', 'yahoo', 'duckduckgo', 'yandex', 'baidu',
                         'ecosia', 'qwant', 'seznam', 'naver'] THEN 'Search Engine'
    WHEN labels && ARRAY['facebook', 'instagram', 'pinterest', 'twitter', 'tiktok',
                         'youtube', 'reddit', 'linkedin', 'snapchat', 'whatsapp']
      OR host IN ('t.co', 'x.com', 'fb.com')
      OR host LIKE '%.t.co' OR host LIKE '%.x.com' OR host LIKE '%.fb.com' THEN 'Social Media'
    ELSE 'Other' END;
END $$;

-- dim_device's (type, browser, os) of a non-empty user agent, and the packed
-- (type, browser, os) value, numbered as the enumerations of
-- cc/star/attributes.h (type << 16 | browser << 8 | os).
CREATE OR REPLACE FUNCTION oracle_device(ua text, OUT device_type text, OUT browser text,
                                         OUT os text, OUT code int)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  t text[];
BEGIN
  IF ua = '' THEN
    device_type := 'Unknown'; browser := 'Unknown'; os := 'Unknown';
  ELSIF ua ~ '(bot|Bot|crawler|Crawler|spider|Spider|HeadlessChrome)' THEN
    device_type := 'Bot'; browser := 'Other'; os := 'Other';
  ELSE
    os := CASE
      WHEN strpos(ua, 'iPhone') > 0 OR strpos(ua, 'iPad') > 0 OR strpos(ua, 'iPod') > 0 THEN 'iOS'
      WHEN strpos(ua, 'Android') > 0 THEN 'Android'
      WHEN strpos(ua, 'CrOS') > 0 THEN 'Chrome OS'
      WHEN strpos(ua, 'Windows') > 0 THEN 'Windows'
      WHEN strpos(ua, 'Mac OS X') > 0 OR strpos(ua, 'Macintosh') > 0 THEN 'macOS'
      WHEN strpos(ua, 'Linux') > 0 OR strpos(ua, 'X11') > 0 THEN 'Linux'
      ELSE 'Other' END;
    browser := CASE
      WHEN strpos(ua, 'Edg/') > 0 OR strpos(ua, 'Edge/') > 0 OR strpos(ua, 'EdgA/') > 0
        OR strpos(ua, 'EdgiOS/') > 0 THEN 'Edge'
      WHEN strpos(ua, 'OPR/') > 0 OR strpos(ua, 'Opera') > 0 THEN 'Opera'
      WHEN strpos(ua, 'SamsungBrowser') > 0 THEN 'Samsung Internet'
      WHEN strpos(ua, 'Firefox/') > 0 OR strpos(ua, 'FxiOS/') > 0 THEN 'Firefox'
      WHEN strpos(ua, 'Chrome/') > 0 OR strpos(ua, 'CriOS/') > 0
        OR strpos(ua, 'Chromium/') > 0 THEN 'Chrome'
      WHEN strpos(ua, 'Safari/') > 0 OR strpos(ua, 'AppleWebKit') > 0 THEN 'Safari'
      ELSE 'Other' END;
    device_type := CASE
      WHEN strpos(ua, 'iPad') > 0 OR strpos(ua, 'Tablet') > 0
        OR (os = 'Android' AND strpos(ua, 'Mobile') = 0) THEN 'Tablet'
      WHEN strpos(ua, 'Mobile') > 0 OR strpos(ua, 'iPhone') > 0 OR strpos(ua, 'iPod') > 0
        OR strpos(ua, 'Windows Phone') > 0 THEN 'Mobile'
      WHEN os = 'Other' THEN 'Unknown'
      ELSE 'Desktop' END;
  END IF;
  code := array_position(ARRAY['Unknown', 'Desktop', 'Mobile', 'Tablet', 'Bot'], device_type) - 1;
  code := code * 256 + array_position(ARRAY['Unknown', 'Chrome', 'Edge', 'Firefox', 'Opera',
                                            'Safari', 'Samsung Internet', 'Other'], browser) - 1;
  code := code * 256 + array_position(ARRAY['Unknown', 'Android', 'Chrome OS', 'iOS', 'Linux',
                                            'macOS', 'Windows', 'Other'], os) - 1;
END $$;

ANALYZE oracle_events;

-- A store's attributes: from its earliest event with a non-empty
-- current_url, ties broken by the bytewise smaller store_domain; none: the
-- Unknown country, store_domain '' and attr_time NULL (as the Unknown member,
-- key 0, store_id '').
DROP TABLE IF EXISTS oracle_dim_country;
CREATE TABLE oracle_dim_country AS
WITH cand AS (
  SELECT store_id, local_time, current_url,
         min(local_time) OVER (PARTITION BY store_id) AS first_time
  FROM oracle_events WHERE store_id <> '' AND current_url <> ''),
pick AS (
  SELECT DISTINCT ON (store_id) store_id, first_time,
         oracle_domain(oracle_url_host(current_url)) AS store_domain
  FROM cand WHERE local_time = first_time
  ORDER BY store_id, oracle_domain(oracle_url_host(current_url)) COLLATE "C"),
members AS (SELECT DISTINCT store_id FROM oracle_events UNION SELECT '')
SELECT m.store_id,
       coalesce(s.country_name, 'Unknown') AS country_name,
       coalesce(s.country_code, 'XX') AS country_code,
       coalesce(s.region, 'Unknown') AS region,
       coalesce(s.continent, 'Unknown') AS continent,
       coalesce(p.store_domain, '') AS store_domain,
       extract(epoch FROM p.first_time)::bigint AS attr_time
FROM members m
LEFT JOIN pick p USING (store_id)
LEFT JOIN oracle_storefronts s
  ON p.store_domain = 'glamira.' || s.suffix
  OR right(p.store_domain, length(s.suffix) + 9) = '.glamira.' || s.suffix;

-- A referrer's attributes: a function of its URL.
DROP TABLE IF EXISTS oracle_dim_referrer;
CREATE TABLE oracle_dim_referrer AS
SELECT referrer_url, (oracle_referrer(referrer_url)).*
FROM (SELECT DISTINCT referrer_url FROM oracle_events UNION SELECT '') r;

-- A device's attributes: from its earliest event with a non-empty
-- user_agent, ties broken by the smaller packed (type, browser, os); none:
-- Unknown, browser_info '<browser> on <os>' (key 0 keeps the schema's
-- 'Unknown'), attr_time and attr_code NULL.
DROP TABLE IF EXISTS oracle_dim_device;
CREATE TABLE oracle_dim_device AS
WITH cand AS (
  SELECT device_id, local_time, user_agent,
         min(local_time) OVER (PARTITION BY device_id) AS first_time
  FROM oracle_events WHERE device_id <> '' AND user_agent <> ''),
parsed AS (
  SELECT DISTINCT device_id, first_time, (oracle_device(user_agent)).*
  FROM cand WHERE local_time = first_time),
pick AS (
  SELECT DISTINCT ON (device_id) * FROM parsed ORDER BY device_id, code),
members AS (SELECT DISTINCT device_id FROM oracle_events UNION SELECT '')
SELECT m.device_id,
       coalesce(p.device_type, 'Unknown') AS device_type,
       CASE WHEN m.device_id = '' THEN 'Unknown'
            ELSE coalesce(p.browser, 'Unknown') || ' on ' || coalesce(p.os, 'Unknown')
       END AS browser_info,
       coalesce(p.browser, 'Unknown') AS browser,
       coalesce(p.os, 'Unknown') AS os,
       extract(epoch FROM p.first_time)::bigint AS attr_time,
       p.code AS attr_code
FROM members m LEFT JOIN pick p USING (device_id);

-- Warehouse rows whose derived attributes differ from the oracle's, one
-- line per row (for the failure message): dimension, natural key,
-- warehouse, oracle.
DROP TABLE IF EXISTS oracle_attribute_diffs;
CREATE TABLE oracle_attribute_diffs AS
SELECT 'dim_country' AS dim, d.store_id AS natural_key,
       concat_ws('|', d.country_code, d.country_name, d.region, d.continent, d.store_domain,
                 coalesce(d.attr_time::text, 'NULL')) AS warehouse,
       concat_ws('|', o.country_code, o.country_name, o.region, o.continent, o.store_domain,
                 coalesce(o.attr_time::text, 'NULL')) AS oracle
FROM dim_country d JOIN oracle_dim_country o USING (store_id)
WHERE (d.country_code, d.country_name, d.region, d.continent, d.store_domain, d.attr_time)
      IS DISTINCT FROM
      (o.country_code, o.country_name, o.region, o.continent, o.store_domain, o.attr_time)
UNION ALL
SELECT 'dim_referrer', d.referrer_url,
       concat_ws('|', d.referrer_type, d.referrer_domain),
       concat_ws('|', o.referrer_type, o.referrer_domain)
FROM dim_referrer d JOIN oracle_dim_referrer o USING (referrer_url)
WHERE (d.referrer_type, d.referrer_domain) IS DISTINCT FROM (o.referrer_type, o.referrer_domain)
UNION ALL
SELECT 'dim_device', d.device_id,
       concat_ws('|', d.device_type, d.browser, d.os, d.browser_info,
                 coalesce(d.attr_time::text, 'NULL'), coalesce(d.attr_code::text, 'NULL')),
       concat_ws('|', o.device_type, o.browser, o.os, o.browser_info,
                 coalesce(o.attr_time::text, 'NULL'), coalesce(o.attr_code::text, 'NULL'))
FROM dim_device d JOIN oracle_dim_device o USING (device_id)
WHERE (d.device_type, d.browser, d.os, d.browser_info, d.attr_time, d.attr_code)
      IS DISTINCT FROM
      (o.device_type, o.browser, o.os, o.browser_info, o.attr_time, o.attr_code);

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
-- Row counts, which the set comparisons above cannot see: a row duplicated
-- on its natural key, rows that join to no dimension member, totals.
UNION ALL SELECT 'warehouse fact rows duplicated on the grain (extra rows)',
  coalesce(sum(n - 1), 0)
  FROM (SELECT count(*) AS n FROM warehouse_facts
        GROUP BY date, product_id, store_id, referrer_url, device_id HAVING count(*) > 1) x
UNION ALL SELECT 'fact rows: warehouse minus oracle',
  (SELECT count(*) FROM fact_product_views
    WHERE date_key BETWEEN to_char(:fact_first::date, 'YYYYMMDD')::int
                       AND to_char(:fact_last::date, 'YYYYMMDD')::int)
  - (SELECT count(*) FROM oracle_facts)
UNION ALL SELECT 'fact rows whose keys join to no dimension member',
  (SELECT count(*) FROM fact_product_views
    WHERE date_key BETWEEN to_char(:fact_first::date, 'YYYYMMDD')::int
                       AND to_char(:fact_last::date, 'YYYYMMDD')::int)
  - (SELECT count(*) FROM warehouse_facts)
UNION ALL SELECT 'sum(view_count): warehouse minus oracle',
  (SELECT coalesce(sum(view_count), 0) FROM fact_product_views
    WHERE date_key BETWEEN to_char(:fact_first::date, 'YYYYMMDD')::int
                       AND to_char(:fact_last::date, 'YYYYMMDD')::int)
  - (SELECT count(*) FROM oracle_events
      WHERE product_id <> '' AND local_time::date BETWEEN :fact_first::date AND :fact_last::date)
UNION ALL SELECT 'dim_product members duplicated on product_id (extra rows)',
  count(*) - count(DISTINCT product_id) FROM dim_product
UNION ALL SELECT 'dim_country members duplicated on store_id (extra rows)',
  count(*) - count(DISTINCT store_id) FROM dim_country
UNION ALL SELECT 'dim_referrer members duplicated on referrer_url (extra rows)',
  count(*) - count(DISTINCT referrer_url) FROM dim_referrer
UNION ALL SELECT 'dim_device members duplicated on device_id (extra rows)',
  count(*) - count(DISTINCT device_id) FROM dim_device
UNION ALL SELECT 'dimension members: warehouse minus oracle (Unknown members included)',
  (SELECT count(*) FROM dim_product) + (SELECT count(*) FROM dim_country)
  + (SELECT count(*) FROM dim_referrer) + (SELECT count(*) FROM dim_device)
  - (SELECT count(*) FROM (SELECT DISTINCT product_id FROM oracle_events UNION SELECT '') x)
  - (SELECT count(*) FROM oracle_dim_country) - (SELECT count(*) FROM oracle_dim_referrer)
  - (SELECT count(*) FROM oracle_dim_device)
UNION ALL SELECT 'Unknown members (key 0, natural key '''') missing', 4 - (
  (SELECT count(*) FROM dim_product WHERE product_key = 0 AND product_id = '')
  + (SELECT count(*) FROM dim_country WHERE country_key = 0 AND store_id = '')
  + (SELECT count(*) FROM dim_referrer WHERE referrer_key = 0 AND referrer_url = '')
  + (SELECT count(*) FROM dim_device WHERE device_key = 0 AND device_id = ''))
-- Derived attributes, member by member (rows of oracle_attribute_diffs).
UNION ALL SELECT 'dim_country attributes wrong', count(*)
  FROM oracle_attribute_diffs WHERE dim = 'dim_country'
UNION ALL SELECT 'dim_referrer attributes wrong', count(*)
  FROM oracle_attribute_diffs WHERE dim = 'dim_referrer'
UNION ALL SELECT 'dim_device attributes wrong', count(*)
  FROM oracle_attribute_diffs WHERE dim = 'dim_device'
UNION ALL SELECT 'oracle has no fact rows (test data problem)',
  CASE WHEN (SELECT count(*) FROM oracle_facts) = 0 THEN 1 ELSE 0 END;
