#!/usr/bin/env python3
"""End-to-end benchmark: this project against the seed's Spark job and DuckDB,
on the same NDJSON events, the same cores and the same PostgreSQL.

  benchmarks/e2e/run.py --events=1000000 [--events=4000000] --threads=2

Steps: build our binaries (bazel), install the peers (install_peers.sh, into
.run/), start a dedicated durable PostgreSQL cluster (.run/bench-services,
through tools/services/postgres.sh; PV_PG_FAST is never set), generate the
events once per N (cached in .run/bench-data), then per N:

  us      import (NDJSON -> segments), batch --noload (compute only),
          batch (compute + load into database bench_us)
  duckdb  duckdb_job.py into database bench_duckdb
  spark   spark_job.py into database bench_spark

Each measured command runs alone; wall time is measured here and peak RSS is
the largest sum of RSS over the command's process tree (sampled every 0.1 s;
PostgreSQL's own processes are not counted for anyone). Every peer's
warehouse is compared with ours on natural keys (dimension member sets,
dim_date rows, fact rows with all measures) before its time counts. Prints
one markdown table per N and saves it, with raw JSON, in .run/bench-results/.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(REPO, ".run")
VENV_PY = os.path.join(RUN, "bench-venv", "bin", "python")
E2E = os.path.join(REPO, "benchmarks", "e2e")
SERVICES = os.path.join(RUN, "bench-services")
RESULTS = os.path.join(RUN, "bench-results")
JDBC_JAR = os.path.join(RUN, "bench-jars", "postgresql-42.7.4.jar")
BIN_DIR = os.path.join(RUN, "bench-bin")
TARGETS = {"datagen": "tools/datagen/datagen", "import": "cc/ingest/import",
           "batch": "cc/etl/batch"}
BIN = {name: os.path.join(BIN_DIR, name) for name in TARGETS}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- measuring

def _tree_rss_bytes(root):
    """Sum of RSS over `root` and its descendants (from /proc)."""
    children = {}
    rss = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
            with open(f"/proc/{name}/statm") as f:
                pages = int(f.read().split()[1])
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(name))
        rss[int(name)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def measure(name, cmd, env=None, log_dir=None):
    """Runs cmd, returns {wall, rss_mb, rc, out, err_tail}."""
    log(f"{name}: {' '.join(cmd)}")
    os.makedirs(log_dir, exist_ok=True)
    out_path = os.path.join(log_dir, f"{name}.out")
    err_path = os.path.join(log_dir, f"{name}.err")
    peak = [0]
    # GNU time's %M (the largest single process, waited-for descendants
    # included) is a floor for short runs that the sampler may miss.
    time_path = os.path.join(log_dir, f"{name}.maxrss")
    if os.path.exists("/usr/bin/time"):
        cmd = ["/usr/bin/time", "-f", "%M", "-o", time_path] + cmd
    with open(out_path, "w") as out, open(err_path, "w") as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_bytes(proc.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        rc = proc.wait()
        wall = time.monotonic() - t0
        done.set()
        sampler.join()
    try:
        with open(time_path) as f:
            peak[0] = max(peak[0], int(f.read().split()[-1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    with open(out_path) as f:
        stdout = f.read()
    with open(err_path, errors="replace") as f:
        err_tail = f.read()[-3000:]
    log(f"{name}: rc={rc} wall={wall:.2f}s peak_rss={peak[0] / 2**20:.0f}MB")
    return {"wall": wall, "rss_mb": peak[0] / 2**20, "rc": rc, "out": stdout,
            "err_tail": err_tail}


def peer_result(stdout):
    for line in stdout.splitlines():
        if line.startswith("PEER_RESULT "):
            return json.loads(line[len("PEER_RESULT "):])
    return None


def failure_reason(r):
    lines = [l for l in r["err_tail"].splitlines() if l.strip()]
    interesting = [l for l in lines if "Error" in l or "error" in l or "Exception" in l]
    text = (interesting or lines or [f"exit code {r['rc']}"])[-1]
    return f"failed (exit {r['rc']}): {text.strip()[:160]}"


# ---------------------------------------------------------------- PostgreSQL

class Postgres:
    def __init__(self):
        env = dict(os.environ, PV_SERVICES_DIR=SERVICES)
        env.pop("PV_PG_FAST", None)
        subprocess.run([os.path.join(REPO, "tools", "services", "postgres.sh"), "start"],
                       env=env, check=True)
        out = subprocess.run([os.path.join(REPO, "tools", "services", "postgres.sh"), "env"],
                             env=env, check=True, capture_output=True, text=True).stdout
        self.env = {}
        for line in out.splitlines():
            k, v = line[len("export "):].split("=", 1)
            self.env[k] = v.strip("'")
        self.port = self.env["PGPORT"]
        self.base_conninfo = self.env["PV_PG_CONNINFO"]

    def conninfo(self, db):
        return " ".join(kv if not kv.startswith("dbname=") else f"dbname={db}"
                        for kv in self.base_conninfo.split())

    def child_env(self):
        env = dict(os.environ)
        env.update(self.env)
        env.pop("PV_PG_FAST", None)
        env.pop("PYSPARK_HADOOP_VERSION", None)
        return env

    def admin(self, sql):
        """Superuser SQL over the cluster's private socket (pv may not have
        CREATEDB), as tools/services/postgres.sh does."""
        cmd = ["/usr/lib/postgresql/15/bin/psql", "-X", "-q", "-v", "ON_ERROR_STOP=1",
               "-h", os.path.join(SERVICES, "pg", "sock"), "-p", self.port,
               "-U", "postgres", "-d", "postgres", "-c", sql]
        if os.getuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        subprocess.run(cmd, check=True)

    def fresh_db(self, db):
        self.admin(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        self.admin(f"CREATE DATABASE {db} OWNER pv")
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.conninfo(db),
                        "-f", os.path.join(REPO, "sql", "001_star_schema.sql")],
                       env=self.child_env(), check=True, stdout=subprocess.DEVNULL)

    def settings(self):
        import psycopg
        with psycopg.connect(self.conninfo("postgres"), password=self.env["PGPASSWORD"]) as c:
            return {k: c.execute(f"SHOW {k}").fetchone()[0] for k in
                    ["server_version", "fsync", "synchronous_commit", "full_page_writes",
                     "shared_buffers", "max_wal_size", "max_parallel_maintenance_workers"]}


# ---------------------------------------------------------------- checking

# Natural-key views of a warehouse, as the oracle's warehouse_facts view.
CHECK_QUERIES = {
    "dim_date rows": "SELECT date_key, date, year, month, day, day_of_week, week_of_year, quarter "
                     "FROM dim_date",
    "dim_product members": "SELECT product_id FROM dim_product WHERE product_key <> 0",
    "dim_country members": "SELECT store_id FROM dim_country WHERE country_key <> 0",
    "dim_referrer members": "SELECT referrer_url FROM dim_referrer WHERE referrer_key <> 0",
    "dim_device members": "SELECT device_id FROM dim_device WHERE device_key <> 0",
}
FACTS_QUERY = """
SELECT md5(concat_ws('|', d.date, p.product_id, c.store_id, r.referrer_url, v.device_id)) AS grain,
       md5(concat_ws('|', f.view_count, f.unique_visitors, f.first_view_time, f.last_view_time,
                     f.view_duration_seconds,
                     -- avg * count is the integer sum of epoch seconds: exact
                     -- whatever the summation order of each engine
                     round(f.avg_view_timestamp * f.view_count)::bigint)) AS measures
