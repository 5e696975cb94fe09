"""The seed's Spark ETL job (spark/spark.py in seed/README.md), ported to read
the benchmark's NDJSON file instead of MongoDB and to write the project's
star schema (sql/001_star_schema.sql) over JDBC, so that its result can be
compared row for row with the C++ batch job.

What is kept from the seed: one local Spark session, an explicit schema on
read, dimensions as DISTINCT members numbered with row_number(), facts by
groupBy(date, product_id, store_id, referrer_url, device_id) with count,
countDistinct(device_id), min/max/avg of local_time, joins back to the
dimensions for surrogate keys, JDBC append into PostgreSQL, psycopg for DDL.
What is fixed to match DESIGN.md's semantics: values are decoded as text
(numbers as written, {"$oid": x} -> x, null/"" -> Unknown member key 0),
local_time must match the oracle's pattern and be a real date and time, the
timestamps are naive (session time zone UTC).

  spark_job.py --input=FILE[,FILE...] --pg=CONNINFO --from=YYYY-MM-DD --to=YYYY-MM-DD
               --threads=N --jdbc-jar=JAR   (password from PGPASSWORD)

--input takes one file, several (comma-separated or repeated) or a glob:
the seed's job re-reads all its raw input on every run, so the nightly
scenario passes every file published so far.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", required=True, action="append",
                    help="NDJSON file(s) or glob(s); comma-separated or repeated")
    ap.add_argument("--pg", required=True, help="libpq conninfo without password")
    ap.add_argument("--from", dest="date_from", required=True)
    ap.add_argument("--to", dest="date_to", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--jdbc-jar", required=True)
    ap.add_argument("--driver-memory", default="4g")
    args = ap.parse_args()
    inputs = [p for arg in args.input for p in arg.split(",") if p]

    conninfo = dict(kv.split("=", 1) for kv in args.pg.split())
    jdbc_url = (f"jdbc:postgresql://{conninfo.get('host', '127.0.0.1')}:{conninfo.get('port', '5432')}"
                f"/{conninfo['dbname']}?reWriteBatchedInserts=true")
    jdbc_props = {"user": conninfo["user"], "password": pc.pg_password(),
                  "driver": "org.postgresql.Driver"}

    timer = pc.Timer()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
    import psycopg

    spark = (SparkSession.builder
             .master(f"local[{args.threads}]")
             .appName("seed-spark-etl")
             .config("spark.driver.host", "127.0.0.1")
             .config("spark.driver.bindAddress", "127.0.0.1")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.driver.memory", args.driver_memory)
             .config("spark.jars", args.jdbc_jar)
             # The seed ran with 4 shuffle partitions; as many as cores here.
             .config("spark.sql.shuffle.partitions", str(max(args.threads, 2)))
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
             # Impossible dates (02-30, 24:00) become NULL instead of failing.
             .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    timer.mark("spark_start")

    # Only the fields the job uses; StringType keeps numbers as written and
    # objects ({"$oid": ...}) as their JSON text.
    fields = ["local_time", "product_id", "store_id", "referrer_url", "device_id",
              "current_url", "user_agent"]
    schema = T.StructType([T.StructField(f, T.StringType(), True) for f in fields])
    raw = spark.read.schema(schema).option("mode", "PERMISSIVE").json(inputs)

    def text(c):
        col = F.col(c)
        oid = F.get_json_object(col, "$['$oid']")
        return F.coalesce(F.when(col.startswith("{"), oid).otherwise(col), F.lit("")).alias(c)

    ts = F.to_timestamp(F.regexp_replace("local_time", "T", " "), "yyyy-MM-dd HH:mm:ss")
    events = (raw.where(F.col("local_time").rlike(pc.LOCAL_TIME_RE))
              .select(ts.alias("ts"), *[text(c) for c in fields[1:]])
              .where(F.col("ts").isNotNull())
              .withColumn("date", F.to_date("ts"))
              .persist())
    n_valid = events.count()
    timer.counts["valid_events"] = n_valid
    timer.mark("read_parse_cache")

    # --- dimensions (members from every valid event) ---
    dim_date = (events.select("date").distinct()
                .select(F.date_format("date", "yyyyMMdd").cast("int").alias("date_key"),
                        "date",
                        F.year("date").alias("year"), F.month("date").alias("month"),
                        F.dayofmonth("date").alias("day"),
                        F.dayofweek("date").alias("day_of_week"),
                        F.weekofyear("date").alias("week_of_year"),
                        F.quarter("date").alias("quarter")))

    def numbered(df, natural, key):
        return df.withColumn(key, F.row_number().over(Window.orderBy(natural)).cast("int"))

    dim_product = numbered(
        events.where(F.col("product_id") != "").select("product_id").distinct(),
        "product_id", "product_key").select(
            "product_key", "product_id", F.lit(None).cast("string").alias("product_name"),
            F.lit(None).cast("string").alias("category"), F.lit(True).alias("is_active"))

    suffix_map = F.create_map(*[F.lit(x) for kv in pc.COUNTRY_BY_SUFFIX.items() for x in kv])
    countries = spark.createDataFrame(
        [(code, *attrs) for code, attrs in pc.COUNTRIES.items()],
        ["country_code", "country_name", "region", "continent"])
    host = F.lower(F.regexp_extract("current_url", pc.URL_HOST_RE, 1))
    stores = (events.where(F.col("store_id") != "")
              .select("store_id", host.alias("host"))
              .groupBy("store_id")
              .agg(F.max("host").alias("store_domain")))
    stores = stores.withColumn(
        "country_code",
        F.coalesce(suffix_map[F.regexp_extract("store_domain", pc.STORE_SUFFIX_RE, 1)], F.lit("XX")))
    dim_country = numbered(stores.join(F.broadcast(countries), "country_code"),
                           "store_id", "country_key").select(
        "country_key", "store_id", "country_name", "country_code", "region", "continent",
        "store_domain")

    ref_domain = F.regexp_replace(F.lower(F.regexp_extract("referrer_url", pc.URL_HOST_RE, 1)),
                                  "^www[.]", "")
    dim_referrer = numbered(
        events.where(F.col("referrer_url") != "").select("referrer_url").distinct(),
        "referrer_url", "referrer_key").select(
            "referrer_key", "referrer_url", ref_domain.alias("referrer_domain"))
    dim_referrer = dim_referrer.withColumn(
        "referrer_type",
        F.expr(pc.sql_case_referrer_type("referrer_url", "referrer_domain", "rlike")))

    devices = (events.where(F.col("device_id") != "")
               .groupBy("device_id").agg(F.max("user_agent").alias("ua")))
    dim_device = numbered(devices, "device_id", "device_key").select(
        "device_key", "device_id",
        F.expr(pc.sql_case_device_type("ua")).alias("device_type"),
        F.expr(pc.sql_case_browser("ua")).alias("browser"),
        F.expr(pc.sql_case_os("ua")).alias("os"))
    dim_device = dim_device.withColumn(
        "browser_info", F.concat_ws(" on ", "browser", "os"))

    dims = {
        "dim_date": dim_date, "dim_product": dim_product, "dim_country": dim_country,
        "dim_referrer": dim_referrer, "dim_device": dim_device,
    }
    for name in dims:
        dims[name] = dims[name].persist()
        timer.counts[name] = dims[name].count()
    timer.mark("dimensions")

    # --- facts (events of the processed dates that have a product) ---
    epoch = F.unix_timestamp("ts")
    facts = (events.where((F.col("product_id") != "") &
                          F.col("date").between(F.lit(args.date_from).cast("date"),
                                                F.lit(args.date_to).cast("date")))
             .groupBy("date", "product_id", "store_id", "referrer_url", "device_id")
             .agg(F.count(F.lit(1)).alias("view_count"),
                  F.countDistinct(F.when(F.col("device_id") != "", F.col("device_id")))
                  .alias("unique_visitors"),
                  F.min("ts").alias("first_view_time"),
                  F.max("ts").alias("last_view_time"),
                  F.avg(epoch).alias("avg_view_timestamp")))

    def key_of(df, dim, natural, key):
        d = dims[dim].select(natural, key)
        return df.join(d, natural, "left").withColumn(key, F.coalesce(F.col(key), F.lit(0)))

    facts = key_of(facts, "dim_product", "product_id", "product_key")
    facts = key_of(facts, "dim_country", "store_id", "country_key")
    facts = key_of(facts, "dim_referrer", "referrer_url", "referrer_key")
    facts = key_of(facts, "dim_device", "device_id", "device_key")
    facts = facts.select(
        F.date_format("date", "yyyyMMdd").cast("int").alias("date_key"),
        "product_key", "country_key", "referrer_key", "device_key",
        "view_count", "unique_visitors", "first_view_time", "last_view_time",
        (F.unix_timestamp("last_view_time") - F.unix_timestamp("first_view_time"))
        .alias("view_duration_seconds"),
        "avg_view_timestamp", F.current_timestamp().alias("processed_at")).persist()
    timer.counts["fact_rows"] = facts.count()
    timer.mark("facts")

    # --- load: dimensions (the Unknown members exist already), then facts
    # into one partition per date, as the seed appended to its fact table ---
    date_keys = [r.date_key for r in dim_date.where(
        F.col("date").between(F.lit(args.date_from).cast("date"),
                              F.lit(args.date_to).cast("date"))).collect()]
    with psycopg.connect(args.pg, autocommit=True) as conn:
        for dk in date_keys:
            for stmt in pc.fact_partition_ddl(dk, attached=True):
                conn.execute(stmt)
    for name, df in dims.items():
        (df.write.mode("append").option("batchsize", 10000)
         .option("numPartitions", args.threads)
         .jdbc(jdbc_url.replace("?", f"?ApplicationName=spark_{name}&"), name,
               properties=jdbc_props))
    timer.mark("load_dimensions")
    (facts.write.mode("append").option("batchsize", 10000)
     .option("numPartitions", args.threads)
     .jdbc(jdbc_url, "fact_product_views", properties=jdbc_props))
    timer.mark("load_facts")
    spark.stop()
    timer.report()


if __name__ == "__main__":
    main()
