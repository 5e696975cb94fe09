"""One night of the nightly scenario, done the way a good DuckDB user would:
read only the files that hold the affected days, upsert the new dimension
members into the existing warehouse, and replace the affected days' fact
partitions, all in one PostgreSQL transaction.

  duckdb_nightly_job.py --input=NEW_FILE [--previous=FILE ...] --pg=CONNINFO
                        --threads=N   (password from PGPASSWORD)

--input is the night's new file (the events published since the last night:
the new day and late events of earlier days). The *affected days* are the
days its valid events fall on. Their facts need all their events, so the
older files that hold events of those days are read too (--previous; in the
benchmark, lateness is at most one day, so that is the previous night's file)
and only their events of the affected days are kept.

  1. read (read_ndjson with explicit typed columns, as duckdb_job.py): the
     new file, then the previous files' events of the affected days;
  2. dimensions: the distinct members of those events (with derived
     attributes as duckdb_job.py); their natural keys go to staging tables
     in PostgreSQL, where one join per dimension brings the keys of the
     members the warehouse has back into DuckDB; the others get keys after
     the current max and are COPYed into the dimension (existing members
     keep their keys and attributes);
  3. facts of the affected days: grouped in DuckDB, joined to the keys,
     each day COPYed (the postgres extension's binary COPY) into a plain
     table, then the day's old partition is detached and dropped and the
     new table attached in its place (its indexes built once, on attach).

Everything of step 2 and 3 is one transaction (DuckDB's, mapped by the
extension onto one PostgreSQL transaction): a failed night leaves the
warehouse as it was. Best configuration as duckdb_job.py: threads = the
benchmark's cores, preserve_insertion_order = false.

Prints `PEER_RESULT {...}` with phase timings and counts (new members per
dimension, affected days, fact rows).
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402
from duckdb_job import FACT_COLUMNS, FIELDS, extension_path, sql_literal, text  # noqa: E402

# Per dimension: natural key column, staged columns (natural key first), the
# dimension's key column.
DIMS = {
    "dim_product": ("product_id", ["product_id"], "product_key"),
    "dim_country": ("store_id", ["store_id", "country_name", "country_code", "region",
                                 "continent", "store_domain"], "country_key"),
    "dim_referrer": ("referrer_url", ["referrer_url", "referrer_domain", "referrer_type"],
                     "referrer_key"),
    "dim_device": ("device_id", ["device_id", "device_type", "browser_info", "browser", "os"],
                   "device_key"),
}
STAGE_PREFIX = "nightly_stage_"


def read_events(files):
    columns = "{" + ", ".join(f"{f}: 'VARCHAR'" for f in FIELDS) + "}"
    paths = "[" + ", ".join(sql_literal(f) for f in files) + "]"
    return f"""
      SELECT ts, ts::DATE AS date, {', '.join(text(c) for c in FIELDS[1:])}
      FROM (SELECT try_strptime(replace(local_time, 'T', ' '), '%Y-%m-%d %H:%M:%S') AS ts, *
            FROM read_ndjson({paths}, columns = {columns},
                             format = 'newline_delimited', ignore_errors = true)
            WHERE regexp_full_match(local_time, '{pc.LOCAL_TIME_RE[1:-1]}'))
      WHERE ts IS NOT NULL"""


def pg_exec(con, sql):
    con.execute(f"CALL postgres_execute('pg', {sql_literal(sql)})")


def pg_query(con, sql):
    return f"postgres_query('pg', {sql_literal(sql)})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True, help="the night's new file")
    ap.add_argument("--previous", action="append", default=[],
                    help="an older file holding events of the affected days (repeatable)")
    ap.add_argument("--pg", required=True, help="libpq conninfo without password")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    pc.pg_password()

    timer = pc.Timer()
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {args.threads}")
    con.execute("SET preserve_insertion_order = false")
    path = extension_path()
    if not path:
        sys.exit("duckdb-ext-postgres for this duckdb version is not installed")
    con.execute(f"LOAD {sql_literal(path)}")
    # The password comes from PGPASSWORD (libpq), never from the conninfo.
    con.execute(f"ATTACH {sql_literal(args.pg)} AS pg (TYPE postgres)")
    timer.mark("start")

    # --- 1. read: the new file, then the affected days' events of the
    # previous files ---
    con.execute(f"CREATE TEMP TABLE events AS {read_events([args.input])}")
    timer.counts["new_valid_events"] = con.execute("SELECT count(*) FROM events").fetchone()[0]
    con.execute("CREATE TEMP TABLE days AS SELECT DISTINCT date FROM events")
    days = [r[0] for r in con.execute("SELECT date FROM days ORDER BY 1").fetchall()]
    timer.counts["affected_days"] = [str(d) for d in days]
    if args.previous and days:
        con.execute(f"INSERT INTO events SELECT * FROM ({read_events(args.previous)}) "
                    "WHERE date IN (SELECT date FROM days)")
    timer.counts["events_of_affected_days"] = con.execute(
        "SELECT count(*) FROM events").fetchone()[0]
    timer.mark("read")

    # --- 2. the members of these events, with their attributes ---
    suffixes = ", ".join(f"({sql_literal(k)}, {sql_literal(v)})"
                         for k, v in pc.COUNTRY_BY_SUFFIX.items())
    countries = ", ".join(f"({sql_literal(c)}, {', '.join(sql_literal(x) for x in a)})"
                          for c, a in pc.COUNTRIES.items())
    members = {
        "dim_product": "SELECT DISTINCT product_id FROM events WHERE product_id <> ''",
        "dim_country": f"""
          WITH suffix(suffix, code) AS (VALUES {suffixes}),
               country(code, name, region, continent) AS (VALUES {countries}),
               store AS (
                 SELECT store_id,
                        max(lower(regexp_extract(current_url, '{pc.URL_HOST_RE}', 1)))
                          AS store_domain
                 FROM events WHERE store_id <> '' GROUP BY store_id)
          SELECT s.store_id, c.name AS country_name, c.code AS country_code, c.region,
                 c.continent, s.store_domain
          FROM store s
          LEFT JOIN suffix x
            ON x.suffix = regexp_extract(s.store_domain, '{pc.STORE_SUFFIX_RE}', 1)
          JOIN country c ON c.code = coalesce(x.code, 'XX')""",
        "dim_referrer": f"""
          SELECT referrer_url, referrer_domain,
                 {pc.sql_case_referrer_type('referrer_url', 'referrer_domain', 'regexp_matches')}
                   AS referrer_type
          FROM (SELECT referrer_url,
                       regexp_replace(lower(regexp_extract(referrer_url, '{pc.URL_HOST_RE}', 1)),
                                      '^www[.]', '') AS referrer_domain
                FROM (SELECT DISTINCT referrer_url FROM events WHERE referrer_url <> ''))""",
        "dim_device": f"""
          SELECT device_id, device_type, browser || ' on ' || os AS browser_info, browser, os
          FROM (SELECT device_id, {pc.sql_case_device_type('ua')} AS device_type,
                       {pc.sql_case_browser('ua')} AS browser, {pc.sql_case_os('ua')} AS os
                FROM (SELECT device_id, max(user_agent) AS ua FROM events
                      WHERE device_id <> '' GROUP BY device_id))""",
    }
    for dim, query in members.items():
        con.execute(f"CREATE TEMP TABLE m_{dim} AS {query}")
    con.execute("""
      CREATE TEMP TABLE m_dim_date AS
      SELECT strftime(date, '%Y%m%d')::INT AS date_key, date, year(date) AS year,
             month(date) AS month, day(date) AS day, dayofweek(date) + 1 AS day_of_week,
             weekofyear(date) AS week_of_year, quarter(date) AS quarter
      FROM days""")
    # unique_visitors as in duckdb_job.py (device_id is part of the grain).
    con.execute("""
      CREATE TEMP TABLE facts_nk AS
      SELECT strftime(date, '%Y%m%d')::INT AS date_key, product_id, store_id, referrer_url,
             device_id, count(*) AS view_count,
             CASE WHEN device_id <> '' THEN 1 ELSE 0 END AS unique_visitors,
             min(ts) AS first_view_time, max(ts) AS last_view_time,
             avg(epoch(ts)) AS avg_view_timestamp
      FROM events WHERE product_id <> '' GROUP BY ALL""")
    timer.mark("compute")

    # --- 3. one PostgreSQL transaction: stage, upsert, keys back, facts ---
    con.execute("BEGIN")
    for dim, (natural, cols, key) in DIMS.items():
        stage = STAGE_PREFIX + dim
        pg_exec(con, f"DROP TABLE IF EXISTS {stage}")
        con.execute(f"CREATE TABLE pg.public.{stage} AS SELECT {natural} FROM m_{dim}")
    con.execute("CALL pg_clear_cache()")
    new_members = {}
    for dim, (natural, cols, key) in DIMS.items():
        stage = STAGE_PREFIX + dim
        pg_exec(con, f"ANALYZE {stage}")
        # The keys of the members the warehouse has: one hash join of the
        # staged members with the dimension (a plain equality, as our loader
        # does; joining on the md5 index expression makes PostgreSQL hash md5
        # of every member, 4x slower here).
        known = f"SELECT s.{natural}, d.{key} FROM {stage} s JOIN {dim} d USING ({natural})"
        con.execute(f"CREATE TEMP TABLE k_{dim} AS SELECT * FROM {pg_query(con, known)}")
        pg_exec(con, f"DROP TABLE {stage}")
        # The others get keys after the current maximum (natural-key order),
        # appended with the extension's binary COPY.
        max_key = f"SELECT coalesce(max({key}), 0) FROM {dim}"
        base = con.execute(f"SELECT * FROM {pg_query(con, max_key)}").fetchone()[0]
        con.execute(f"""
          CREATE TEMP TABLE n_{dim} AS
          SELECT ({base} + row_number() OVER (ORDER BY m.{natural}))::INT AS {key}, m.*
          FROM m_{dim} m ANTI JOIN k_{dim} k USING ({natural})""")
        new_members[dim] = con.execute(f"SELECT count(*) FROM n_{dim}").fetchone()[0]
        if new_members[dim]:
            con.execute(f"INSERT INTO pg.public.{dim} ({key}, {', '.join(cols)}) "
                        f"SELECT {key}, {', '.join(cols)} FROM n_{dim}")
            con.execute(f"INSERT INTO k_{dim} SELECT {natural}, {key} FROM n_{dim}")
    date_cols = "date_key, date, year, month, day, day_of_week, week_of_year, quarter"
    for d in con.execute(f"SELECT {date_cols} FROM m_dim_date").fetchall():
        values = ", ".join(sql_literal(str(v)) for v in d)
        pg_exec(con, f"INSERT INTO dim_date ({date_cols}) VALUES ({values}) "
                     "ON CONFLICT (date_key) DO NOTHING")
    timer.counts["new_members"] = new_members
    timer.mark("dimensions")

    con.execute("""
      CREATE TEMP TABLE facts AS
      SELECT f.date_key, coalesce(p.product_key, 0) AS product_key,
             coalesce(c.country_key, 0) AS country_key,
             coalesce(r.referrer_key, 0) AS referrer_key, coalesce(d.device_key, 0) AS device_key,
             view_count, unique_visitors, first_view_time, last_view_time,
             epoch(last_view_time) - epoch(first_view_time) AS view_duration_seconds,
             avg_view_timestamp
      FROM facts_nk f
      LEFT JOIN k_dim_product p USING (product_id)
      LEFT JOIN k_dim_country c USING (store_id)
      LEFT JOIN k_dim_referrer r USING (referrer_url)
      LEFT JOIN k_dim_device d USING (device_id)""")
    timer.counts["fact_rows"] = con.execute("SELECT count(*) FROM facts").fetchone()[0]
    date_keys = [r[0] for r in con.execute("SELECT date_key FROM m_dim_date ORDER BY 1").fetchall()]
    for dk in date_keys:
        part = f"fact_product_views_d{dk}"
        pg_exec(con, f"DROP TABLE IF EXISTS {part}_next")
        pg_exec(con, f"CREATE TABLE {part}_next (LIKE fact_product_views INCLUDING DEFAULTS)")
    con.execute("CALL pg_clear_cache()")
    for dk in date_keys:
        con.execute(f"INSERT INTO pg.public.fact_product_views_d{dk}_next ({FACT_COLUMNS}) "
                    f"SELECT *, now() FROM facts WHERE date_key = {dk}")
    timer.mark("fact_copy")
    for dk in date_keys:
        part = f"fact_product_views_d{dk}"
        attached = (f"SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    f"WHERE i.inhparent = 'fact_product_views'::regclass "
                    f"AND c.relname = '{part}'")
        if con.execute(f"SELECT * FROM {pg_query(con, attached)}").fetchone()[0]:
            pg_exec(con, f"ALTER TABLE fact_product_views DETACH PARTITION {part}")
            pg_exec(con, f"DROP TABLE {part}")
        pg_exec(con, f"ALTER TABLE {part}_next RENAME TO {part}")
        pg_exec(con, pc.attach_ddl(dk))
    con.execute("COMMIT")
    con.execute("CALL pg_clear_cache()")
    timer.mark("swap_and_commit")
    timer.report()


if __name__ == "__main__":
    main()