FROM fact_product_views f
JOIN dim_date d ON d.date_key = f.date_key
JOIN dim_product p ON p.product_key = f.product_key
JOIN dim_country c ON c.country_key = f.country_key
JOIN dim_referrer r ON r.referrer_key = f.referrer_key
JOIN dim_device v ON v.device_key = f.device_key"""


def _digest(conn, query):
    return conn.execute(
        "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0) "
        f"FROM ({query}) t").fetchone()


def compare(pg, ours, theirs):
    """Returns (ok, text): mismatch counts by check, on natural keys."""
    import psycopg
    pw = pg.env["PGPASSWORD"]
    problems = []
    with psycopg.connect(pg.conninfo(ours), password=pw) as a, \
            psycopg.connect(pg.conninfo(theirs), password=pw) as b:
        for check, q in CHECK_QUERIES.items():
            if _digest(a, q) == _digest(b, q):
                continue
            sa = set(a.execute(q).fetchall())
            sb = set(b.execute(q).fetchall())
            problems.append(f"{check}: {len(sa - sb)} missing, {len(sb - sa)} extra")
        if _digest(a, FACTS_QUERY) != _digest(b, FACTS_QUERY):
            fa = dict(a.execute(FACTS_QUERY).fetchall())
            fb = dict(b.execute(FACTS_QUERY).fetchall())
            missing = sum(1 for k in fa if k not in fb)
            extra = sum(1 for k in fb if k not in fa)
            differ = sum(1 for k, m in fa.items() if k in fb and fb[k] != m)
            problems.append(f"fact rows: {missing} missing, {extra} extra, "
                            f"{differ} with different measures")
        n_facts = a.execute("SELECT count(*) FROM fact_product_views").fetchone()[0]
    if problems:
        return False, "MISMATCH: " + "; ".join(problems)
    return True, f"ok ({n_facts:,} fact rows, all dims equal)"


# ---------------------------------------------------------------- running

def generate(n, args):
    os.makedirs(os.path.join(RUN, "bench-data"), exist_ok=True)
    tag = "inv" if args.invalid_records else "valid"
    path = os.path.join(RUN, "bench-data", f"events-{n}-d{args.days}-{tag}.ndjson")
    if not os.path.exists(path):
        cmd = [BIN["datagen"], f"--events={n}", f"--days={args.days}",
               f"--start_date={args.start_date}", f"--output={path}.tmp"]
        if not args.invalid_records:
            cmd += ["--rate_not_json=0", "--rate_not_object=0"]
        log(f"generating {n} events -> {path}")
        subprocess.run(cmd, check=True)
        os.rename(path + ".tmp", path)
    return path


def warm(path):
    """Reads the input once so every system starts with it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_n(n, args, pg, peers_ready):
    events = generate(n, args)
    first = datetime.date.fromisoformat(args.start_date)
    last = first + datetime.timedelta(days=args.days - 1)
    dates = [f"--from={first}", f"--to={last}"]
    log_dir = os.path.join(RESULTS, f"logs-{n}")
    os.makedirs(log_dir, exist_ok=True)
    env = pg.child_env()
    rows = []  # dicts: system, stage, wall, rss, ratio, check
    t = args.threads

    # --- us ---
    segments = os.path.join(RUN, "bench-data", f"segments-{n}")
    shutil.rmtree(segments, ignore_errors=True)
    quarantine = os.path.join(RUN, "bench-data", f"quarantine-{n}")
    shutil.rmtree(quarantine, ignore_errors=True)
    warm(events)
    imp = measure("us-import", [BIN["import"], f"--input={events}", f"--segments={segments}"],
                  env, log_dir)
    pg.fresh_db("bench_us")
    batch_cmd = [BIN["batch"], f"--segments={segments}", f"--pg={pg.conninfo('bench_us')}",
                 f"--threads={t}", f"--quarantine={quarantine}"] + dates
    noload = measure("us-batch-noload", batch_cmd + ["--noload"], env, log_dir)
    batch = measure("us-batch", batch_cmd, env, log_dir)
    us_ok = imp["rc"] == 0 and batch["rc"] == 0
    us_check = "reference" if us_ok else failure_reason(batch if imp["rc"] == 0 else imp)
    rows.append(dict(system="this project", stage="import (NDJSON -> segments)", r=imp,
                     check=us_check if imp["rc"] == 0 else failure_reason(imp)))
    rows.append(dict(system="this project", stage="batch --noload (compute only)", r=noload,
                     check="reference" if noload["rc"] == 0 else failure_reason(noload)))
    rows.append(dict(system="this project", stage="batch (compute + load, committed)", r=batch,
                     check=us_check))
    both = {"wall": imp["wall"] + batch["wall"], "rss_mb": max(imp["rss_mb"], batch["rss_mb"]),
            "rc": imp["rc"] or batch["rc"]}
    rows.append(dict(system="this project", stage="import + batch", r=both, check=us_check))
    base = {"batch": batch["wall"], "noload": noload["wall"], "import+batch": both["wall"]}

    # --- duckdb ---
    if "duckdb" in args.peers:
        if not peers_ready[0]:
            rows.append(dict(system="DuckDB", stage="read_ndjson + SQL + COPY", r=None,
                             check=f"not run: {peers_ready[1]}"))
        else:
            pg.fresh_db("bench_duckdb")
            warm(events)
            r = measure("duckdb", [VENV_PY, os.path.join(E2E, "duckdb_job.py"),
                                   f"--input={events}", f"--pg={pg.conninfo('bench_duckdb')}",
                                   f"--threads={t}"] + dates, env, log_dir)
            res = peer_result(r["out"])
            if r["rc"] != 0 or not res:
                check = failure_reason(r)
                ok = False
            else:
                ok, check = compare(pg, "bench_us", "bench_duckdb") if us_ok else (
                    False, "not checked: our run failed")
            compute = {"wall": res["phases"]["compute"], "rss_mb": None, "rc": 0} if res else None
            rows.append(dict(system="DuckDB", stage="read_ndjson + SQL (compute, in-process)",
                             r=compute, check=check, ok=ok,
                             ratio=[("our batch --noload", base["noload"])]))
            rows.append(dict(system="DuckDB", stage="end to end (+ COPY into PostgreSQL)", r=r,
                             check=check, ok=ok,
                             ratio=[("our batch", base["batch"]),
                                    ("our import + batch", base["import+batch"])]))

    # --- spark ---
    if "spark" in args.peers:
        if not peers_ready[0]:
            rows.append(dict(system="Spark (seed job)", stage="end to end", r=None,
                             check=f"not run: {peers_ready[1]}"))
        else:
            pg.fresh_db("bench_spark")
            warm(events)
            r = measure("spark", [VENV_PY, os.path.join(E2E, "spark_job.py"),
                                  f"--input={events}", f"--pg={pg.conninfo('bench_spark')}",
                                  f"--threads={t}", f"--jdbc-jar={JDBC_JAR}",
                                  f"--driver-memory={args.spark_driver_memory}"] + dates,
                        env, log_dir)
            res = peer_result(r["out"])
            if r["rc"] != 0 or not res:
                ok, check = False, failure_reason(r)
            else:
                ok, check = compare(pg, "bench_us", "bench_spark") if us_ok else (
                    False, "not checked: our run failed")
            rows.append(dict(system="Spark (seed job)", stage="end to end (JDBC into PostgreSQL)",
                             r=r, check=check, ok=ok,
                             ratio=[("our batch", base["batch"]),
                                    ("our import + batch", base["import+batch"])]))
            if res:
                rows[-1]["phases"] = res["phases"]
    return rows


