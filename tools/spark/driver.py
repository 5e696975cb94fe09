"""The nightly batch as Spark tasks (started by tools/spark/run.sh; see
docs/operations.md, "Running the scan on Spark").

The driver asks the batch what to read (`batch --plan --partials=P`), runs each
scan step as Spark tasks -- every task runs our batch binary, shipped with the
job (SparkContext.addFile), with `--scan-step` on its group of segments, from
the segments directory every executor reads, into the partials directory P
every executor writes -- and, once the plan says "load", runs the batch with
`--partials=P` here: the same applied-segment record, stale-day logic and
one-transaction load as a single-machine run.

Retries change nothing: a partial is named by what it covers and published
atomically (cc/etl/PARTIAL_FORMAT.md), so a task that fails or is killed and
is run again by Spark writes the same file; the load checks that every segment
is covered exactly once by partials scanned from the same bytes.
"""

import argparse
import json
import os
import re
import stat
import subprocess
import sys
import time


def log(msg):
    print(f"[spark-driver] {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="tools/spark/run.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("--master", required=True, help="Spark master URL: local[N], spark://host:7077, ...")
    p.add_argument("--segments", required=True, help="segments directory, the same path on every executor")
    p.add_argument("--pg", default="", help="PostgreSQL conninfo, without the password (PGPASSWORD or ~/.pgpass)")
    p.add_argument("--quarantine", default="", help="quarantine directory every executor writes (default <segments>/quarantine)")
    p.add_argument("--partials", required=True, help="this run's partials directory on shared storage")
    p.add_argument("--batch-binary", required=True, help="the batch binary shipped to the executors")
    p.add_argument("--tasks", type=int, default=0, help="tasks per scan step (0: 2 per core of the cluster)")
    p.add_argument("--task-threads", type=int, default=1, help="scan threads per task")
    p.add_argument("--max-failures", type=int, default=4, help="attempts per task before the job fails")
    p.add_argument("batch_flags", nargs="*", help="more batch flags (--late-days, --date, --full, ...)")
    return p.parse_args(argv)


def batch(binary, args):
    """Runs the batch here; returns (exit code, stdout). Its log goes to stderr."""
    r = subprocess.run([binary] + args, stdout=subprocess.PIPE, text=True)
    return r.returncode, r.stdout


def plan_step(a, common):
    code, out = batch(a.batch_binary, common + ["--plan"])
    if code != 0:
        sys.exit(code)
    lines = [l for l in out.splitlines() if l.startswith('{"step"')]
    if not lines:
        log(f"no plan in the batch's output: {out!r}")
        sys.exit(1)
    return json.loads(lines[-1])


def groups_of(names, n):
    """n contiguous groups of about equal size (segment names sort by time)."""
    n = max(1, min(n, len(names)))
    size, extra = divmod(len(names), n)
    out, at = [], 0
    for i in range(n):
        k = size + (1 if i < extra else 0)
        out.append(names[at:at + k])
        at += k
    return out


def main(argv):
    a = parse_args(argv)
    from pyspark import SparkFiles
    from pyspark.sql import SparkSession

    master = a.master
    m = re.fullmatch(r"local\[(\d+|\*)\]", master)
    if m:
        # Local mode retries a failed task only when the master says how often
        # (spark.task.maxFailures is ignored there).
        master = f"local[{m.group(1)},{a.max_failures}]"
        log(f"master {a.master} -> {master} (task retries in local mode)")
    spark = (SparkSession.builder.master(master).appName("pv-batch-scan")
             .config("spark.task.maxFailures", str(a.max_failures))
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    sc = spark.sparkContext
    sc.setLogLevel("WARN")
    sc.addFile(a.batch_binary)
    binary_name = os.path.basename(a.batch_binary)
    quarantine = a.quarantine or os.path.join(a.segments, "quarantine")
    common = [f"--segments={a.segments}", f"--partials={a.partials}", f"--quarantine={quarantine}"]
    if a.pg:
        common.append(f"--pg={a.pg}")
    common += a.batch_flags
    tasks = a.tasks or 2 * sc.defaultParallelism
    scan_seconds = 0.0
    steps = 0

    def run_task(group):
        """One Spark task: our scan step on a group of segments."""
        exe = SparkFiles.get(binary_name)
        st = os.stat(exe)
        if not st.st_mode & stat.S_IXUSR:
            os.chmod(exe, st.st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        names, selection, quarantine_records = group
        cmd = [exe, f"--segments={a.segments}", "--scan-step", "--scan-files=" + ",".join(names),
               f"--selection={selection}", f"--partials={a.partials}",
               f"--quarantine={quarantine}", f"--threads={a.task_threads}"]
        if quarantine_records:
            cmd.append("--quarantine-records")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            # Spark runs the task again (up to --max-failures attempts).
            raise RuntimeError(f"scan step on {len(names)} segment(s) ({names[0]} ...) exited "
                               f"{r.returncode}: {r.stderr.strip()[-2000:]}")
        return r.stdout.strip()

    while True:
        step = plan_step(a, common)
        if step["step"] == "load":
            break
        steps += 1
        if steps > 2:
            log(f"the plan did not advance after {steps - 1} scan steps: {step}")
            return 1
        names = step["segments"]
        groups = [(g, step["selection"], step["quarantine"]) for g in groups_of(names, tasks)]
        log(f"scan step {steps}: {len(names)} segment(s) as {len(groups)} task(s), selection "
            f"{step['selection']}{', quarantining' if step['quarantine'] else ''}")
        t = time.monotonic()
        partials = sc.parallelize(groups, len(groups)).map(run_task).collect()
        scan_seconds += time.monotonic() - t
        log(f"scan step {steps}: {len(partials)} partial(s) in {time.monotonic() - t:.2f} s")
    spark.stop()
    log(f"scans done in {scan_seconds:.2f} s over {steps} step(s); merging and loading")
    r = subprocess.run([a.batch_binary] + common)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
