"""DuckDB computing the same star schema from the same NDJSON with SQL, then
writing it to PostgreSQL as fast as it can offline.

Best configuration, as SERVICES_LEADS.md asks: read_ndjson with explicit
typed columns (only the fields used), threads = the benchmark's cores,
preserve_insertion_order = false, keys numbered without a sort. Loading goes
through DuckDB's own postgres extension (binary COPY; the extension file
comes from the PyPI package duckdb-ext-postgres, no download at run time);
each date's facts go into a plain table that is attached as the partition
afterwards, so its indexes are built once, as the C++ batch job does.
`--load=psycopg` streams the rows through Python with psycopg COPY instead
(slower; a fallback when the extension cannot load).

  duckdb_job.py --input=FILE --pg=CONNINFO --from=YYYY-MM-DD --to=YYYY-MM-DD
                --threads=N [--noload]   (password from PGPASSWORD)

Prints `PEER_RESULT {...}` with the phase timings: `compute` is read_ndjson +
SQL up to the finished dimension and fact tables (the comparison for our
`batch --noload`).
"""

import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402

FIELDS = ["local_time", "product_id", "store_id", "referrer_url", "device_id",
          "current_url", "user_agent"]


def text(c):
    # Numbers arrive as written; {"$oid": x} as its JSON text -> x.
    return (f"coalesce(CASE WHEN starts_with({c}, '{{') "
            f"THEN json_extract_string({c}, '$.\"$oid\"') ELSE {c} END, '') AS {c}")


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