def render(n, args, rows, machine, pg_settings):
    out = [f"### N = {n:,} events, {args.threads} threads/cores, {args.days} days of facts",
           "",
           f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}, {machine}",
           "",
           "| system | stage | wall s | events/s | peak RSS MB | peer time / ours | check |",
           "| --- | --- | ---: | ---: | ---: | --- | --- |"]
    for row in rows:
        r = row["r"]
        if r is None:
            out.append(f"| {row['system']} | {row['stage']} | — | — | — | — | {row['check']} |")
            continue
        wall = r["wall"]
        failed = r.get("rc", 0) != 0
        rss = "—" if r.get("rss_mb") is None else f"{r['rss_mb']:.0f}"
        ratio = "—"
        if "ratio" in row and not failed:
            parts = [f"{wall / b:.1f}× {name}" for name, b in row["ratio"] if b > 0]
            ratio = "; ".join(parts)
            if not row.get("ok"):
                ratio = f"(not counted) {ratio}"
        out.append(f"| {row['system']} | {row['stage']} | {wall:.2f} | "
                   f"{(n / wall if wall > 0 and not failed else 0):,.0f} | {rss} | {ratio} | "
                   f"{row['check']} |")
    for row in rows:
        if row.get("phases"):
            ph = ", ".join(f"{k} {v:.1f}s" for k, v in row["phases"].items())
            out.append("")
            out.append(f"{row['system']} phases: {ph}")
    out.append("")
    out.append("PostgreSQL (same cluster for all): " +
               ", ".join(f"{k}={v}" for k, v in pg_settings.items()))
    return "\n".join(out)


