#include "cc/etl/nightly.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cc/common/status.h"

namespace pv::etl {
namespace {

using warehouse::AppliedSegment;
using warehouse::WarehouseRecord;

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// One partition span of one segment.
struct Span {
  int64_t start, end;
  const AppliedSegment* segment;
};

void CoverageOf(const std::vector<const AppliedSegment*>& segments,
                std::vector<CoverageIssue>* issues) {
  std::map<std::pair<std::string, int32_t>, std::vector<Span>> by_partition;
  for (const AppliedSegment* s : segments) {
    if (s->source_kind != "kafka") continue;
    for (const warehouse::AppliedRange& r : s->ranges) {
      by_partition[{s->source, r.partition}].push_back({r.start_position, r.end_position, s});
    }
  }
  for (auto& [key, spans] : by_partition) {
    std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
      return std::tie(a.start, a.end, a.segment->name) <
             std::tie(b.start, b.end, b.segment->name);
    });
    int64_t covered_to = spans[0].end;
    const AppliedSegment* last = spans[0].segment;
    for (size_t i = 1; i < spans.size(); ++i) {
      const Span& s = spans[i];
      if (s.start > covered_to) {
        issues->push_back({false, key.first, key.second, covered_to, s.start, last->name,
                           s.segment->name});
      } else if (s.start < covered_to) {
        issues->push_back({true, key.first, key.second, s.start, std::min(covered_to, s.end),
                           last->name, s.segment->name});
      }
      if (s.end >= covered_to) {
        covered_to = s.end;
        last = s.segment;
      }
    }
  }
}

// Non-Kafka segments with the identity of another (a copy under another name).
void CopiesOf(const std::vector<const AppliedSegment*>& segments,
              std::vector<CoverageIssue>* issues) {
  std::map<std::tuple<uint64_t, uint32_t, uint64_t>, const AppliedSegment*> seen;
  for (const AppliedSegment* s : segments) {
    if (s->source_kind == "kafka") continue;  // their ranges say it
    auto [it, inserted] = seen.emplace(std::make_tuple(s->file_bytes, s->footer_crc, s->records), s);
    if (inserted) continue;
    CoverageIssue issue;
    issue.overlap = true;
    issue.source = s->source;
    issue.partition = -1;
    if (!s->ranges.empty()) {
      issue.from = s->ranges[0].start_position;
      issue.to = s->ranges[0].end_position;
    }
    issue.before = it->second->name;
    issue.after = s->name;
    issues->push_back(issue);
  }
}

std::vector<int32_t> Sorted(std::set<int32_t> days) {
  return std::vector<int32_t>(days.begin(), days.end());
}

}  // namespace

absl::StatusOr<std::vector<SegmentFile>> ListSegmentFiles(const std::string& dir) {
  PV_ASSIGN_OR_RETURN(std::vector<std::string> paths, segment::ListSegments(dir));
  std::vector<SegmentFile> out;
  out.reserve(paths.size());
  for (const std::string& path : paths) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // gone since the listing
      return ErrnoStatus(errno, "stat", path);
    }
    out.push_back({BaseName(path), path, static_cast<uint64_t>(st.st_size)});
  }
  return out;
}

warehouse::AppliedSegment ToAppliedSegment(const segment::SegmentInfo& info,
                                           const SegmentSummary& scanned) {
  AppliedSegment a;
  a.name = BaseName(info.path);
  a.file_bytes = info.file_bytes;
  a.footer_crc = info.footer_crc;
  a.records = info.records;
  a.source_kind = std::string(segment::SourceKindName(info.kind));
  a.source = info.source;
  for (const segment::PartitionRange& r : info.ranges) {
    a.ranges.push_back({r.partition, r.first_offset, r.last_offset, r.start_position,
                        r.end_position, r.records});
  }
  for (const auto& [day, n] : scanned.day_events) a.day_events[day] = n;
  return a;
}

std::string CoverageIssue::Describe() const {
  return absl::StrCat(overlap ? "overlap" : "hole", ": topic ", source, " partition ",
                      partition, " offsets ", from, "..", to - 1, " ",
                      overlap ? "claimed by both " : "missing between ", before, " and ",
                      after);
}

std::vector<CoverageIssue> Reconcile(const std::vector<AppliedSegment>& segments) {
  std::vector<const AppliedSegment*> all;
  for (const AppliedSegment& s : segments) all.push_back(&s);
  std::vector<CoverageIssue> issues;
  CoverageOf(all, &issues);
  CopiesOf(all, &issues);
  return issues;
}

