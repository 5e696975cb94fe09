// batch: the nightly job. Segment files -> PostgreSQL star schema.
//
//   bazel run //cc/etl:batch -- --segments=/data/segments [--date=2024-06-01]
//
// Flags only: the run policy is RunBatch (cc/etl/batch_run.h), the warehouse
// PostgresWarehouse (cc/etl/pg_warehouse.h).
#include <malloc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/etl/batch_run.h"
#include "cc/etl/fact_columns.h"
#include "cc/etl/partial.h"
#include "cc/etl/pg_warehouse.h"
#include "cc/etl/scan.h"
#include "cc/star/calendar.h"
#include "cc/warehouse/loader.h"
#include "cc/warehouse/pg.h"

ABSL_FLAG(std::string, segments, "",
          "Directory of published segment files to read (env PV_SEGMENTS_DIR). "
          "Required.");
ABSL_FLAG(std::string, date, "",
          "Reload exactly this day (YYYY-MM-DD), reading only the segments that hold "
          "it (new segments are applied too). Default: the nightly mode (see --help).");
ABSL_FLAG(std::string, from, "",
          "First day (YYYY-MM-DD) of a range to reload; use with --to. Each day "
          "of the range is replaced, even if it has no events.");
ABSL_FLAG(std::string, to, "", "Last day (YYYY-MM-DD) of the range, inclusive.");
ABSL_FLAG(bool, full, false,
          "Read every segment and reload every day they hold (the recovery path, e.g. "
          "after the record was lost or a warehouse built by an older release).");
ABSL_FLAG(int, late_days, 7,
          "Nightly mode: reload stale days up to this many days before the newest day "
          "the applied segments hold; older stale days are reported and left for an "
          "explicit --date/--from/--to run.");
ABSL_FLAG(bool, require_complete, false,
          "Fail the run (exit 4, nothing loaded) when the segments' offsets have a hole "
          "or an overlap (a missing or a duplicated segment), instead of warning.");
ABSL_FLAG(bool, status, false,
          "Print what the warehouse's record says (applied segments, days loaded, stale "
          "days, coverage) and what the next default run would read; load nothing.");
ABSL_FLAG(std::string, partials, "",
          "Distributed runs (tools/spark/run.sh): with --scan-step, the directory the step's "
          "partial result goes to; otherwise take the scans from the partial files of this "
          "directory instead of reading the segments (the rest of the run is the same).");
ABSL_FLAG(bool, plan, false,
          "With --partials: print the run's next step as one JSON line, a scan of segments "
          "not covered by partials yet ({\"step\":\"scan\",\"selection\":...,"
          "\"quarantine\":...,\"segments\":[...]}) or {\"step\":\"load\"}; load nothing.");
ABSL_FLAG(bool, scan_step, false,
          "Scan the --scan-files of --segments into one partial file in --partials (named by "
          "what it covers, published atomically) with --selection, quarantining invalid "
          "records if --quarantine-records; no warehouse is touched. One task of a plan step.");
ABSL_FLAG(std::vector<std::string>, scan_files, {},
          "--scan-step: comma-separated segment file names in --segments.");
ABSL_FLAG(std::string, selection, "",
          "--scan-step: the plan step's selection (all | days:D,... | range:D:D | "
          "horizon:N:D|none).");
ABSL_FLAG(bool, quarantine_records, false,
          "--scan-step: the plan step's \"quarantine\": invalid records go to --quarantine.");
ABSL_FLAG(std::string, pg, "",
          "PostgreSQL connection: a libpq conninfo string or URI, without the "
          "password (put it in PGPASSWORD or ~/.pgpass). Default: libpq's PG* "
          "environment, else the seed's POSTGRES_HOST, POSTGRES_PORT, "
          "POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.");
ABSL_FLAG(int, threads, 0, "Scan threads. 0: one per core.");
ABSL_FLAG(std::string, quarantine, "",
          "Directory for invalid records (NDJSON with their segment "
          "coordinates; env PV_QUARANTINE_DIR). Default: <segments>/quarantine.");
ABSL_FLAG(double, max_invalid_ratio, 0.01,
          "Fail the run, loading nothing, if more than this fraction of the "
          "records is invalid.");
ABSL_FLAG(std::string, metrics_file, "",
          "Write the run's figures here in Prometheus text format (for "
          "node_exporter's textfile collector), atomically.");
ABSL_FLAG(bool, load, true,
          "Load into PostgreSQL. --noload scans and prints the summary only "
          "(the compute part, for benchmarks and dry runs).");
ABSL_FLAG(int, load_streams, 2,
          "Side connections that build the fact partitions: parallel COPY "
          "streams and index builds.");
ABSL_FLAG(int64_t, index_rebuild_rows, 50000,
          "A dimension receiving at least this many new members, more than it "
          "has, gets its indexes rebuilt after the COPY instead of maintained "
          "row by row (faster first loads and backfills).");
