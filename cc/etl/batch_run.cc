#include "cc/etl/batch_run.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/files.h"
#include "cc/common/json.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/etl/metrics.h"
#include "cc/etl/partial.h"
#include "cc/etl/quarantine.h"
#include "cc/event/event.h"
#include "cc/segment/segment.h"
#include "cc/star/calendar.h"

namespace pv::etl {
namespace {

using star::DayText;
using warehouse::AppliedSegment;
using warehouse::WarehouseRecord;

std::string Quote(absl::string_view s) { return JsonString(s, JsonEscaping::kUtf8); }

std::string CountsJson(const ScanCounts& c, uint64_t quarantined) {
  std::vector<std::string> invalid;
  for (size_t r = 1; r < c.invalid.size(); ++r) {
    invalid.push_back(absl::StrCat(
        Quote(event::InvalidName(static_cast<event::Invalid>(r))), ":", c.invalid[r]));
  }
  return absl::StrCat("{\"records\":", c.records, ",\"valid\":", c.valid,
                      ",\"invalid\":{", absl::StrJoin(invalid, ","),
                      "},\"quarantined\":", quarantined,
                      ",\"fact_events\":", c.fact_events,
                      ",\"skipped_no_product\":", c.skipped_no_product,
                      ",\"other_days\":", c.other_days, ",\"tombstones\":", c.tombstones,
                      ",\"payload_bytes\":", c.payload_bytes, "}");
}

std::string InputsJson(const std::vector<SegmentSummary>& inputs) {
  std::vector<std::string> items;
  for (const SegmentSummary& s : inputs) {
    items.push_back(absl::StrCat("{\"path\":", Quote(s.path), ",\"records\":", s.records,
                                 ",\"bytes\":", s.file_bytes, "}"));
  }
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

std::string DaysJson(const std::vector<int32_t>& days) {
  std::vector<std::string> items;
  for (int32_t d : days) items.push_back(Quote(DayText(d)));
  return absl::StrCat("[", absl::StrJoin(items, ","), "]");
}

std::string DaysText(const std::vector<int32_t>& days, size_t at_most = 12) {
  if (days.empty()) return "(none)";
  std::vector<std::string> items;
  for (size_t i = 0; i < days.size() && i < at_most; ++i) items.push_back(DayText(days[i]));
  std::string out = absl::StrJoin(items, ", ");
  if (days.size() > at_most) absl::StrAppend(&out, " and ", days.size() - at_most, " more");
  return out;
}

const char* ModeName(RunMode mode) {
  switch (mode) {
    case RunMode::kNightly:
      return "nightly";
    case RunMode::kDays:
      return "days";
    case RunMode::kFull:
      return "full";
  }
  return "?";
}

// What a run did, for the ledger, the metrics and the summary.
struct Work {
  RunMode mode = RunMode::kNightly;
  int32_t late_days = 0;
  size_t segments_new = 0, segments_applied = 0, segments_reread = 0;
  uint64_t bytes_new = 0, bytes_reread = 0;
  std::vector<int32_t> reloaded, stale_left;
  std::vector<std::string> refused;
  std::vector<CoverageIssue> issues;
  std::vector<std::string> applied_missing;
  int32_t newest = INT32_MIN;

  size_t holes() const {
    return std::count_if(issues.begin(), issues.end(),
                         [](const CoverageIssue& i) { return !i.overlap; });
  }
  size_t overlaps() const { return issues.size() - holes(); }

  MetricsReport::Work Metrics() const {
    MetricsReport::Work m;
    m.segments_new = segments_new;
    m.segments_applied = segments_applied;
    m.segments_reread = segments_reread;
    m.segments_refused = refused.size();
    m.bytes_read = bytes_new + bytes_reread;
    m.days_reloaded = reloaded.size();
    m.stale_days_left = stale_left.size();
    m.holes = holes();
    m.overlaps = overlaps();
    return m;
  }

  std::string Json() const {
    std::vector<std::string> issue_items, refused_items, missing_items;
    for (const CoverageIssue& i : issues) issue_items.push_back(Quote(i.Describe()));
    for (const std::string& r : refused) refused_items.push_back(Quote(r));
    for (const std::string& m : applied_missing) missing_items.push_back(Quote(m));
    return absl::StrCat(
        "{\"mode\":", Quote(ModeName(mode)), ",\"late_days\":", late_days,
        ",\"segments_new\":", segments_new, ",\"segments_applied\":", segments_applied,
        ",\"segments_reread\":", segments_reread, ",\"bytes_new\":", bytes_new,
        ",\"bytes_reread\":", bytes_reread, ",\"bytes_read\":", bytes_new + bytes_reread,
        ",\"newest_day\":", newest == INT32_MIN ? "null" : Quote(DayText(newest)),
        ",\"days_reloaded\":", DaysJson(reloaded), ",\"stale_days_left\":", DaysJson(stale_left),
        ",\"segments_refused\":[", absl::StrJoin(refused_items, ","), "]",
        ",\"segments_missing\":[", absl::StrJoin(missing_items, ","), "]",
        ",\"holes\":", holes(), ",\"overlaps\":", overlaps(), ",\"coverage_issues\":[",
        absl::StrJoin(issue_items, ","), "]}");
  }
};

// Scans `files`, quarantining invalid records when `quarantine` is set.
absl::StatusOr<ScanResult> ScanFiles(const std::vector<SegmentFile>& files,
                                     const DateSelection& dates, bool quarantine,
                                     const BatchOptions& options, QuarantineWriter* writer,
                                     const char* what) {
  ScanOptions o;
  uint64_t records = 0;
  for (const SegmentFile& f : files) o.segments.push_back(f.path);
  for (const std::string& path : o.segments) {
    auto reader = segment::SegmentReader::Open(path);
    if (reader.ok()) records += (*reader)->info().records;
  }
  Progress progress(what, "records", records);
  o.threads = options.threads;
  o.dates = dates;
  o.quarantine = quarantine ? writer : nullptr;
  o.progress = &progress;
  absl::StatusOr<ScanResult> r = Scan(o);
  progress.Finish();
  return r;
}

// The applied segments to re-read must still be the bytes that were applied.
absl::Status CheckIdentity(const ScanResult& reread, const WarehouseRecord& record) {
  absl::flat_hash_map<std::string, const AppliedSegment*> by_name;
  for (const AppliedSegment& a : record.segments) by_name.emplace(a.name, &a);
  for (const SegmentSummary& s : reread.inputs) {
    const std::string name = s.path.substr(s.path.rfind('/') + 1);
    auto it = by_name.find(name);
    if (it == by_name.end()) continue;
    auto reader = segment::SegmentReader::Open(s.path);
    PV_RETURN_IF_ERROR(reader.status());
    const segment::SegmentInfo& info = (*reader)->info();
    if (info.footer_crc != it->second->footer_crc || info.records != it->second->records) {
      return absl::FailedPreconditionError(absl::StrCat(
          "file ", s.path, " is not the segment applied under this name by run ",
          it->second->run_id, " (footer checksum or record count differs): restore the "
          "original file or move this one away"));
    }
  }
  return absl::OkStatus();
}

// The partial files of `dir` (none if it does not exist yet).
absl::StatusOr<std::vector<std::pair<std::string, Partial>>> ReadPartials(const std::string& dir) {
  std::vector<std::string> paths;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const absl::string_view name = e->d_name;
      if (name[0] != '.' && absl::EndsWith(name, kPartialSuffix)) {
        paths.push_back(absl::StrCat(dir, "/", name));
      }
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    return ErrnoStatus(errno, "open partials directory", dir);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<std::pair<std::string, Partial>> out;
  for (const std::string& path : paths) {
    PV_ASSIGN_OR_RETURN(Partial p, ReadPartialFile(path));
    out.emplace_back(path, std::move(p));
  }
  return out;
}

// One pass's scan from partials: those of `dates` and `quarantine` must
// cover each of `files` exactly once, scanned from the same bytes, and
// nothing else. Files no partial covers go to `uncovered` (then nothing is
// merged). The partials used are moved out of `partials`.
absl::StatusOr<ScanResult> ScanFromPartials(std::vector<std::pair<std::string, Partial>>* partials,
                                            const std::vector<SegmentFile>& files,
                                            const DateSelection& dates, bool quarantine,
                                            uint64_t* quarantined,
                                            std::vector<std::string>* uncovered) {
  absl::flat_hash_map<std::string, const SegmentFile*> by_name;
  for (const SegmentFile& f : files) by_name.emplace(f.name, &f);
  absl::flat_hash_map<std::string, const std::string*> covered_by;
  std::vector<size_t> used;
  for (size_t i = 0; i < partials->size(); ++i) {
    const auto& [path, p] = (*partials)[i];
    if (p.quarantined != quarantine || !SameSelection(p.dates, dates)) continue;
    for (const SegmentSummary& in : p.scan.inputs) {
      const std::string name = in.path.substr(in.path.rfind('/') + 1);
      auto it = by_name.find(name);
      if (it == by_name.end()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "partial ", path, " covers segment ", name, ", which this pass (",
            SelectionToken(dates), ") does not read: it belongs to another run; give each run "
            "a fresh partials directory"));
      }
      auto [at, fresh] = covered_by.emplace(name, &path);
      if (!fresh) {
        return absl::FailedPreconditionError(absl::StrCat("segment ", name,
                                                          " is covered by two partials, ",
                                                          *at->second, " and ", path));
      }
      PV_ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(it->second->path));
      const segment::SegmentInfo& info = reader->info();
      if (info.footer_crc != in.footer_crc || info.records != in.records ||
          info.file_bytes != in.file_bytes) {
        return absl::FailedPreconditionError(absl::StrCat(
            "partial ", path, " was scanned from other bytes than ", it->second->path,
            " (footer checksum, record count or size differs): scan that segment again"));
      }
    }
    used.push_back(i);
  }
  for (const SegmentFile& f : files) {
    if (!covered_by.contains(f.name)) uncovered->push_back(f.name);
  }
  if (!uncovered->empty()) return ScanResult{};
  // The merge of the parts starts from the scan of nothing, which holds what
  // the selection alone decides (the Unknown members, a range's fact days).
  ScanOptions none;
  none.dates = dates;
  PV_ASSIGN_OR_RETURN(ScanResult result, Scan(none));
  for (size_t i : used) {
    Partial& p = (*partials)[i].second;
    for (SegmentSummary& in : p.scan.inputs) {
      in.path = by_name.at(in.path.substr(in.path.rfind('/') + 1))->path;
    }
    *quarantined += p.quarantined_records;
    MergeScanResults(std::move(p.scan), &result);
  }
  for (auto it = used.rbegin(); it != used.rend(); ++it) partials->erase(partials->begin() + *it);
  return result;
}