def extension_path():
    import duckdb
    pattern = os.path.join(os.path.dirname(duckdb.__file__), "..", "duckdb_ext", "extensions",
                           f"v{duckdb.__version__}", "*", "postgres_scanner.duckdb_extension")
    found = glob.glob(pattern)
    return found[0] if found else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True)
    ap.add_argument("--pg", required=True, help="libpq conninfo without password")
    ap.add_argument("--from", dest="date_from", required=True)
    ap.add_argument("--to", dest="date_to", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--noload", action="store_true")
    ap.add_argument("--load", choices=["extension", "psycopg"], default="extension")
    args = ap.parse_args()
    pc.pg_password()

    timer = pc.Timer()
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    timer.mark("start")

    columns = "{" + ", ".join(f"{f}: 'VARCHAR'" for f in FIELDS) + "}"
    con.execute(f"""
      CREATE TEMP TABLE events AS
      SELECT ts, ts::DATE AS date, {', '.join(text(c) for c in FIELDS[1:])}
      FROM (SELECT try_strptime(replace(local_time, 'T', ' '), '%Y-%m-%d %H:%M:%S') AS ts, *
            FROM read_ndjson({sql_literal(args.input)}, columns = {columns},
                             format = 'newline_delimited', ignore_errors = true)
            WHERE regexp_full_match(local_time, '{pc.LOCAL_TIME_RE[1:-1]}'))
      WHERE ts IS NOT NULL""")
    timer.counts["valid_events"] = con.execute("SELECT count(*) FROM events").fetchone()[0]

    suffixes = ", ".join(f"({sql_literal(k)}, {sql_literal(v)})"
                         for k, v in pc.COUNTRY_BY_SUFFIX.items())
    countries = ", ".join(f"({sql_literal(c)}, {', '.join(sql_literal(x) for x in a)})"
                          for c, a in pc.COUNTRIES.items())
    con.execute(f"""
      CREATE TEMP TABLE dim_date AS
      SELECT strftime(date, '%Y%m%d')::INT AS date_key, date, year(date) AS year,
             month(date) AS month, day(date) AS day, dayofweek(date) + 1 AS day_of_week,
             weekofyear(date) AS week_of_year, quarter(date) AS quarter
      FROM (SELECT DISTINCT date FROM events)""")
    con.execute("""
      CREATE TEMP TABLE dim_product AS
      SELECT (row_number() OVER ())::INT AS product_key, product_id
      FROM (SELECT DISTINCT product_id FROM events WHERE product_id <> '')""")
    con.execute(f"""
      CREATE TEMP TABLE dim_country AS
      WITH suffix(suffix, code) AS (VALUES {suffixes}),
           country(code, name, region, continent) AS (VALUES {countries}),
           store AS (
             SELECT store_id,
                    max(lower(regexp_extract(current_url, '{pc.URL_HOST_RE}', 1))) AS store_domain
             FROM events WHERE store_id <> '' GROUP BY store_id)
      SELECT (row_number() OVER ())::INT AS country_key, s.store_id,
             c.name AS country_name, c.code AS country_code, c.region, c.continent,
             s.store_domain
      FROM store s
      LEFT JOIN suffix x ON x.suffix = regexp_extract(s.store_domain, '{pc.STORE_SUFFIX_RE}', 1)
      JOIN country c ON c.code = coalesce(x.code, 'XX')""")
    con.execute(f"""
      CREATE TEMP TABLE dim_referrer AS
      SELECT *, {pc.sql_case_referrer_type('referrer_url', 'referrer_domain', 'regexp_matches')}
                AS referrer_type
      FROM (SELECT (row_number() OVER ())::INT AS referrer_key, referrer_url,
                   regexp_replace(lower(regexp_extract(referrer_url, '{pc.URL_HOST_RE}', 1)),
                                  '^www[.]', '') AS referrer_domain
            FROM (SELECT DISTINCT referrer_url FROM events WHERE referrer_url <> ''))""")
    con.execute(f"""
      CREATE TEMP TABLE dim_device AS
      SELECT device_key, device_id, device_type, browser || ' on ' || os AS browser_info,
             browser, os
      FROM (SELECT (row_number() OVER ())::INT AS device_key, device_id,
                   {pc.sql_case_device_type('ua')} AS device_type,
                   {pc.sql_case_browser('ua')} AS browser, {pc.sql_case_os('ua')} AS os
            FROM (SELECT device_id, max(user_agent) AS ua FROM events
                  WHERE device_id <> '' GROUP BY device_id))""")
    # unique_visitors: device_id is part of the grain, so the distinct count
    # of non-empty device ids in a group is 0 or 1 (same result as
    # count(DISTINCT nullif(device_id, '')), without a distinct aggregate).
    con.execute(f"""
      CREATE TEMP TABLE facts AS
      SELECT strftime(f.date, '%Y%m%d')::INT AS date_key,
             coalesce(p.product_key, 0) AS product_key, coalesce(c.country_key, 0) AS country_key,
             coalesce(r.referrer_key, 0) AS referrer_key, coalesce(d.device_key, 0) AS device_key,
             view_count, unique_visitors, first_view_time, last_view_time,
             epoch(last_view_time) - epoch(first_view_time) AS view_duration_seconds,
             avg_view_timestamp
      FROM (SELECT date, product_id, store_id, referrer_url, device_id,
                   count(*) AS view_count,
                   CASE WHEN device_id <> '' THEN 1 ELSE 0 END AS unique_visitors,
                   min(ts) AS first_view_time, max(ts) AS last_view_time,
                   avg(epoch(ts)) AS avg_view_timestamp
            FROM events
            WHERE product_id <> '' AND date BETWEEN DATE '{args.date_from}' AND DATE '{args.date_to}'
            GROUP BY ALL) f
      LEFT JOIN dim_product p USING (product_id)
      LEFT JOIN dim_country c USING (store_id)
      LEFT JOIN dim_referrer r USING (referrer_url)
      LEFT JOIN dim_device d USING (device_id)""")
    for t in ["dim_date", "dim_product", "dim_country", "dim_referrer", "dim_device", "facts"]:
        timer.counts[t] = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    timer.mark("compute")

    if not args.noload:
        date_keys = [r[0] for r in con.execute(
            "SELECT DISTINCT date_key FROM facts ORDER BY 1").fetchall()]
        if args.load == "extension":
            load_with_extension(con, args.pg, date_keys)
        else:
            load_with_psycopg(con, args.pg, date_keys)
        timer.mark("load")
    timer.report()


DIM_COLUMNS = {
    "dim_date": "date_key, date, year, month, day, day_of_week, week_of_year, quarter",
    "dim_product": "product_key, product_id",
    "dim_country": "country_key, store_id, country_name, country_code, region, continent, store_domain",
    "dim_referrer": "referrer_key, referrer_url, referrer_domain, referrer_type",
    "dim_device": "device_key, device_id, device_type, browser_info, browser, os",
}
FACT_COLUMNS = ("date_key, product_key, country_key, referrer_key, device_key, view_count, "
                "unique_visitors, first_view_time, last_view_time, view_duration_seconds, "
                "avg_view_timestamp, processed_at")


def load_with_extension(con, conninfo, date_keys):
    path = extension_path()
    if not path:
        sys.exit("duckdb-ext-postgres for this duckdb version is not installed")
    con.execute(f"LOAD {sql_literal(path)}")
    # The password comes from PGPASSWORD (libpq), never from the conninfo.
    con.execute(f"ATTACH {sql_literal(conninfo)} AS pg (TYPE postgres)")
    con.execute("BEGIN")
    for dk in date_keys:
        for stmt in pc.fact_partition_ddl(dk, attached=False):
            con.execute(f"CALL postgres_execute('pg', {sql_literal(stmt)})")
    for table, cols in DIM_COLUMNS.items():
        con.execute(f"INSERT INTO pg.public.{table} ({cols}) SELECT {cols} FROM {table}")
    for dk in date_keys:
        con.execute(f"INSERT INTO pg.public.fact_product_views_d{dk} ({FACT_COLUMNS}) "
                    f"SELECT *, now() FROM facts WHERE date_key = {dk}")
    for dk in date_keys:
        con.execute(f"CALL postgres_execute('pg', {sql_literal(pc.attach_ddl(dk))})")
    con.execute("COMMIT")


def load_with_psycopg(con, conninfo, date_keys):
    import psycopg
    with psycopg.connect(conninfo) as pg:
        for dk in date_keys:
            for stmt in pc.fact_partition_ddl(dk, attached=False):
                pg.execute(stmt)

        def copy(table, cols, query):
            cur = con.execute(query)
            with pg.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                while True:
                    rows = cur.fetchmany(100000)
                    if not rows:
                        break
                    for row in rows:
                        cp.write_row(row)

        for table, cols in DIM_COLUMNS.items():
            copy(table, cols, f"SELECT {cols} FROM {table}")
        for dk in date_keys:
            copy(f"fact_product_views_d{dk}", FACT_COLUMNS,
                 f"SELECT *, now() FROM facts WHERE date_key = {dk}")
        for dk in date_keys:
            pg.execute(pc.attach_ddl(dk))


if __name__ == "__main__":
    main()