ABSL_FLAG(int, index_workers, 0,
          "PostgreSQL parallel workers per fact index build "
          "(max_parallel_maintenance_workers).");
ABSL_FLAG(absl::Duration, lock_timeout, absl::Seconds(10),
          "How long replacing a day's fact partition waits for its lock (which a session "
          "reading the facts holds until its transaction ends) per try.");
ABSL_FLAG(int, lock_tries, 6,
          "Tries of that wait (with pauses of 1, 2, 4... s) before the run fails, naming "
          "the sessions that held the lock; nothing is changed.");
ABSL_FLAG(absl::Duration, statement_timeout, absl::ZeroDuration(),
          "PostgreSQL statement_timeout for every statement of the load (0: none).");

namespace pv::etl {
namespace {

constexpr char kUsageText[] =
    "load segment files into the PostgreSQL star schema.\n"
    "\n"
    "  batch --segments=DIR [--date=YYYY-MM-DD | --from=YYYY-MM-DD "
    "--to=YYYY-MM-DD | --full] [--status]\n"
    "        [--pg=CONNINFO] [--threads=N] [--quarantine=DIR] "
    "[--metrics-file=FILE]\n"
    "\n"
    "Nightly mode (the default): reads the segments of DIR not yet applied,\n"
    "upserts their dimension members, and reloads every stale day (one whose\n"
    "facts lack some applied segment's events) within --late-days of the\n"
    "newest day, re-reading only the applied segments that hold those days.\n"
    "Everything is loaded in one transaction with the record of applied\n"
    "segments; a rerun of a day replaces that day's facts, surrogate keys stay\n"
    "stable. --date/--from/--to reload exactly those days; --full re-reads\n"
    "everything. Exit codes: 0 loaded; 1 failed (nothing loaded); 2 bad usage;\n"
    "3 too many invalid records (nothing loaded); 4 holes or overlaps with\n"
    "--require-complete (nothing loaded); 130 interrupted.\n"
    "\n"
    "Distributed runs (tools/spark/run.sh) split a run into steps: --plan\n"
    "--partials=P says which segments to scan next and how; each task runs\n"
    "--scan-step on some of them into P; once --plan says \"load\", the same\n"
    "command as a normal run with --partials=P merges the partials and loads.";

absl::StatusOr<int32_t> ParseDay(const std::string& text, const char* flag) {
  int32_t day = 0;
  if (!star::ParseDayText(text, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", text, ": expected a date YYYY-MM-DD"));
  }
  return day;
}

// The mode and days the date flags ask for.
absl::Status ModeFromFlags(BatchOptions* options) {
  std::string date = absl::GetFlag(FLAGS_date);
  std::string from = absl::GetFlag(FLAGS_from);
  std::string to = absl::GetFlag(FLAGS_to);
  const bool full = absl::GetFlag(FLAGS_full);
  if (!date.empty() && (!from.empty() || !to.empty())) {
    return absl::InvalidArgumentError("--date and --from/--to exclude each other");
  }
  if (full && (!date.empty() || !from.empty() || !to.empty())) {
    return absl::InvalidArgumentError("--full reloads every day: no --date/--from/--to with it");
  }
  if (from.empty() != to.empty()) {
    return absl::InvalidArgumentError("--from and --to go together");
  }
  options->late_days = absl::GetFlag(FLAGS_late_days);
  if (options->late_days < 0) return absl::InvalidArgumentError("--late-days must be >= 0");
  if (full) {
    options->mode = RunMode::kFull;
    return absl::OkStatus();
  }
  if (!date.empty()) {
    PV_ASSIGN_OR_RETURN(int32_t d, ParseDay(date, "date"));
    options->mode = RunMode::kDays;
    options->days = {d};
    return absl::OkStatus();
  }
  if (!from.empty()) {
    PV_ASSIGN_OR_RETURN(int32_t f, ParseDay(from, "from"));
    PV_ASSIGN_OR_RETURN(int32_t t, ParseDay(to, "to"));
    if (t < f) return absl::InvalidArgumentError("--to is before --from");
    if (t - f > 366) {
      return absl::InvalidArgumentError(
          "--from/--to spans more than a year: run it in pieces");
    }
    options->mode = RunMode::kDays;
    for (int32_t d = f; d <= t; ++d) options->days.push_back(d);
    return absl::OkStatus();
  }
  options->mode = RunMode::kNightly;
  return absl::OkStatus();
}

int ScanStep(const std::string& segments_dir) {
  ScanStepOptions step;
  step.segments_dir = segments_dir;
  step.segments = absl::GetFlag(FLAGS_scan_files);
  step.partials_dir = absl::GetFlag(FLAGS_partials);
  step.quarantine = absl::GetFlag(FLAGS_quarantine_records);
  step.quarantine_dir = FlagOrEnv(absl::GetFlag(FLAGS_quarantine), {"PV_QUARANTINE_DIR"},
                                  segments_dir + "/quarantine");
  step.threads = absl::GetFlag(FLAGS_threads);
  absl::StatusOr<DateSelection> dates = ParseSelection(absl::GetFlag(FLAGS_selection));
  if (!dates.ok() || step.segments.empty() || step.partials_dir.empty()) {
    PV_LOG(ERROR) << "--scan-step needs --scan-files=NAMES, --partials=DIR and --selection "
                     "(from a --plan step)"
                  << (dates.ok() ? "" : absl::StrCat(": ", dates.status().message()));
    return kExitBadUsage;
  }
  step.dates = *dates;
  return RunScanStep(step);
}

int Run() {
  BatchOptions options;
  options.segments_dir = FlagOrEnv(absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  if (options.segments_dir.empty()) {
    PV_LOG(ERROR) << "--segments=DIR is required (see --help)";
    return kExitBadUsage;
  }
  if (absl::GetFlag(FLAGS_scan_step)) return ScanStep(options.segments_dir);
  options.partials_dir = absl::GetFlag(FLAGS_partials);
  options.plan_only = absl::GetFlag(FLAGS_plan);
  if (options.plan_only && options.partials_dir.empty()) {
    PV_LOG(ERROR) << "--plan needs --partials=DIR (the directory the scan steps write to)";
    return kExitBadUsage;
  }
  if (absl::Status s = ModeFromFlags(&options); !s.ok()) {
    PV_LOG(ERROR) << s.message();
    return kExitBadUsage;
  }
  options.require_complete = absl::GetFlag(FLAGS_require_complete);
  const bool load = absl::GetFlag(FLAGS_load);
  std::string pg_source;
  absl::StatusOr<std::string> conninfo =
      warehouse::ResolveConnInfo(absl::GetFlag(FLAGS_pg), &pg_source);
  if (!conninfo.ok()) {
    PV_LOG(ERROR) << conninfo.status().message();
    return kExitBadUsage;
  }
  options.quarantine_dir = FlagOrEnv(absl::GetFlag(FLAGS_quarantine), {"PV_QUARANTINE_DIR"},
                                     options.segments_dir + "/quarantine");
  options.threads = absl::GetFlag(FLAGS_threads);
  options.max_invalid_ratio = absl::GetFlag(FLAGS_max_invalid_ratio);
  options.metrics_file = absl::GetFlag(FLAGS_metrics_file);
  if (load) {
    warehouse::LoaderOptions lo;
    lo.index_workers = absl::GetFlag(FLAGS_index_workers);
    lo.streams = absl::GetFlag(FLAGS_load_streams);
    lo.rebuild_indexes_min_rows =
        static_cast<size_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_index_rebuild_rows)));
    lo.conninfo = *conninfo;
    lo.lock_timeout = absl::GetFlag(FLAGS_lock_timeout);
    lo.lock_tries = absl::GetFlag(FLAGS_lock_tries);
    lo.statement_timeout = absl::GetFlag(FLAGS_statement_timeout);
    if (lo.lock_timeout <= absl::ZeroDuration() || lo.lock_tries < 1 ||
        lo.statement_timeout < absl::ZeroDuration()) {
      PV_LOG(ERROR) << "--lock-timeout must be > 0, --lock-tries >= 1, --statement-timeout "
                       ">= 0 (see --help)";
      return kExitBadUsage;
    }
    options.connect = PostgresWarehouse(lo);
  }

