#!/usr/bin/env python3
"""The scale curve of the batch's scan (issue #16; benchmarks/README "The scale
curve"): events per second against our scan threads (1, 2) and against Spark
tasks (1, 2, 4 in local mode, each running our scan step, tools/spark/run.sh)
on the same segments, with Spark's own overhead shown, and the projection to
32 and 128 cores stated as a projection.

  benchmarks/e2e/scale_curve.py [--events=1000000] [--repeats=3] [--tasks=1,2,4]

Compute only (--noload: no warehouse): the load is the same single-machine
step either way (docs/SCALING.md). Every configuration reads the same
segments (--segment-mb each, so that 4 tasks have work), from the page cache;
medians of --repeats runs, interleaved. Results: a table on stdout and in
.run/bench-results/scale-N.md.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (the harness's helpers: build, datagen, measure)


def records_of(out):
    m = re.search(r"input\s+([\d.]+)([KM]?) records", out)
    if not m:
        return None
    return float(m.group(1)) * {"": 1, "K": 1e3, "M": 1e6}[m.group(2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--start-date", default="2024-06-01")
    ap.add_argument("--segment-mb", type=int, default=32)
    ap.add_argument("--threads", default="1,2", help="our scan threads to measure")
    ap.add_argument("--tasks", default="1,2,4", help="Spark local-mode tasks to measure")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    args.invalid_records = False
    if not args.skip_build:
        bench.build_binaries()
    if subprocess.run([os.path.join(bench.REPO, "tools", "spark", "install.sh")]).returncode:
        sys.exit("pyspark could not be installed (tools/spark/install.sh)")

    n = args.events
    events = bench.generate(n, args)
    segments = os.path.join(bench.RUN, "bench-data", f"scale-segments-{n}")
    shutil.rmtree(segments, ignore_errors=True)
    log_dir = os.path.join(bench.RESULTS, f"logs-scale-{n}")
    imp = bench.measure("import", [bench.BIN["import"], f"--input={events}",
                                   f"--segments={segments}", f"--segment_mb={args.segment_mb}"],
                        None, log_dir)
    if imp["rc"] != 0:
        sys.exit(f"import failed: {imp['err_tail']}")
    n_segments = len([f for f in os.listdir(segments) if f.endswith(".pvseg")])
    bench.warm(events)
    for f in os.listdir(segments):
        bench.warm(os.path.join(segments, f))

    configs = [("ours", int(t)) for t in args.threads.split(",")] + \
              [("spark", int(k)) for k in args.tasks.split(",")]
    runs = {c: [] for c in configs}
    for i in range(args.repeats):
        for kind, k in configs:
            name = f"{kind}-{k}-{i}"
            if kind == "ours":
                r = bench.measure(name, [bench.BIN["batch"], f"--segments={segments}", "--noload",
                                         "--full", f"--threads={k}",
                                         f"--quarantine={tempfile.gettempdir()}/pv-scale-q"],
                                  None, log_dir)
                if r["rc"] != 0:
                    sys.exit(f"{name} failed: {r['err_tail']}")
                m = re.search(r"scan ([\d.]+) s", r["out"])
                runs[(kind, k)].append(dict(wall=r["wall"], scan=float(m.group(1)),
                                            records=records_of(r["out"])))
            else:
                partials = tempfile.mkdtemp(prefix="pv-scale-partials-")
                r = bench.measure(name, [os.path.join(bench.REPO, "tools", "spark", "run.sh"),
                                         f"--master=local[{k}]", f"--segments={segments}",
                                         f"--tasks={k}", "--task-threads=1",
                                         f"--partials={partials}",
                                         f"--quarantine={partials}/q",
                                         f"--batch-binary={bench.BIN['batch']}", "--",
                                         "--noload", "--full", "--threads=2"], None, log_dir)
                shutil.rmtree(partials, ignore_errors=True)
                if r["rc"] != 0:
                    sys.exit(f"{name} failed: {r['err_tail']}")
                with open(os.path.join(log_dir, f"{name}.err"), errors="replace") as f:
                    err = f.read()
                tasks = sum(float(x) for x in re.findall(
                    r"scan step \d+: \d+ partial\(s\) in ([\d.]+) s", err))
                merge = re.search(r"time\s+([\d.]+) s total", r["out"])
                runs[(kind, k)].append(dict(wall=r["wall"], scan=tasks,
                                            merge=float(merge.group(1)) if merge else 0.0,
                                            records=records_of(r["out"])))

    def med(c, key):
        return statistics.median(x[key] for x in runs[c])

    records = runs[configs[0]][0]["records"] or n
    lines = [f"# Scale curve, {n:,} events ({records:,.0f} records) in {n_segments} segments, "
             f"{bench.machine_line()}",
             "",
             f"Medians of {args.repeats} interleaved runs, compute only (`--noload --full`).",
             "",
             "| configuration | wall s | scan s | events/s (wall) | events/s (scan) | "
             "Spark's own overhead s |",
             "| --- | --- | --- | --- | --- | --- |"]
    for kind, k in configs:
        c = (kind, k)
        wall, scan = med(c, "wall"), med(c, "scan")
        if kind == "ours":
            label = f"our batch, {k} scan thread{'s' if k > 1 else ''}"
            overhead = "-"
        else:
            label = f"Spark local[{k}], {k} task{'s' if k > 1 else ''} x 1 thread"
            merge = med(c, "merge")
            overhead = f"{wall - scan - merge:.2f} (+ merge {merge:.2f})"
        lines.append(f"| {label} | {wall:.2f} | {scan:.2f} | {records / wall:,.0f} | "
                     f"{records / scan:,.0f} | {overhead} |")
    ours = sorted(k for kind, k in configs if kind == "ours")
    if ours:
        one = records / med(("ours", ours[0]), "scan") / ours[0]
        top = ours[-1]
        eff = (records / med(("ours", top), "scan")) / (one * top) if top > 1 else 1.0
        lines += ["",
                  f"Per core: {one:,.0f} events/s of scan; {top} threads on {top} cores keep "
                  f"{eff:.0%} of it.",
                  f"Projection (not measured): at that efficiency, 32 cores scan "
                  f"{one * 32 * eff:,.0f} events/s and 128 cores {one * 128 * eff:,.0f}; a night "
                  f"of 2 billion events takes {2e9 / (one * 32 * eff) / 60:.1f} min on 32 cores "
                  f"and {2e9 / (one * 128 * eff) / 60:.1f} min on 128, before the load "
                  f"(docs/SCALING.md: the load is the bound)."]
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(bench.RESULTS, exist_ok=True)
    with open(os.path.join(bench.RESULTS, f"scale-{n}.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