std::string PlanStepJson(const DateSelection& dates, bool quarantine,
                         const std::vector<std::string>& segments) {
  std::vector<std::string> names;
  for (const std::string& n : segments) names.push_back(Quote(n));
  return absl::StrCat("{\"step\":\"scan\",\"selection\":", Quote(SelectionToken(dates)),
                      ",\"quarantine\":", quarantine ? "true" : "false", ",\"segments\":[",
                      absl::StrJoin(names, ","), "]}");
}

}  // namespace

int RunBatch(const BatchOptions& options) {
  const absl::Time started = absl::Now();
  const std::string& segments_dir = options.segments_dir;
  const bool plan_only = options.plan_only;
  const bool from_partials = !options.partials_dir.empty();
  const bool load = options.connect != nullptr && !plan_only;
  const std::string quarantine_dir = options.quarantine_dir.empty()
                                         ? segments_dir + "/quarantine"
                                         : options.quarantine_dir;
  absl::StatusOr<std::vector<SegmentFile>> present = ListSegmentFiles(segments_dir);
  if (!present.ok()) {
    PV_LOG(ERROR) << present.status();
    return kExitFailed;
  }
  if (present->empty()) {
    PV_LOG(ERROR) << "no segment files (*.pvseg) in " << segments_dir
                  << ": run import or consume first";
    return kExitFailed;
  }

  // Connect and migrate first: a bad password should fail in a second, not
  // after the scan.
  std::unique_ptr<BatchWarehouse> warehouse;
  WarehouseRecord record;
  if (options.connect != nullptr) {
    absl::StatusOr<std::unique_ptr<BatchWarehouse>> connected = options.connect();
    if (!connected.ok()) {
      PV_LOG(ERROR) << connected.status().message();
      return kExitFailed;
    }
    warehouse = std::move(*connected);
    absl::StatusOr<WarehouseRecord> read = warehouse->ReadRecord(/*lock=*/!plan_only);
    if (!read.ok()) {
      PV_LOG(ERROR) << read.status().message();
      return kExitFailed;
    }
    record = std::move(*read);
  }

  MetricsReport metrics;
  Work work;
  work.mode = options.mode;
  work.late_days = options.late_days;
  warehouse::RunDescription run;
  run.started = started;
  std::vector<int32_t> failing_days = options.days;
  auto fail = [&](const absl::Status& status, int code) {
    PV_LOG(ERROR) << "run failed, the warehouse is unchanged: " << status.message();
    if (plan_only) return code;
    run.work_json = work.Json();
    if (warehouse != nullptr) {
      absl::Status s = warehouse->RecordFailure(run, failing_days, status.message());
      if (!s.ok()) PV_LOG(WARNING) << "could not record the failure: " << s;
    }
    metrics.SetRun(false, absl::ToDoubleSeconds(absl::Now() - started));
    metrics.SetWork(work.Metrics());
    if (!options.metrics_file.empty()) {
      absl::Status s = metrics.WriteFile(options.metrics_file);
      if (!s.ok()) PV_LOG(WARNING) << s;
    }
    return code;
  };

  std::vector<std::pair<std::string, Partial>> partials;
  if (from_partials) {
    absl::StatusOr<std::vector<std::pair<std::string, Partial>>> read =
        ReadPartials(options.partials_dir);
    if (!read.ok()) return fail(read.status(), kExitFailed);
    partials = std::move(*read);
    PV_LOG(INFO) << "taking the scans from " << partials.size() << " partial file(s) in "
                 << options.partials_dir;
  }
  // A pass's scan: of the files, or merged from the partials. With
  // --plan, a pass whose partials are not all there ends the run (`planned`).
  bool planned = false;
  auto pass = [&](const std::vector<SegmentFile>& files, const DateSelection& dates,
                  bool quarantine_records, QuarantineWriter* writer, uint64_t* quarantined,
                  const char* what) -> absl::StatusOr<ScanResult> {
    if (!from_partials) {
      return ScanFiles(files, dates, quarantine_records, options, writer, what);
    }
    std::vector<std::string> uncovered;
    absl::StatusOr<ScanResult> r = ScanFromPartials(&partials, files, dates, quarantine_records,
                                                    quarantined, &uncovered);
    if (!r.ok() || uncovered.empty()) return r;
    if (plan_only) {
      std::fprintf(options.summary, "%s\n",
                   PlanStepJson(dates, quarantine_records, uncovered).c_str());
      std::fflush(options.summary);
      planned = true;
      return r;
    }
    return absl::FailedPreconditionError(absl::StrCat(
        uncovered.size(), " segment(s) of the ", what, " (", SelectionToken(dates),
        ") are covered by no partial in ", options.partials_dir, ", e.g. ", uncovered[0],
        ": run their scan step first (batch --plan says which)"));
  };

  // 2. Which segments are new; refuse those that would load offsets twice.
  absl::StatusOr<SegmentTriage> triage = TriageSegments(*present, record);
  if (!triage.ok()) return fail(triage.status(), kExitFailed);
  work.segments_applied = triage->applied_present.size();
  work.applied_missing = triage->applied_missing;
  if (!triage->applied_missing.empty()) {
    PV_LOG(WARNING) << triage->applied_missing.size()
                    << " applied segment(s) are no longer in " << segments_dir
                    << " (deleted by hand, not through the retention tool), e.g. "
                    << triage->applied_missing[0]
                    << ": their days cannot be reloaded until they are restored";
  }
  std::vector<AppliedSegment> candidates;
  absl::flat_hash_map<std::string, segment::SegmentInfo> footers;
  for (const SegmentFile& f : triage->new_segments) {
    absl::StatusOr<std::unique_ptr<segment::SegmentReader>> reader =
        segment::SegmentReader::Open(f.path);
    if (!reader.ok()) return fail(reader.status(), kExitFailed);
    footers[f.name] = (*reader)->info();
    candidates.push_back(ToAppliedSegment((*reader)->info(), {}));
  }
  const Refusals refusals = RefuseOverlaps(record, candidates);
  std::vector<SegmentFile> new_files;
  for (const SegmentFile& f : triage->new_segments) {
    if (refusals.refused.count(f.name) > 0) {
      work.refused.push_back(f.name);
    } else {
      new_files.push_back(f);
      work.bytes_new += f.file_bytes;
    }
  }
  work.segments_new = new_files.size();
  for (const Refusal& r : refusals.issues) {
    PV_LOG(WARNING) << r.issue.Describe() << ": " << r.segment << " is not loaded";
  }

  // 3. The new segments: every day they hold within what the mode keeps.
  int32_t record_newest = INT32_MIN;
  for (const AppliedSegment& a : record.segments) {
    if (!a.day_events.empty()) record_newest = std::max(record_newest, a.day_events.rbegin()->first);
  }
  DateSelection first_pass;
  switch (options.mode) {
    case RunMode::kNightly:
      first_pass = DateSelection::Horizon(options.late_days + 1, record_newest);
      break;
    case RunMode::kDays:
      first_pass = DateSelection::Days(options.days);
      break;
    case RunMode::kFull:
      first_pass = DateSelection::All();
      break;
  }
  const std::string run_name = absl::FormatTime("%Y%m%dT%H%M%S", started, absl::UTCTimeZone());
  QuarantineWriter quarantine(quarantine_dir, run_name);
  if (absl::Status s = quarantine.CheckWritable(); !s.ok()) return fail(s, kExitFailed);
  absl::Time t = absl::Now();
  uint64_t quarantined_by_steps = 0;
  absl::StatusOr<ScanResult> scan = pass(new_files, first_pass, /*quarantine_records=*/true,
                                         &quarantine, &quarantined_by_steps, "batch scan");
  double scan_seconds = absl::ToDoubleSeconds(absl::Now() - t);
  absl::StatusOr<uint64_t> quarantined =
      from_partials ? absl::StatusOr<uint64_t>(quarantined_by_steps) : quarantine.Close();
  const std::string quarantine_where =
      from_partials ? absl::StrCat(quarantine_dir, "/quarantine-part-*.ndjson") : quarantine.path();
  if (planned) return kExitOk;
  if (!scan.ok()) {
    return fail(scan.status(), absl::IsCancelled(scan.status()) ? kExitInterrupted : kExitFailed);
  }
  if (!quarantined.ok()) return fail(quarantined.status(), kExitFailed);
  const ScanCounts new_counts = scan->counts;
  // Of the records that are events at all (tombstones aside).
  const uint64_t events = new_counts.records - new_counts.tombstones;
  const double invalid_ratio =
      events == 0 ? 0.0
                  : static_cast<double>(new_counts.invalid_total()) / static_cast<double>(events);
  run.counts_json = CountsJson(new_counts, *quarantined);
  if (invalid_ratio > options.max_invalid_ratio) {
    metrics.SetCounts(new_counts);
    return fail(absl::FailedPreconditionError(absl::StrFormat(
                    "%d of %d records (%.2f%%) of the new segments are invalid, above "
                    "--max-invalid-ratio=%g; they are in %s",
                    new_counts.invalid_total(), events, 100 * invalid_ratio,
                    options.max_invalid_ratio, quarantine_where)),
                kExitTooManyInvalid);
  }

  // 4. The days to reload, and the applied segments they need.
  std::vector<AppliedSegment> applied_now;
  for (const SegmentSummary& s : scan->inputs) {
    const std::string name = s.path.substr(s.path.rfind('/') + 1);
    applied_now.push_back(ToAppliedSegment(footers.at(name), s));
  }
  ReloadPlan plan = PlanReload(record, applied_now, *triage, options.mode, options.days,
                               options.late_days);
  work.newest = plan.newest;
  work.reloaded = plan.reload;
  work.stale_left = plan.stale_left;
  failing_days = plan.reload;
  {
    std::vector<AppliedSegment> all = record.segments;
    all.insert(all.end(), applied_now.begin(), applied_now.end());
    work.issues = Reconcile(all);
  }
  for (const CoverageIssue& issue : work.issues) PV_LOG(WARNING) << issue.Describe();
  if (!plan.missing.empty() && options.mode != RunMode::kFull) {
    const auto& [day, names] = *plan.missing.begin();
    return fail(absl::FailedPreconditionError(absl::StrCat(
                    "day ", DayText(day), " cannot be reloaded: it needs ", names.size(),
                    " applied segment(s) that are gone (pruned or deleted), e.g. ", names[0],
                    plan.missing.size() > 1
                        ? absl::StrCat("; ", plan.missing.size() - 1, " more day(s) likewise")
                        : std::string(),
                    ". Restore them from the archive, or leave the day as it is")),
                kExitFailed);
  }
  for (const auto& [day, names] : plan.missing) {
    PV_LOG(WARNING) << "day " << DayText(day) << " left as it is: " << names.size()
                    << " of its segments are gone, e.g. " << names[0];
  }
  if (!plan.stale_left.empty()) {
    PV_LOG(WARNING) << plan.stale_left.size() << " stale day(s) beyond the horizon of "
                    << options.late_days << " days from " << DayText(plan.newest)
                    << " are left for an explicit rerun (--date/--from/--to): "
                    << DaysText(plan.stale_left);
  }
  if (options.require_complete && (!work.issues.empty() || !work.refused.empty())) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
                    "--require-complete: ", work.holes(), " hole(s) and ",
                    work.overlaps() + refusals.issues.size(), " overlap(s) in the segments' "
                    "offsets, e.g. ",
                    (work.issues.empty() ? refusals.issues[0].issue : work.issues[0]).Describe())),
                kExitIncomplete);
  }
  std::vector<SegmentFile> reread_files;
  {
    absl::flat_hash_set<std::string> names(plan.reread.begin(), plan.reread.end());
    for (const SegmentFile& f : triage->applied_present) {
      if (names.contains(f.name)) {
        reread_files.push_back(f);
        work.bytes_reread += f.file_bytes;
      }
    }
  }
  work.segments_reread = reread_files.size();
  if (!reread_files.empty()) {
    t = absl::Now();
    uint64_t none = 0;
    absl::StatusOr<ScanResult> again =
        pass(reread_files, DateSelection::Days(plan.reload), /*quarantine_records=*/false,
             nullptr, &none, "batch re-read");
    scan_seconds += absl::ToDoubleSeconds(absl::Now() - t);
    if (planned) return kExitOk;
    if (!again.ok()) {
      return fail(again.status(),
                  absl::IsCancelled(again.status()) ? kExitInterrupted : kExitFailed);
    }
    if (absl::Status s = CheckIdentity(*again, record); !s.ok()) return fail(s, kExitFailed);
    MergeScanResults(std::move(*again), &*scan);
  }
  SelectFactDays(plan.reload, &*scan);
  if (!partials.empty()) {
    PV_LOG(WARNING) << partials.size() << " partial file(s) in " << options.partials_dir
                    << " were not used (another run's selection or quarantine flag), e.g. "
                    << partials[0].first;
  }
  if (plan_only) {
    std::fprintf(options.summary, "{\"step\":\"load\"}\n");
    std::fflush(options.summary);
    return kExitOk;
  }

  const ScanCounts& counts = scan->counts;
  run.inputs_json = InputsJson(scan->inputs);
  run.counts_json = CountsJson(counts, *quarantined);
  run.work_json = work.Json();
  metrics.SetCounts(counts);
  metrics.SetPhase("scan", scan_seconds);
  metrics.SetWork(work.Metrics());

  warehouse::LoadStats stats;
  const star::StarBatch& batch = scan->batch;
  if (load) {
    if (ShutdownRequested()) {
      return fail(absl::CancelledError("interrupted before the load"), kExitInterrupted);
    }
    run.timings_json = absl::StrFormat("{\"scan\":%.3f}", scan_seconds);
    warehouse::RecordUpdate update;
    update.new_segments = std::move(applied_now);
    t = absl::Now();
    PV_LOG(INFO) << "loading " << batch.facts.size() << " fact rows of "
                 << batch.fact_days.size() << " day(s) and " << update.new_segments.size()
                 << " new segment(s) in one transaction";
    absl::StatusOr<warehouse::LoadStats> loaded = warehouse->Load(batch, run, update);
    if (!loaded.ok()) return fail(loaded.status(), kExitFailed);
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
  std::string invalid_lines;
  for (size_t r = 1; r < counts.invalid.size(); ++r) {
    if (counts.invalid[r] == 0) continue;
    absl::StrAppend(&invalid_lines, "                      ",
                    event::InvalidName(static_cast<event::Invalid>(r)), ": ",
                    counts.invalid[r], "\n");
  }
  if (counts.tombstones > 0) {
    absl::StrAppend(&invalid_lines, "  tombstones        ", HumanCount(counts.tombstones),
                    " (empty payloads: no event, not invalid)\n");
  }
  std::string coverage = "contiguous";
  if (!work.issues.empty() || !work.refused.empty()) {
    coverage = absl::StrCat(work.holes(), " hole(s), ", work.overlaps(), " overlap(s), ",
                            work.refused.size(), " segment(s) refused",
                            work.issues.empty() ? "" : ": " + work.issues[0].Describe());
  }
  std::fprintf(
      options.summary,
      "\nbatch %s\n"
      "  mode              %s%s\n"
      "  segments          %zu new (%.1f MB), %zu already applied, %zu re-read for stale "
      "days (%.1f MB)%s\n"
      "  input             %s records, %.1f MB of JSON\n"
      "  days reloaded     %s\n"
      "  stale days left   %s\n"
      "  coverage          %s\n"
      "  valid             %s  (facts %s, no product_id %s, other days %s)\n"
      "  invalid           %s%s\n%s"
      "  dimensions        %zu products, %zu stores, %zu referrers, %zu "
      "devices, %zu dates\n"
      "  fact rows         %zu%s\n"
      "  time              %.2f s total: scan %.2f s (%.0f records/s, %.0f MB/s)%s\n",
      load ? absl::StrCat("run ", stats.run_id, " committed").c_str()
           : "dry run (--noload): nothing loaded",
      ModeName(options.mode),
      options.mode == RunMode::kNightly
          ? absl::StrCat(" (late days ", options.late_days, ", newest day ",
                         plan.newest == INT32_MIN ? "none" : DayText(plan.newest), ")")
                .c_str()
          : "",
      work.segments_new, work.bytes_new / 1e6, work.segments_applied, work.segments_reread,
      work.bytes_reread / 1e6,
      work.refused.empty() ? "" : absl::StrCat(", ", work.refused.size(), " refused").c_str(),
      HumanCount(counts.records).c_str(), counts.payload_bytes / 1e6,
      DaysText(batch.fact_days).c_str(), DaysText(work.stale_left).c_str(), coverage.c_str(),
      HumanCount(counts.valid).c_str(), HumanCount(counts.fact_events).c_str(),
      HumanCount(counts.skipped_no_product).c_str(), HumanCount(counts.other_days).c_str(),
      HumanCount(counts.invalid_total()).c_str(),
      *quarantined > 0
          ? absl::StrCat(" (", *quarantined, " quarantined -> ", quarantine_where, ")").c_str()
          : "",
      invalid_lines.c_str(), batch.products.size() - 1, batch.stores.size() - 1,
      batch.referrers.size() - 1, batch.devices.size() - 1, batch.days.size(),
      batch.facts.size(),
      load ? absl::StrCat(", ", stats.new_members, " new dimension members").c_str() : "",
      total_seconds, scan_seconds, counts.records / std::max(scan_seconds, 1e-9),
      counts.payload_bytes / 1e6 / std::max(scan_seconds, 1e-9),
      load ? absl::StrFormat(", load %.2f s (dimensions %.2f, meanwhile fact COPY %.2f + "
                             "indexes %.2f; commit %.2f)",
                             absl::ToDoubleSeconds(absl::Now() - t), stats.dimension_seconds,
                             stats.fact_copy_seconds, stats.fact_index_seconds,
                             stats.commit_seconds)
                 .c_str()
           : "");
  std::fflush(options.summary);
  return kExitOk;
}

