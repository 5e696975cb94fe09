-- Star schema for product views: the seed's tables and columns, with the
-- seed's defects fixed (see README "Where we differ from the seed"):
--   * surrogate keys are stable across runs; key 0 is the "Unknown" member;
--   * natural keys of any length are unique through an md5 expression index
--     (a plain btree fails on values longer than ~2,700 bytes);
--   * facts are partitioned by date, so a run replaces one date atomically.
-- Applied by the migration step (cc/warehouse/schema.h); safe to run twice.

CREATE TABLE IF NOT EXISTS dim_date (
    date_key     integer PRIMARY KEY,          -- yyyymmdd
    date         date    NOT NULL UNIQUE,
    year         integer NOT NULL,
    month        integer NOT NULL,
    day          integer NOT NULL,
    day_of_week  integer NOT NULL,             -- 1 = Sunday ... 7 = Saturday (Spark)
    week_of_year integer NOT NULL,             -- ISO week
    quarter      integer NOT NULL
);

CREATE TABLE IF NOT EXISTS dim_product (
    product_key  integer PRIMARY KEY,
    product_id   text    NOT NULL,
    product_name text,
    category     text,
    price        numeric(12, 2),
    is_active    boolean NOT NULL DEFAULT true,
    created_date date
);
CREATE UNIQUE INDEX IF NOT EXISTS dim_product_product_id_key
    ON dim_product (md5(product_id));

CREATE TABLE IF NOT EXISTS dim_country (
    country_key  integer PRIMARY KEY,
    store_id     text    NOT NULL,
    country_name text    NOT NULL,
    country_code text    NOT NULL,
    region       text    NOT NULL,
    continent    text    NOT NULL,
    store_domain text    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX IF NOT EXISTS dim_country_store_id_key
    ON dim_country (md5(store_id));

CREATE TABLE IF NOT EXISTS dim_referrer (
    referrer_key    integer PRIMARY KEY,
    referrer_url    text    NOT NULL,
    referrer_domain text    NOT NULL,
    referrer_type   text    NOT NULL          -- Search Engine, Social Media, Direct, Internal, Other
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_dim_referrer_url
    ON dim_referrer (md5(referrer_url));

CREATE TABLE IF NOT EXISTS dim_device (
    device_key   integer PRIMARY KEY,
    device_id    text    NOT NULL,
    device_type  text    NOT NULL,            -- Desktop, Mobile, Tablet, Bot, Unknown
    browser_info text    NOT NULL,            -- "Chrome on Windows"
    browser      text    NOT NULL,
    os           text    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS dim_device_device_id_key
    ON dim_device (md5(device_id));

-- The Unknown members (a missing or empty dimension value).
INSERT INTO dim_product (product_key, product_id, product_name, category)
    VALUES (0, '', 'Unknown', 'Unknown') ON CONFLICT DO NOTHING;
INSERT INTO dim_country (country_key, store_id, country_name, country_code, region, continent)
    VALUES (0, '', 'Unknown', 'XX', 'Unknown', 'Unknown') ON CONFLICT DO NOTHING;
INSERT INTO dim_referrer (referrer_key, referrer_url, referrer_domain, referrer_type)
    VALUES (0, '', '', 'Direct') ON CONFLICT DO NOTHING;
INSERT INTO dim_device (device_key, device_id, device_type, browser_info, browser, os)
    VALUES (0, '', 'Unknown', 'Unknown', 'Unknown', 'Unknown') ON CONFLICT DO NOTHING;

-- Facts: one partition per date (fact_product_views_dYYYYMMDD), built and
-- indexed off to the side by the batch job, then attached in its transaction.
CREATE TABLE IF NOT EXISTS fact_product_views (
    date_key              integer          NOT NULL,
    product_key           integer          NOT NULL,
    country_key           integer          NOT NULL,
    referrer_key          integer          NOT NULL,
    device_key            integer          NOT NULL,
    view_count            bigint           NOT NULL,
    unique_visitors       bigint           NOT NULL,
    first_view_time       timestamp        NOT NULL,
    last_view_time        timestamp        NOT NULL,
    view_duration_seconds bigint           NOT NULL,
    avg_view_timestamp    double precision NOT NULL,   -- mean of local_time, Unix seconds
    processed_at          timestamptz      NOT NULL,
    CONSTRAINT fact_product_views_grain
        UNIQUE (date_key, product_key, country_key, referrer_key, device_key)
) PARTITION BY LIST (date_key);
CREATE INDEX IF NOT EXISTS idx_fact_date ON fact_product_views (date_key);
CREATE INDEX IF NOT EXISTS idx_fact_product ON fact_product_views (product_key);
CREATE INDEX IF NOT EXISTS idx_fact_country ON fact_product_views (country_key);
CREATE INDEX IF NOT EXISTS idx_fact_referrer ON fact_product_views (referrer_key);
CREATE INDEX IF NOT EXISTS idx_fact_device ON fact_product_views (device_key);

-- One row per batch run, committed with the load (status 'succeeded'), or
-- written after the rollback of a failed load (status 'failed').
CREATE TABLE IF NOT EXISTS etl_run_ledger (
    run_id          bigserial   PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    status          text        NOT NULL,     -- succeeded | failed
    dates           date[]      NOT NULL,
    inputs          jsonb       NOT NULL,     -- segment files and their record counts
    counts          jsonb       NOT NULL,     -- records by outcome and invalid reason
    fact_rows       bigint      NOT NULL,
    fact_checksum   text        NOT NULL,     -- order-independent digest of the fact rows
    timings         jsonb       NOT NULL,     -- seconds per phase
    host            text        NOT NULL,
    error           text
);
