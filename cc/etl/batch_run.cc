#include "cc/etl/batch_run.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/json.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/etl/metrics.h"
#include "cc/etl/quarantine.h"
#include "cc/event/event.h"
#include "cc/segment/segment.h"
#include "cc/star/calendar.h"

namespace pv::etl {
namespace {

using star::DayText;

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

}  // namespace

int RunBatch(const BatchOptions& options) {
  const absl::Time started = absl::Now();
  const std::string& segments_dir = options.segments_dir;
  const bool load = options.connect != nullptr;
  const std::string quarantine_dir = options.quarantine_dir.empty()
                                         ? segments_dir + "/quarantine"
                                         : options.quarantine_dir;
  const int threads = options.threads;
  absl::StatusOr<std::vector<std::string>> segments =
      segment::ListSegments(segments_dir);
  if (!segments.ok()) {
    PV_LOG(ERROR) << segments.status();
    return kExitFailed;
  }
  if (segments->empty()) {
    PV_LOG(ERROR) << "no segment files (*.pvseg) in " << segments_dir
                  << ": run import or consume first";
    return kExitFailed;
  }

  // Connect and migrate first: a bad password should fail in a second, not
  // after the scan.
  std::unique_ptr<BatchWarehouse> warehouse;
  if (load) {
    absl::StatusOr<std::unique_ptr<BatchWarehouse>> connected = options.connect();
    if (!connected.ok()) {
      PV_LOG(ERROR) << connected.status().message();
      return kExitFailed;
    }
    warehouse = std::move(*connected);
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
  ScanOptions scan_options;
  scan_options.segments = *segments;
  scan_options.threads = threads;
  scan_options.dates = options.dates;
  scan_options.quarantine = &quarantine;
  scan_options.progress = &progress;

  MetricsReport metrics;
  absl::Time t = absl::Now();
  absl::StatusOr<ScanResult> scan = Scan(scan_options);
  progress.Finish();
  const double scan_seconds = absl::ToDoubleSeconds(absl::Now() - t);
  absl::StatusOr<uint64_t> quarantined = quarantine.Close();

  warehouse::RunDescription run;
  run.started = started;
  auto fail = [&](const absl::Status& status, int code,
                  const std::vector<int32_t>& days) {
    PV_LOG(ERROR) << "run failed, the warehouse is unchanged: " << status.message();
    if (warehouse != nullptr) {
      absl::Status s = warehouse->RecordFailure(run, days, status.message());
      if (!s.ok()) PV_LOG(WARNING) << "could not record the failure: " << s;
    }
    metrics.SetRun(false, absl::ToDoubleSeconds(absl::Now() - started));
    if (!options.metrics_file.empty()) {
      absl::Status s = metrics.WriteFile(options.metrics_file);
      if (!s.ok()) PV_LOG(WARNING) << s;
    }
    return code;
  };
  if (!scan.ok()) {
    return fail(scan.status(),
                absl::IsCancelled(scan.status()) ? kExitInterrupted : kExitFailed, {});
  }
  const ScanCounts& counts = scan->counts;
  run.inputs_json = InputsJson(scan->inputs);
  run.counts_json = CountsJson(counts);
  metrics.SetCounts(counts);
  metrics.SetPhase("scan", scan_seconds);
  if (!quarantined.ok()) return fail(quarantined.status(), kExitFailed, {});

  const double invalid_ratio =
      counts.records == 0 ? 0.0
                          : static_cast<double>(counts.invalid_total()) /
                                static_cast<double>(counts.records);
  if (invalid_ratio > options.max_invalid_ratio) {
    return fail(absl::FailedPreconditionError(absl::StrFormat(
                    "%d of %d records (%.2f%%) are invalid, above "
                    "--max-invalid-ratio=%g; they are in %s",
                    counts.invalid_total(), counts.records, 100 * invalid_ratio,
                    options.max_invalid_ratio, quarantine.path())),
                kExitTooManyInvalid, scan->batch.fact_days);
  }

  warehouse::LoadStats stats;
  const star::StarBatch& batch = scan->batch;
  if (load) {
    if (ShutdownRequested()) {
      return fail(absl::CancelledError("interrupted before the load"),
                  kExitInterrupted, batch.fact_days);
    }
    run.timings_json = absl::StrFormat("{\"scan\":%.3f}", scan_seconds);
    t = absl::Now();
    PV_LOG(INFO) << "loading " << batch.facts.size() << " fact rows of "
                 << batch.fact_days.size() << " day(s) in one transaction";
    absl::StatusOr<warehouse::LoadStats> loaded = warehouse->Load(batch, run);
    if (!loaded.ok()) return fail(loaded.status(), kExitFailed, batch.fact_days);
    stats = *loaded;
    metrics.SetPhase("load_dimensions", stats.dimension_seconds);
    metrics.SetPhase("load_fact_copy", stats.fact_copy_seconds);
    metrics.SetPhase("load_fact_index", stats.fact_index_seconds);
    metrics.SetPhase("load", absl::ToDoubleSeconds(absl::Now() - t));
  }
  const double total_seconds = absl::ToDoubleSeconds(absl::Now() - started);
  metrics.SetRun(true, total_seconds);
  metrics.SetFactRows(static_cast<int64_t>(batch.facts.size()));
  if (!options.metrics_file.empty()) {
    absl::Status s = metrics.WriteFile(options.metrics_file);
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
      options.summary,
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
  std::fflush(options.summary);
  return kExitOk;
}

}  // namespace pv::etl