def machine_line():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores {cpu}, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, action="append", help="N; repeat for several")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--start-date", default="2024-06-01")
    ap.add_argument("--peers", default="duckdb,spark")
    ap.add_argument("--invalid-records", action="store_true",
                    help="keep datagen's not-JSON / not-object records (the peers cannot "
                         "reject all of them as we do; their checks then fail)")
    ap.add_argument("--spark-driver-memory", default="4g")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-install", action="store_true")
    args = ap.parse_args()
    args.events = args.events or [1000000]
    args.peers = args.peers.split(",")

    if not args.skip_build:
        subprocess.run(["bazel", "build", "//tools/datagen:datagen", "//cc/ingest:import",
                        "//cc/etl:batch"], cwd=REPO, check=True)
        # bazel-bin follows whoever built last (another config on a shared
        # machine): take the default (opt) config's outputs and keep a copy.
        bazel_bin = subprocess.run(["bazel", "info", "bazel-bin"], cwd=REPO, check=True,
                                   capture_output=True, text=True).stdout.strip()
        os.makedirs(BIN_DIR, exist_ok=True)
        for name, target in TARGETS.items():
            if os.path.exists(BIN[name]):
                os.remove(BIN[name])  # bazel outputs are read-only
            shutil.copy2(os.path.join(bazel_bin, target), BIN[name])
    missing = [b for b in BIN.values() if not os.path.exists(b)]
    if missing:
        sys.exit(f"missing {missing}: run without --skip-build")
    peers_ready = (True, "")
    if not args.skip_install:
        r = subprocess.run(["bash", os.path.join(E2E, "install_peers.sh")], cwd=REPO)
        if r.returncode != 0:
            peers_ready = (False, "install_peers.sh failed (see its output)")
    if not os.path.exists(VENV_PY):
        peers_ready = (False, "no .run/bench-venv (run benchmarks/e2e/install_peers.sh)")
    # The checks need psycopg: run again inside the venv.
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.path.exists(VENV_PY) and sys.executable != VENV_PY:
            os.execv(VENV_PY, [VENV_PY, os.path.abspath(__file__)] + sys.argv[1:] +
                     ["--skip-build", "--skip-install"])
        sys.exit("psycopg is needed for the checks: run benchmarks/e2e/install_peers.sh")

    pg = Postgres()
    settings = pg.settings()
    machine = machine_line()
    os.makedirs(RESULTS, exist_ok=True)
    tables = []
    for n in args.events:
        rows = run_n(n, args, pg, peers_ready)
        table = render(n, args, rows, machine, settings)
        tables.append(table)
        print(table, flush=True)
        print(flush=True)
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        with open(os.path.join(RESULTS, f"table-{n}-{stamp}.md"), "w") as f:
            f.write(table + "\n")
        with open(os.path.join(RESULTS, f"rows-{n}-{stamp}.json"), "w") as f:
            json.dump([{k: (v if k != "r" or v is None else
                            {kk: vv for kk, vv in v.items() if kk not in ("out", "err_tail")})
                        for k, v in row.items()} for row in rows], f, indent=1, default=str)


if __name__ == "__main__":
    main()