int PrintStatus(const BatchOptions& options) {
  absl::StatusOr<std::vector<SegmentFile>> present = ListSegmentFiles(options.segments_dir);
  if (!present.ok()) {
    PV_LOG(ERROR) << present.status();
    return kExitFailed;
  }
  WarehouseRecord record;
  std::unique_ptr<BatchWarehouse> warehouse;
  if (options.connect != nullptr) {
    absl::StatusOr<std::unique_ptr<BatchWarehouse>> connected = options.connect();
    if (!connected.ok()) {
      PV_LOG(ERROR) << connected.status().message();
      return kExitFailed;
    }
    warehouse = std::move(*connected);
    absl::StatusOr<WarehouseRecord> read = warehouse->ReadRecord(/*lock=*/false);
    if (!read.ok()) {
      PV_LOG(ERROR) << read.status().message();
      return kExitFailed;
    }
    record = std::move(*read);
  }
  absl::StatusOr<SegmentTriage> triage = TriageSegments(*present, record);
  if (!triage.ok()) {
    PV_LOG(ERROR) << triage.status().message();
    return kExitFailed;
  }
  std::set<int32_t> loaded, held;
  uint64_t applied_bytes = 0;
  size_t pruned = 0;
  for (const AppliedSegment& a : record.segments) {
    applied_bytes += a.file_bytes;
    pruned += a.pruned;
    for (const auto& [d, n] : a.day_events) held.insert(d);
  }
  const std::vector<int32_t> stale = StaleDays(record);
  for (int32_t d : held) {
    if (!std::binary_search(stale.begin(), stale.end(), d)) loaded.insert(d);
  }
  const int32_t newest = held.empty() ? INT32_MIN : *held.rbegin();
  // What the next default run reads: every new segment, and the applied
  // segments of the stale days within the horizon (new segments may add
  // days of their own, which only reading them tells).
  ReloadPlan plan = PlanReload(record, {}, *triage, RunMode::kNightly, {}, options.late_days);
  uint64_t new_bytes = 0, reread_bytes = 0;
  for (const SegmentFile& f : triage->new_segments) new_bytes += f.file_bytes;
  absl::flat_hash_set<std::string> reread(plan.reread.begin(), plan.reread.end());
  for (const SegmentFile& f : triage->applied_present) {
    if (reread.contains(f.name)) reread_bytes += f.file_bytes;
  }
  const std::vector<CoverageIssue> issues = Reconcile(record.segments);
  std::fprintf(options.summary,
               "\nbatch status of %s\n"
               "  applied segments  %zu (%.1f MB), %zu pruned, %zu missing from the "
               "directory\n"
               "  days loaded       %zu, %s .. %s\n"
               "  stale days        %zu: %s\n"
               "  coverage          %s\n"
               "  next default run  reads %zu new segment(s) (%.1f MB) and re-reads %zu "
               "(%.1f MB) for stale days within %d days of %s\n",
               options.segments_dir.c_str(), record.segments.size(), applied_bytes / 1e6,
               pruned, triage->applied_missing.size(), loaded.size(),
               loaded.empty() ? "-" : DayText(*loaded.begin()).c_str(),
               loaded.empty() ? "-" : DayText(*loaded.rbegin()).c_str(), stale.size(),
               DaysText(stale).c_str(),
               issues.empty() ? "contiguous"
                              : absl::StrCat(issues.size(), " issue(s): ",
                                             issues[0].Describe()).c_str(),
               triage->new_segments.size(), new_bytes / 1e6, reread.size(), reread_bytes / 1e6,
               options.late_days, newest == INT32_MIN ? "the newest day" : DayText(newest).c_str());
  for (const CoverageIssue& i : issues) std::fprintf(options.summary, "    %s\n", i.Describe().c_str());
  std::fflush(options.summary);
  return kExitOk;
}

