// batch: the nightly job. Segment files -> PostgreSQL star schema.
//
//   bazel run //cc/etl:batch -- --segments=/data/segments [--date=2024-06-01]
//
// See README "The batch job" for semantics, exit codes and tuning.
#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/json.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/etl/fact_columns.h"
#include "cc/etl/metrics.h"
#include "cc/etl/quarantine.h"
#include "cc/etl/scan.h"
#include "cc/event/event.h"
#include "cc/segment/segment.h"
#include "cc/star/calendar.h"
#include "cc/warehouse/loader.h"
#include "cc/warehouse/pg.h"
#include "cc/warehouse/schema.h"

ABSL_FLAG(std::string, segments, "",
          "Directory of published segment files to read (env PV_SEGMENTS_DIR). "
          "Required.");
ABSL_FLAG(std::string, date, "",
          "Load the facts of this day (YYYY-MM-DD). Default: the latest day "
          "present in the input, as the seed did.");
ABSL_FLAG(std::string, from, "",
          "First day (YYYY-MM-DD) of a range to load; use with --to. Each day "
          "of the range is replaced, even if it has no events.");
ABSL_FLAG(std::string, to, "", "Last day (YYYY-MM-DD) of the range, inclusive.");
ABSL_FLAG(std::string, pg, "",
          "PostgreSQL connection: a libpq conninfo string or URI, without the "
          "password (put it in PGPASSWORD or ~/.pgpass). Default: libpq's PG* "
          "environment, else the seed's POSTGRES_HOST, POSTGRES_PORT, "
          "POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB.");
ABSL_FLAG(int, threads, 0, "Scan threads. 0: one per core.");
ABSL_FLAG(std::string, quarantine, "",
          "Directory for invalid records (NDJSON with their segment "
          "coordinates). Default: <segments>/quarantine.");
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