absl::StatusOr<SegmentTriage> TriageSegments(const std::vector<SegmentFile>& present,
                                             const WarehouseRecord& record) {
  absl::flat_hash_map<std::string, const AppliedSegment*> applied;
  for (const AppliedSegment& s : record.segments) applied.emplace(s.name, &s);
  SegmentTriage t;
  absl::flat_hash_set<std::string> on_disk;
  for (const SegmentFile& f : present) {
    on_disk.insert(f.name);
    auto it = applied.find(f.name);
    if (it == applied.end()) {
      t.new_segments.push_back(f);
      continue;
    }
    if (it->second->file_bytes != f.file_bytes) {
      return absl::FailedPreconditionError(absl::StrCat(
          "file ", f.path, " has ", f.file_bytes, " bytes, but the segment applied under this "
          "name (run ", it->second->run_id, ") had ", it->second->file_bytes,
          ": these are not the bytes that were loaded; restore the original file or move "
          "this one away"));
    }
    t.applied_present.push_back(f);
  }
  for (const AppliedSegment& s : record.segments) {
    if (!s.pruned && !on_disk.contains(s.name)) t.applied_missing.push_back(s.name);
  }
  std::sort(t.new_segments.begin(), t.new_segments.end(),
            [](const SegmentFile& a, const SegmentFile& b) { return a.name < b.name; });
  return t;
}

Refusals RefuseOverlaps(const WarehouseRecord& record,
                        const std::vector<AppliedSegment>& new_segments) {
  Refusals out;
  std::vector<const AppliedSegment*> accepted;
  for (const AppliedSegment& s : record.segments) accepted.push_back(&s);
  for (const AppliedSegment& candidate : new_segments) {
    std::vector<const AppliedSegment*> trial = accepted;
    trial.push_back(&candidate);
    std::vector<CoverageIssue> issues;
    CoverageOf(trial, &issues);
    CopiesOf(trial, &issues);
    bool overlaps = false;
    for (CoverageIssue& issue : issues) {
      if (issue.overlap && (issue.before == candidate.name || issue.after == candidate.name)) {
        overlaps = true;
        out.issues.push_back({candidate.name, std::move(issue)});
      }
    }
    if (overlaps) {
      out.refused.insert(candidate.name);
    } else {
      accepted.push_back(&candidate);
    }
  }
  return out;
}

std::vector<int32_t> StaleDays(const WarehouseRecord& record) {
  std::set<int32_t> stale;
  for (const AppliedSegment& s : record.segments) {
    stale.insert(s.unloaded_days.begin(), s.unloaded_days.end());
  }
  return Sorted(std::move(stale));
}

ReloadPlan PlanReload(const WarehouseRecord& record,
                      const std::vector<AppliedSegment>& new_segments,
                      const SegmentTriage& triage, RunMode mode,
                      const std::vector<int32_t>& days, int32_t late_days) {
  ReloadPlan plan;
  std::set<int32_t> stale;
  for (int32_t d : StaleDays(record)) stale.insert(d);
  std::set<int32_t> held;  // every day an applied or new segment holds
  for (const AppliedSegment& s : record.segments) {
    for (const auto& [d, n] : s.day_events) held.insert(d);
  }
  for (const AppliedSegment& s : new_segments) {
    for (const auto& [d, n] : s.day_events) {
      held.insert(d);
      stale.insert(d);  // not loaded yet, by definition
    }
  }
  if (!held.empty()) plan.newest = *held.rbegin();

  std::set<int32_t> reload;
  switch (mode) {
    case RunMode::kNightly:
      for (int32_t d : stale) {
        if (static_cast<int64_t>(plan.newest) - d <= late_days) reload.insert(d);
      }
      break;
    case RunMode::kDays:
      reload.insert(days.begin(), days.end());
      break;
    case RunMode::kFull:
      reload = held;
      break;
  }

  // The applied segments each reloaded day needs, present or not.
  absl::flat_hash_set<std::string> present;
  for (const SegmentFile& f : triage.applied_present) present.insert(f.name);
  std::set<std::string> reread;
  for (const AppliedSegment& s : record.segments) {
    for (const auto& [d, n] : s.day_events) {
      if (!(reload.count(d) > 0)) continue;
      // A pruned segment restored from the archive counts as present (the
      // re-read checks it is the same file).
      if (present.contains(s.name)) {
        reread.insert(s.name);
      } else {
        plan.missing[d].push_back(s.name);
      }
    }
  }
  if (mode == RunMode::kFull) {
    // Recovery reloads what it can; days that lost a segment stay as they are.
    for (const auto& [d, names] : plan.missing) reload.erase(d);
    reread.clear();
    for (const AppliedSegment& s : record.segments) {
      if (present.contains(s.name)) {
        for (const auto& [d, n] : s.day_events) {
          if ((reload.count(d) > 0)) {
            reread.insert(s.name);
            break;
          }
        }
      }
    }
  }
  plan.reload = Sorted(reload);
  plan.reread.assign(reread.begin(), reread.end());
  for (int32_t d : stale) {
    if (!(reload.count(d) > 0)) plan.stale_left.push_back(d);
  }
  return plan;
}

}  // namespace pv::etl
