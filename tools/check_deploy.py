#!/usr/bin/env python3
"""Consistency checks of the deployment files, run by tools/check_deploy.sh.

tools/check_deploy.sh is the entry point: it runs the tool-based checks
(compose config, hadolint, systemd-analyze), reads the batch binary's --help,
and then runs this program for everything that needs parsing:

  - docker/compose.yaml against what the stages read: the services and their
    images, the published ports, the Kafka brokers (KRaft, SASL_PLAINTEXT/PLAIN
    on the client listener, 3 partitions, RF 3, min ISR 2), each stage's build
    target and environment names, the broker lists, the shared segments
    volume, the batch service's profile and PostgreSQL address;
  - every ${VAR} of the compose file against docker/.env.example, and
    docker/.env being git-ignored;
  - docker/Dockerfile's packages against tools/bootstrap.sh and against the
    libraries the built binaries link (readelf, ldd, dpkg);
  - the systemd unit, the timer and the crontab: the batch command is valid
    sh, runs /usr/local/bin/batch with flags it accepts, in the nightly mode
    (no --date/--from/--to), with a quarantine apart from the segments.

It prints one line per check (PASS, FAIL with an indented detail, or SKIP),
then "consistency checks: N ok, M failing", and exits 1 if any check failed.

Input comes from the environment, set by tools/check_deploy.sh (which also
changes to the repository root; this program does the same):

  COMPOSE, ENV_EXAMPLE, DOCKERFILE, CRONTAB, UNIT_SERVICE   the files to check
  BIN_DIR                                                   the bazel-bin holding the built binaries
  TMP                                                       a scratch directory
  BATCH_HELP                                                the batch binary's --help (may be empty)
  STAGE_ENV_<stage>, STAGE_REQUIRED_<stage>                 for mirror, consume, batch: the
                                                            variables the stage reads, and the
                                                            required ones ("A|B": either)

Needs python3 with PyYAML (Debian package python3-yaml).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys

import yaml

REQUIRED_ENV = ["COMPOSE", "ENV_EXAMPLE", "DOCKERFILE", "CRONTAB", "UNIT_SERVICE", "BIN_DIR",
                "STAGE_ENV_mirror", "STAGE_ENV_consume", "STAGE_ENV_batch",
                "STAGE_REQUIRED_mirror", "STAGE_REQUIRED_consume", "STAGE_REQUIRED_batch"]


def main():
    env = os.environ
    results = []  # (ok, message, details)

    def check(ok, message, details=""):
        results.append((bool(ok), message, details))

    def words(name):
        return env.get(name, "").split()

    compose_text = open(env["COMPOSE"]).read()
    compose = yaml.safe_load(compose_text)
    services = compose.get("services", {})
    dockerfile = open(env["DOCKERFILE"]).read()

    def env_of(svc):
        e = services.get(svc, {}).get("environment", {}) or {}
        if isinstance(e, list):
            e = dict(item.split("=", 1) if "=" in item else (item, None) for item in e)
        return {k: ("" if v is None else str(v)) for k, v in e.items()}

    def published(svc):
        out = []
        for p in services.get(svc, {}).get("ports", []) or []:
            if isinstance(p, dict):
                out.append((str(p.get("published")), str(p.get("target"))))
                continue
            parts = str(p).split("/")[0].rsplit(":", 2)
            out.append((parts[-2], parts[-1]))
        return out

    # --- services and images
    expected = ["kafka-0", "kafka-1", "kafka-2", "mongo", "postgres", "akhq", "adminer",
                "mirror", "consume", "batch"]
    missing = [s for s in expected if s not in services]
    check(not missing, f"compose: services {', '.join(expected)} are defined",
          f"missing: {missing}")
    kafka = sorted(s for s in services if re.fullmatch(r"kafka-\d+", s))
    images = {s: str(services[s].get("image", "")) for s in services}
    check(len(kafka) == 3 and all(re.match(r"(apache|bitnami)/kafka:", images[s]) for s in kafka),
          "compose: 3 Kafka brokers on apache/kafka or bitnami/kafka images",
          str({s: images[s] for s in kafka}))
    check(images.get("mongo", "").startswith("mongo:7"), "compose: MongoDB 7", images.get("mongo"))
    check(images.get("postgres", "").startswith("postgres:15"), "compose: PostgreSQL 15",
          images.get("postgres"))

    # --- published ports (the seed's)
    for svc, host, container in [("akhq", "8180", "8080"), ("adminer", "8380", "8080"),
                                 ("postgres", "5433", "5432"), ("mongo", "27017", "27017")]:
        check((host, container) in published(svc),
              f"compose: {svc} published on host port {host}", str(published(svc)))

    # --- Kafka: KRaft, SASL PLAIN on the client listener, RF 3, min ISR 2, 3 partitions
    client_ports = {}
    node_ids = []
    for s in kafka:
        e = env_of(s)
        node_ids.append(e.get("KAFKA_NODE_ID") or e.get("KAFKA_CFG_NODE_ID"))
        get = lambda k: e.get("KAFKA_" + k, e.get("KAFKA_CFG_" + k, ""))
        problems = []
        if "controller" not in get("PROCESS_ROLES"): problems.append("not KRaft (process.roles)")
        if any("ZOOKEEPER" in k for k in e): problems.append("ZooKeeper setting present")
        voters = get("CONTROLLER_QUORUM_VOTERS")
        if any(f"@{k}:" not in voters for k in kafka): problems.append(f"quorum voters {voters!r}")
        proto = dict(x.split(":", 1) for x in get("LISTENER_SECURITY_PROTOCOL_MAP").split(",") if ":" in x)
        if proto.get("CLIENT") != "SASL_PLAINTEXT": problems.append(f"CLIENT listener is {proto.get('CLIENT')}")
        if "PLAIN" not in get("SASL_ENABLED_MECHANISMS").split(","): problems.append("PLAIN not enabled")
        if "PlainLoginModule" not in get("LISTENER_NAME_CLIENT_PLAIN_SASL_JAAS_CONFIG"):
            problems.append("no PLAIN JAAS config on the CLIENT listener")
        for key, want in [("NUM_PARTITIONS", "3"), ("DEFAULT_REPLICATION_FACTOR", "3"),
                          ("MIN_INSYNC_REPLICAS", "2"), ("OFFSETS_TOPIC_REPLICATION_FACTOR", "3")]:
            if get(key) != want: problems.append(f"{key}={get(key)!r}, want {want}")
        adv = dict(x.split("://", 1) for x in get("ADVERTISED_LISTENERS").split(",") if "://" in x)
        if adv.get("CLIENT", "").split(":")[0] != s: problems.append(f"CLIENT advertised as {adv.get('CLIENT')}")
        lst = dict(x.split("://", 1) for x in get("LISTENERS").split(",") if "://" in x)
        client_ports[s] = lst.get("CLIENT", "").rsplit(":", 1)[-1]
        check(not problems, f"compose: {s}: KRaft, SASL_PLAINTEXT/PLAIN client listener, "
              "3 partitions, RF 3, min ISR 2", "; ".join(problems))
    check(len(set(node_ids)) == len(node_ids) == 3, "compose: Kafka node ids are distinct", str(node_ids))

    # --- our stages: built from docker/Dockerfile, one target per stage, with an ENTRYPOINT
    stage_targets = {}
    for m in re.finditer(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$(.*?)(?=^FROM\s|\Z)", dockerfile, re.M | re.S):
        ep = re.search(r'^ENTRYPOINT\s+\["([^"]+)"', m.group(2), re.M)
        stage_targets[m.group(1)] = ep.group(1) if ep else None
    build_files = {p: open(p).read() for p in
                   ["cc/ingest/BUILD.bazel", "cc/etl/BUILD.bazel", "tools/BUILD.bazel"] if os.path.exists(p)}
    def has_binary(name):
        return any(re.search(r'cc_binary\(\s*name\s*=\s*"%s"' % re.escape(name), t) for t in build_files.values())

    for stage in ["mirror", "consume", "batch"]:
        svc = services.get(stage, {})
        build = svc.get("build", {}) or {}
        target = build.get("target")
        entry = stage_targets.get(target)
        check(build.get("dockerfile") == "docker/Dockerfile" and target == stage
              and entry == f"/usr/local/bin/{stage}",
              f"compose: {stage} is built from docker/Dockerfile target {stage} "
              f"(ENTRYPOINT /usr/local/bin/{stage})",
              f"build={build}, Dockerfile entrypoint={entry}")
        check(has_binary(stage), f"bazel: a cc_binary named {stage} exists for /usr/local/bin/{stage}",
              "none in cc/ingest, cc/etl or tools BUILD files (the image would lack it)")

        names = set(env_of(stage))
        allowed = set(words(f"STAGE_ENV_{stage}"))
        unknown = sorted(names - allowed)
        check(not unknown, f"compose: {stage} sets only variables the stage reads",
              f"not read by {stage}: {unknown}")
        absent = [r for r in words(f"STAGE_REQUIRED_{stage}") if not any(a in names for a in r.split("|"))]
        check(not absent, f"compose: {stage} sets its required variables", f"missing: {absent}")

    # brokers the stages connect to are the brokers' CLIENT listeners
    for stage, var in [("mirror", "DESTINATION_BROKERS"), ("consume", "KAFKA_BROKERS")]:
        value = env_of(stage).get(var) or env_of(stage).get("KAFKA_BROKERS", "")
        bad = [b for b in value.split(",") if b.rsplit(":", 1)[0] not in client_ports
               or b.rsplit(":", 1)[-1] != client_ports[b.rsplit(":", 1)[0]]]
        check(value and not bad and len(value.split(",")) == 3,
              f"compose: {stage}'s {var} lists the 3 brokers' client listeners", f"{value!r}; bad: {bad}")

    # segments: consume writes and batch reads the same named volume at PV_SEGMENTS_DIR
    def mount_of(svc, path):
        for v in services.get(svc, {}).get("volumes", []) or []:
            src, _, rest = str(v).partition(":")
            if rest.split(":")[0] == path:
                return src
        return None
    seg = {s: (env_of(s).get("PV_SEGMENTS_DIR"), mount_of(s, env_of(s).get("PV_SEGMENTS_DIR"))) for s in ["consume", "batch"]}
    check(all(d and v for d, v in seg.values()) and seg["consume"][1] == seg["batch"][1]
          and seg["consume"][1] in (compose.get("volumes") or {}),
          "compose: consume and batch share the segments volume at PV_SEGMENTS_DIR", str(seg))
    check(re.search(r"^ENV\s+PV_SEGMENTS_DIR=(\S+)", dockerfile, re.M)
          and re.search(r"^ENV\s+PV_SEGMENTS_DIR=(\S+)", dockerfile, re.M).group(1) == seg["batch"][0],
          "Dockerfile: ENV PV_SEGMENTS_DIR matches the compose mount", "")

    b = services.get("batch", {})
    check(b.get("profiles") and str(b.get("restart", "no")) == "no",
          "compose: batch has a profile (not started by `up`) and no restart policy", str(b.get("profiles")))
    be = env_of("batch")
    pg_ports = [c for h, c in published("postgres")]
    pg_host = be.get("PGHOST") or be.get("POSTGRES_HOST")
    pg_port = be.get("PGPORT") if be.get("PGHOST") else be.get("POSTGRES_PORT")
    check(pg_host == "postgres" and pg_port in pg_ports,
          "compose: batch connects to the postgres service's container port",
          f"{pg_host}:{pg_port} vs {pg_ports}")

    # --- every ${VAR} of compose.yaml is defined in .env.example, and nothing more
    def env_example_keys(path):
        keys = []
        for line in open(path):
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                keys.append(line.split("=", 1)[0].strip())
        return keys
    keys = env_example_keys(env["ENV_EXAMPLE"])
    text = compose_text.replace("$$", "")
    used = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)) | set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))
    undefined = sorted(used - set(keys))
    unused = sorted(k for k in set(keys) - used if not k.startswith("COMPOSE_"))
    dups = sorted({k for k in keys if keys.count(k) > 1})
    check(not undefined, f"compose: every ${{VAR}} it uses ({len(used)}) is defined in {env['ENV_EXAMPLE']}",
          f"undefined: {undefined}")
    check(not unused and not dups, f"{env['ENV_EXAMPLE']}: every variable is used by compose, none twice",
          f"unused: {unused}; duplicated: {dups}")
    gi = open(".gitignore").read().split() if os.path.exists(".gitignore") else []
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "docker/.env"],
                             capture_output=True).returncode == 0
    check("/docker/.env" in gi and not tracked, "git: docker/.env is ignored and not tracked", "")

    # --- Dockerfile packages: builder within bootstrap's list; runtime covers what the binaries link
    boot = open("tools/bootstrap.sh").read()
    m = re.search(r"^PACKAGES=\((.*?)^\)", boot, re.M | re.S)
    boot_pkgs = set(re.sub(r"#.*", "", m.group(1)).split()) if m else set()
    stages = re.split(r"^FROM\s", dockerfile, flags=re.M)
    def apt_list(stage_text):
        """The package names of the stage's `apt-get install` (continuation lines joined)."""
        joined = stage_text.replace("\\\n", " ")
        m = re.search(r"apt-get install ([^\n]*?)(&&|$)", joined, re.M)
        return {w for w in m.group(1).split() if not w.startswith("-")} if m else set()
    builder = next((s for s in stages if re.match(r"\S+\s+AS\s+builder", s)), "")
    runtime = next((s for s in stages if re.match(r"\S+\s+AS\s+runtime", s)), "")
    bpk, rpk = apt_list(builder), apt_list(runtime)
    check(bpk and bpk <= boot_pkgs, "Dockerfile: builder packages are all in tools/bootstrap.sh",
          f"not in bootstrap: {sorted(bpk - boot_pkgs)}")
    bin_dir = env["BIN_DIR"]
    binaries = []
    for d in ["cc/etl/batch", "cc/ingest", "tools"]:
        p = os.path.join(bin_dir, d)
        cands = [p] if os.path.isfile(p) else [os.path.join(p, f) for f in sorted(os.listdir(p))] if os.path.isdir(p) else []
        for f in cands:
            n = os.path.basename(f)
            if os.path.isfile(f) and os.access(f, os.X_OK) and "." not in n and not re.search(r"_(test|benchmark|fuzz)$", n):
                binaries.append(f)
    if not binaries:
        results.append((None, f"Dockerfile runtime libraries: no binaries under {bin_dir} (build first)", ""))
    else:
        base = {"libc6", "libstdc++6", "libgcc-s1"}  # in debian:12-slim
        missing = {}
        for f in binaries:
            needed = re.findall(r"\(NEEDED\).*\[(.+)\]", subprocess.run(["readelf", "-d", f], capture_output=True, text=True).stdout)
            ldd = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", f], capture_output=True, text=True).stdout, re.M))
            for lib in needed:
                path = ldd.get(lib)
                if not path or path == "not":
                    missing.setdefault(f"{lib} (unresolved)", []).append(os.path.basename(f)); continue
                q = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
                if q.returncode != 0:
                    q = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
                pkg = q.stdout.split(":")[0] if q.returncode == 0 else f"? ({path})"
                if pkg not in rpk | base:
                    missing.setdefault(pkg, []).append(os.path.basename(f))
        check(not missing, f"Dockerfile: runtime packages provide every library the binaries link "
              f"({', '.join(os.path.basename(b) for b in binaries)})",
              "; ".join(f"{p} needed by {sorted(set(v))}" for p, v in sorted(missing.items())))

    # --- the scheduled commands
    help_text = env.get("BATCH_HELP", "")
    batch_flags = set(re.findall(r"^\s+--([a-z0-9_]+) \(", help_text, re.M))
    def check_command(origin, script):
        """script: the shell text that runs the batch, after systemd/cron unescaping."""
        r = subprocess.run(["sh", "-n", "-c", script], capture_output=True, text=True)
        check(r.returncode == 0, f"{origin}: the command is valid sh", r.stderr)
        try:
            argv = shlex.split(script)
        except ValueError as e:
            check(False, f"{origin}: the command splits into words", str(e)); return
        i = next((k for k, a in enumerate(argv) if a.endswith("/batch")), None)
        check(i is not None and argv[i] == "/usr/local/bin/batch", f"{origin}: runs /usr/local/bin/batch", str(argv))
        if i is None: return
        args = argv[i + 1:]
        flags = [a[2:].split("=", 1)[0].replace("-", "_") for a in args if a.startswith("--")]
        for need in ["segments", "quarantine", "metrics_file"]:
            check(need in flags, f"{origin}: passes --{need.replace('_', '-')}", str(args))
        for never in ["date", "from", "to"]:
            check(never not in flags,
                  f"{origin}: runs the nightly mode (no --{never}: the record decides the days)",
                  str(args))
        if batch_flags:
            unknown = [f for f in flags if f not in batch_flags]
            check(not unknown, f"{origin}: every flag is one batch accepts", f"unknown: {unknown}")

    unit = open(env["UNIT_SERVICE"]).read()
    m = re.search(r"^ExecStart=/bin/sh -c '(.*)'\s*$", unit, re.M)
    check(m, f"{env['UNIT_SERVICE']}: ExecStart is /bin/sh -c '...'", "")
    if m:
        script = m.group(1).replace("%%", "\x00").replace("$$", "$")
        check("%" not in script, f"{env['UNIT_SERVICE']}: every % is escaped as %%", script)
        check_command(env["UNIT_SERVICE"], script.replace("\x00", "%"))
    for key in ["EnvironmentFile=/etc/pv/batch.env", "NoNewPrivileges=yes", "ProtectSystem=strict",
                "ReadWritePaths=", "Type=oneshot"]:
        check(re.search("^" + re.escape(key), unit, re.M), f"{env['UNIT_SERVICE']}: has {key}", "")
    timer = open(env["UNIT_SERVICE"].replace(".service", ".timer")).read()
    for key in ["Persistent=true", "RandomizedDelaySec=", "OnCalendar="]:
        check(re.search("^" + re.escape(key), timer, re.M), f"pv-batch.timer: has {key}", "")

    jobs = []
    for line in open(env["CRONTAB"]):
        s = line.strip()
        if not s or s.startswith("#") or re.match(r"^[A-Z_]+=", s):
            continue
        jobs.append(s)
    check(len(jobs) == 1, f"{env['CRONTAB']}: one job line", str(jobs))
    field = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
    for job in jobs:
        parts = job.split(None, 6)
        check(len(parts) == 7 and all(re.fullmatch(field, p) for p in parts[:5]) and parts[5] == "pv",
              f"{env['CRONTAB']}: five time fields and the user pv", job)
        cmd = parts[6] if len(parts) == 7 else ""
        check(not re.search(r"(?<!\\)%", cmd), f"{env['CRONTAB']}: every % is escaped as \\%", cmd)
        inner = re.search(r"sh -c '(.*?)'", cmd)
        check(inner, f"{env['CRONTAB']}: the job runs sh -c '...'", cmd)
        if inner:
            check("/etc/pv/batch.env" in inner.group(1), f"{env['CRONTAB']}: reads /etc/pv/batch.env", "")
            check_command(env["CRONTAB"], inner.group(1).replace("\\%", "%"))

    bad = 0
    for ok, message, details in results:
        if ok is None:
            print(f"SKIP {message}")
        elif ok:
            print(f"PASS {message}")
        else:
            bad += 1
            print(f"FAIL {message}")
            if details:
                print("     | " + str(details))
    print(f"consistency checks: {sum(1 for r in results if r[0])} ok, {bad} failing")
    return 1 if bad else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Consistency checks of the deployment files (run by tools/check_deploy.sh, "
                    "which sets the environment described in this file's docstring).")
    parser.parse_args()
    os.chdir(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    absent = [name for name in REQUIRED_ENV if name not in os.environ]
    if absent:
        parser.error(f"environment variables not set: {' '.join(absent)}; run tools/check_deploy.sh")
    sys.exit(main())