  ConfigReport report;
  report.Add("segments", options.segments_dir);
  report.Add("mode",
             options.mode == RunMode::kFull ? "full (every segment, every day)"
             : options.mode == RunMode::kDays
                 ? absl::StrCat("days ", star::DayText(options.days.front()), " .. ",
                                star::DayText(options.days.back()))
                 : absl::StrCat("nightly (late days ", options.late_days, ")"));
  report.Add("postgres", load ? (conninfo->empty() ? "(libpq defaults)" : *conninfo)
                              : "(not loading)",
             pg_source);
  report.Add("threads", options.threads > 0 ? absl::StrCat(options.threads) : "all cores");
  report.Add("quarantine", options.quarantine_dir);
  report.Add("max invalid ratio", absl::StrCat(options.max_invalid_ratio));
  report.Add("simd kernel", ActiveKernelName());
  if (!options.partials_dir.empty()) report.Add("partials", options.partials_dir);
  PV_LOG(INFO) << "configuration:\n" << report.ToString();
  return absl::GetFlag(FLAGS_status) ? PrintStatus(options) : RunBatch(options);
}

}  // namespace
}  // namespace pv::etl

int main(int argc, char** argv) {
  // Keep freed block buffers in the heap instead of returning them to the
  // kernel: re-faulting fresh pages for every block cost ~15% of the scan.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  pv::ParseCommandLine(argc, argv, pv::etl::kUsageText);
  pv::SetLogTag("batch");
  pv::InstallShutdownHandlers();
  return pv::etl::Run();
}