int RunScanStep(const ScanStepOptions& options) {
  const absl::Time started = absl::Now();
  auto failed = [&](const absl::Status& status) {
    PV_LOG(ERROR) << "scan step failed, no partial written: " << status.message();
    return absl::IsCancelled(status) ? kExitInterrupted : kExitFailed;
  };
  if (options.segments.empty()) {
    return failed(absl::InvalidArgumentError("a scan step needs at least one segment"));
  }
  // The partial's name says what it covers, so it is known before the scan.
  Partial partial;
  partial.dates = options.dates;
  partial.quarantined = options.quarantine;
  ScanOptions scan_options;
  uint64_t records = 0;
  for (const std::string& name : options.segments) {
    if (name.find('/') != std::string::npos || !absl::EndsWith(name, ".pvseg")) {
      return failed(absl::InvalidArgumentError(
          absl::StrCat("\"", name, "\" is not a segment file name of ", options.segments_dir)));
    }
    const std::string path = absl::StrCat(options.segments_dir, "/", name);
    absl::StatusOr<std::unique_ptr<segment::SegmentReader>> reader =
        segment::SegmentReader::Open(path);
    if (!reader.ok()) return failed(reader.status());
    SegmentSummary in;
    in.path = path;
    in.file_bytes = (*reader)->info().file_bytes;
    in.footer_crc = (*reader)->info().footer_crc;
    records += (*reader)->info().records;
    partial.scan.inputs.push_back(in);
    scan_options.segments.push_back(path);
  }
  const std::string name = PartialName(partial);
  const std::string base = name.substr(0, name.size() - kPartialSuffix.size());
  for (const std::string& dir : {options.partials_dir, options.quarantine_dir}) {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return failed(absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message())));
  }
  std::unique_ptr<QuarantineWriter> quarantine;
  const std::string quarantine_tmp =
      absl::StrCat(".quarantine-", base, ".ndjson.tmp-", ::getpid());
  if (options.quarantine) {
    quarantine = QuarantineWriter::ForFile(options.quarantine_dir, quarantine_tmp);
    if (absl::Status s = quarantine->CheckWritable(); !s.ok()) return failed(s);
  }
  Progress progress("scan step", "records", records);
  scan_options.threads = options.threads;
  scan_options.dates = options.dates;
  scan_options.quarantine = quarantine.get();
  scan_options.progress = &progress;
  absl::StatusOr<ScanResult> scan = Scan(scan_options);
  progress.Finish();
  uint64_t quarantined = 0;
  if (quarantine != nullptr) {
    absl::StatusOr<uint64_t> closed = quarantine->Close();
    if (scan.ok() && !closed.ok()) scan = closed.status();
    if (closed.ok()) quarantined = *closed;
  }
  const std::string tmp_path = absl::StrCat(options.quarantine_dir, "/", quarantine_tmp);
  if (!scan.ok()) {
    if (quarantined > 0) ::unlink(tmp_path.c_str());
    return failed(scan.status());
  }
  if (quarantined > 0) {
    partial.quarantine_file = absl::StrCat("quarantine-", base, ".ndjson");
    const std::string final_path = absl::StrCat(options.quarantine_dir, "/", partial.quarantine_file);
    if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
      return failed(ErrnoStatus(errno, absl::StrCat("rename ", tmp_path, " to"), final_path));
    }
    if (absl::Status s = FsyncDirectoryOf(final_path); !s.ok()) return failed(s);
  }
  partial.quarantined_records = quarantined;
  partial.scan = std::move(*scan);
  absl::StatusOr<std::string> path = WritePartialFile(options.partials_dir, partial);
  if (!path.ok()) return failed(path.status());
  const ScanCounts& c = partial.scan.counts;
  PV_LOG(INFO) << "scan step: " << options.segments.size() << " segment(s), "
               << HumanCount(c.records) << " records (" << HumanCount(c.invalid_total())
               << " invalid, " << quarantined << " quarantined), "
               << partial.scan.batch.facts.size() << " fact rows in "
               << absl::StrFormat("%.2f s", absl::ToDoubleSeconds(absl::Now() - started))
               << " -> " << *path;
  std::fprintf(options.summary, "%s\n", path->c_str());
  std::fflush(options.summary);
  return kExitOk;
}

}  // namespace pv::etl