namespace pv::etl {
namespace {

constexpr char kUsageText[] =
    "load segment files into the PostgreSQL star schema.\n"
    "\n"
    "  batch --segments=DIR [--date=YYYY-MM-DD | --from=YYYY-MM-DD "
    "--to=YYYY-MM-DD]\n"
    "        [--pg=CONNINFO] [--threads=N] [--quarantine=DIR] "
    "[--metrics-file=FILE]\n"
    "\n"
    "Reads every segment of DIR, builds the dimensions from all valid events\n"
    "and the facts of the chosen days, and loads them in one transaction:\n"
    "a rerun of a day replaces that day's facts, surrogate keys stay stable.\n"
    "Exit codes: 0 loaded; 1 failed (nothing loaded); 2 bad usage;\n"
    "3 too many invalid records (nothing loaded); 130 interrupted.";

enum ExitCode { kOk = 0, kFailed = 1, kBadUsage = 2, kTooManyInvalid = 3,
                kInterrupted = 130 };

absl::StatusOr<int32_t> ParseDay(const std::string& text, const char* flag) {
  int32_t day = 0;
  if (!star::ParseDayText(text, &day)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", text, ": expected a date YYYY-MM-DD"));
  }
  return day;
}

absl::StatusOr<DateSelection> DatesFromFlags() {
  std::string date = absl::GetFlag(FLAGS_date);
  std::string from = absl::GetFlag(FLAGS_from);
  std::string to = absl::GetFlag(FLAGS_to);
  if (!date.empty() && (!from.empty() || !to.empty())) {
    return absl::InvalidArgumentError("--date and --from/--to exclude each other");
  }
  if (!date.empty()) {
    PV_ASSIGN_OR_RETURN(int32_t d, ParseDay(date, "date"));
    return DateSelection::Range(d, d);
  }
  if (from.empty() != to.empty()) {
    return absl::InvalidArgumentError("--from and --to go together");
  }
  if (!from.empty()) {
    PV_ASSIGN_OR_RETURN(int32_t f, ParseDay(from, "from"));
    PV_ASSIGN_OR_RETURN(int32_t t, ParseDay(to, "to"));
    if (t < f) return absl::InvalidArgumentError("--to is before --from");
    if (t - f > 366) {
      return absl::InvalidArgumentError(
          "--from/--to spans more than a year: run it in pieces");
    }
    return DateSelection::Range(f, t);
  }
  return DateSelection::Latest();
}

// --pg, else libpq's own PG* environment, else the seed's POSTGRES_* names.
// The password never goes into the conninfo: libpq reads PGPASSWORD.
absl::StatusOr<std::string> ConnInfo(std::string* source) {
  std::string pg = absl::GetFlag(FLAGS_pg);
  if (!pg.empty()) {
    *source = "flag";
    return pg;
  }
  for (const char* name : {"PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      *source = "env PG*";
      return std::string();
    }
  }
  std::string host = FlagOrEnv("", {"POSTGRES_HOST"}, "localhost");
  std::string port = FlagOrEnv("", {"POSTGRES_PORT"}, "5432");
  std::string user = FlagOrEnv("", {"POSTGRES_USER"}, "postgres");
  std::string db = FlagOrEnv("", {"POSTGRES_DB"}, "postgres");
  const char* password = std::getenv("POSTGRES_PASSWORD");
  if (password != nullptr && std::getenv("PGPASSWORD") == nullptr) {
    PV_ASSIGN_OR_RETURN(std::string secret,
                        ReadSecret(password, "POSTGRES_PASSWORD"));
    setenv("PGPASSWORD", secret.c_str(), 1);
  }
  *source = "env POSTGRES_*";
  return absl::StrCat("host=", host, " port=", port, " user=", user,
                      " dbname=", db);
}

std::string CountsJson(const ScanCounts& c) {
  std::vector<std::string> invalid;
  for (size_t r = 1; r < c.invalid.size(); ++r) {
    invalid.push_back(absl::StrCat(
        JsonString(event::InvalidName(static_cast<event::Invalid>(r)), JsonEscaping::kUtf8), ":",
        c.invalid[r]));
  }
  return absl::StrCat("{\"records\":", c.records, ",\"valid\":", c.valid,
                      ",\"invalid\":{", absl::StrJoin(invalid, ","),
                      "},\"fact_events\":", c.fact_events,
                      ",\"skipped_no_product\":", c.skipped_no_product,
                      ",\"other_days\":", c.other_days,
                      ",\"payload_bytes\":", c.payload_bytes, "}");
}

std::string InputsJson(const std::vector<SegmentSummary>& inputs) {
  std::vector<std::string> items;
  for (const SegmentSummary& s : inputs) {
    items.push_back(absl::StrCat("{\"path\":", JsonString(s.path, JsonEscaping::kUtf8),
                                 ",\"records\":", s.records, ",\"bytes\":",
                                 s.file_bytes, "}"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

using star::DayText;

int Run() {
  const absl::Time started = absl::Now();
  std::string segments_dir =
      FlagOrEnv(absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  if (segments_dir.empty()) {
    PV_LOG(ERROR) << "--segments=DIR is required (see --help)";
    return kBadUsage;
  }
  absl::StatusOr<DateSelection> dates = DatesFromFlags();
  if (!dates.ok()) {
    PV_LOG(ERROR) << dates.status().message();
    return kBadUsage;
  }
  const bool load = absl::GetFlag(FLAGS_load);
  std::string pg_source;
  absl::StatusOr<std::string> conninfo = ConnInfo(&pg_source);
  if (!conninfo.ok()) {
    PV_LOG(ERROR) << conninfo.status().message();
    return kBadUsage;
  }
  std::string quarantine_dir = absl::GetFlag(FLAGS_quarantine);
  if (quarantine_dir.empty()) quarantine_dir = segments_dir + "/quarantine";
  const int threads = absl::GetFlag(FLAGS_threads);

  ConfigReport report;
  report.Add("segments", segments_dir);
  report.Add("dates", dates->latest ? "latest in input"
                                    : absl::StrCat(DayText(dates->first_day), " .. ",
                                                   DayText(dates->last_day)));
  report.Add("postgres", load ? (conninfo->empty() ? "(libpq defaults)" : *conninfo)
                              : "(not loading)",
             pg_source);
  report.Add("threads", threads > 0 ? absl::StrCat(threads) : "all cores");
  report.Add("quarantine", quarantine_dir);
  report.Add("max invalid ratio", absl::StrCat(absl::GetFlag(FLAGS_max_invalid_ratio)));
  report.Add("simd kernel", ActiveKernelName());
  PV_LOG(INFO) << "configuration:\n" << report.ToString();

  absl::StatusOr<std::vector<std::string>> segments =
      segment::ListSegments(segments_dir);
  if (!segments.ok()) {
    PV_LOG(ERROR) << segments.status();
    return kFailed;
  }
  if (segments->empty()) {
    PV_LOG(ERROR) << "no segment files (*.pvseg) in " << segments_dir
                  << ": run import or consume first";
    return kFailed;
  }

  // Connect and migrate first: a bad password should fail in a second, not
  // after the scan.
  std::unique_ptr<warehouse::PgConnection> conn;
  if (load) {
    auto c = warehouse::PgConnection::Connect(*conninfo);
    if (!c.ok()) {
      PV_LOG(ERROR) << c.status().message();
      return kFailed;
    }
    conn = std::move(*c);
    auto migrated = warehouse::Migrate(conn.get());
    if (!migrated.ok()) {
      PV_LOG(ERROR) << migrated.status().message();
      return kFailed;
    }
  }

  uint64_t total_records = 0;
  for (const std::string& path : *segments) {
    auto reader = segment::SegmentReader::Open(path);
    if (reader.ok()) total_records += (*reader)->info().records;
  }
  const std::string run_name = absl::FormatTime(
      "%Y%m%dT%H%M%S", started, absl::UTCTimeZone());
  QuarantineWriter quarantine(quarantine_dir, run_name);
  Progress progress("batch scan", "records", total_records);
  ScanOptions options;
  options.segments = *segments;
  options.threads = threads;
  options.dates = *dates;
  options.quarantine = &quarantine;
  options.progress = &progress;

  MetricsReport metrics;
  absl::Time t = absl::Now();
  absl::StatusOr<ScanResult> scan = Scan(options);
  progress.Finish();
  const double scan_seconds = absl::ToDoubleSeconds(absl::Now() - t);
  absl::StatusOr<uint64_t> quarantined = quarantine.Close();

  warehouse::RunDescription run;
  run.started = started;
  auto fail = [&](const absl::Status& status, int code,
                  const std::vector<int32_t>& days) {
    PV_LOG(ERROR) << "run failed, the warehouse is unchanged: " << status.message();
    if (conn != nullptr) {
      warehouse::WarehouseLoader loader(conn.get(), {});
      absl::Status s = loader.RecordFailure(run, days, status.message());
      if (!s.ok()) PV_LOG(WARNING) << "could not record the failure: " << s;
    }
    metrics.SetRun(false, absl::ToDoubleSeconds(absl::Now() - started));
    std::string mf = absl::GetFlag(FLAGS_metrics_file);
    if (!mf.empty()) {
      absl::Status s = metrics.WriteFile(mf);
      if (!s.ok()) PV_LOG(WARNING) << s;
    }
    return code;
  };
  if (!scan.ok()) {
    return fail(scan.status(),
                absl::IsCancelled(scan.status()) ? kInterrupted : kFailed, {});
  }
  const ScanCounts& counts = scan->counts;
  run.inputs_json = InputsJson(scan->inputs);
  run.counts_json = CountsJson(counts);
  metrics.SetCounts(counts);
  metrics.SetPhase("scan", scan_seconds);
  if (!quarantined.ok()) return fail(quarantined.status(), kFailed, {});

  const double invalid_ratio =
      counts.records == 0 ? 0.0
                          : static_cast<double>(counts.invalid_total()) /
                                static_cast<double>(counts.records);
  if (invalid_ratio > absl::GetFlag(FLAGS_max_invalid_ratio)) {
    return fail(absl::FailedPreconditionError(absl::StrFormat(
                    "%d of %d records (%.2f%%) are invalid, above "
                    "--max-invalid-ratio=%g; they are in %s",
                    counts.invalid_total(), counts.records, 100 * invalid_ratio,
                    absl::GetFlag(FLAGS_max_invalid_ratio), quarantine.path())),
                kTooManyInvalid, scan->batch.fact_days);
  }

  warehouse::LoadStats stats;
  const warehouse::StarBatch& batch = scan->batch;
  if (load) {
    if (ShutdownRequested()) {
      return fail(absl::CancelledError("interrupted before the load"),
                  kInterrupted, batch.fact_days);
    }
    run.timings_json = absl::StrFormat("{\"scan\":%.3f}", scan_seconds);
    warehouse::LoaderOptions lo;
    lo.index_workers = absl::GetFlag(FLAGS_index_workers);
    lo.streams = absl::GetFlag(FLAGS_load_streams);
    lo.rebuild_indexes_min_rows =
        static_cast<size_t>(std::max<int64_t>(1, absl::GetFlag(FLAGS_index_rebuild_rows)));
    lo.conninfo = *conninfo;
    warehouse::WarehouseLoader loader(conn.get(), lo);
    t = absl::Now();
    PV_LOG(INFO) << "loading " << batch.facts.size() << " fact rows of "
                 << batch.fact_days.size() << " day(s) in one transaction";
    absl::StatusOr<warehouse::LoadStats> loaded = loader.Load(batch, run);
    if (!loaded.ok()) return fail(loaded.status(), kFailed, batch.fact_days);
    stats = *loaded;
    metrics.SetPhase("load_dimensions", stats.dimension_seconds);
    metrics.SetPhase("load_fact_copy", stats.fact_copy_seconds);
    metrics.SetPhase("load_fact_index", stats.fact_index_seconds);
    metrics.SetPhase("load", absl::ToDoubleSeconds(absl::Now() - t));
  }
  const double total_seconds = absl::ToDoubleSeconds(absl::Now() - started);
  metrics.SetRun(true, total_seconds);
  metrics.SetFactRows(static_cast<int64_t>(batch.facts.size()));
  std::string metrics_file = absl::GetFlag(FLAGS_metrics_file);
  if (!metrics_file.empty()) {
    absl::Status s = metrics.WriteFile(metrics_file);
    if (!s.ok()) PV_LOG(WARNING) << s;
  }

  // The one-screen summary.
  std::vector<std::string> days;
  for (int32_t d : batch.fact_days) days.push_back(DayText(d));
  std::string invalid_lines;
  for (size_t r = 1; r < counts.invalid.size(); ++r) {
    if (counts.invalid[r] == 0) continue;
    absl::StrAppend(&invalid_lines, "                      ",
                    event::InvalidName(static_cast<event::Invalid>(r)), ": ",
                    counts.invalid[r], "\n");
  }
  std::fprintf(
      stdout,
      "\nbatch %s\n"
      "  input             %zu segment(s), %s records, %.1f MB of JSON\n"
      "  fact day(s)       %s\n"
      "  valid             %s  (facts %s, no product_id %s, other days %s)\n"
      "  invalid           %s%s\n%s"
      "  dimensions        %zu products, %zu stores, %zu referrers, %zu "
      "devices, %zu dates\n"
      "  fact rows         %zu%s\n"
      "  time              %.2f s total: scan %.2f s (%.0f records/s, %.0f MB/s)%s\n",
      load ? absl::StrCat("run ", stats.run_id, " committed").c_str()
           : "dry run (--noload): nothing loaded",
      scan->inputs.size(), HumanCount(counts.records).c_str(),
      counts.payload_bytes / 1e6, days.empty() ? "(none)" : absl::StrJoin(days, ", ").c_str(),
      HumanCount(counts.valid).c_str(), HumanCount(counts.fact_events).c_str(),
      HumanCount(counts.skipped_no_product).c_str(),
      HumanCount(counts.other_days).c_str(),
      HumanCount(counts.invalid_total()).c_str(),
      counts.invalid_total() > 0
          ? absl::StrCat(" -> ", quarantine.path()).c_str()
          : "",
      invalid_lines.c_str(), batch.products.size() - 1, batch.stores.size() - 1,
      batch.referrers.size() - 1, batch.devices.size() - 1, batch.days.size(),
      batch.facts.size(),
      load ? absl::StrCat(", ", stats.new_members, " new dimension members")
                 .c_str()
           : "",
      total_seconds, scan_seconds, counts.records / std::max(scan_seconds, 1e-9),
      counts.payload_bytes / 1e6 / std::max(scan_seconds, 1e-9),
      load ? absl::StrFormat(", load %.2f s (dimensions %.2f, fact COPY %.2f, "
                             "indexes %.2f, commit %.2f)",
                             absl::ToDoubleSeconds(absl::Now() - t),
                             stats.dimension_seconds, stats.fact_copy_seconds,
                             stats.fact_index_seconds, stats.commit_seconds)
                 .c_str()
           : "");
  std::fflush(stdout);
  return kOk;
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
