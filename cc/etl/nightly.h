// The nightly mode's decisions, as pure functions over the warehouse's record
// of applied segments (cc/warehouse/run_record.h) and the segment files
// present: which segments are new, which days to reload, which applied
// segments to re-read for them, and whether the partitions are covered
// without hole or overlap. The run policy (batch_run.h) does the I/O; these
// are unit-tested in nightly_test.cc.
//
// Vocabulary (README, "Nightly runs"):
//  - a segment is *applied* once a committed run recorded it; *new* until
//    then;
//  - a day is *stale* when some applied segment holds valid events of it
//    that its facts do not include;
//  - the *horizon* of a run is every day d with newest - d <= late_days,
//    where newest is the newest day the applied segments (the new ones
//    included) hold: never the wall clock, so that a backfill or a replay
//    behaves like a live night.
#ifndef PV_ETL_NIGHTLY_H_
#define PV_ETL_NIGHTLY_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/etl/scan.h"
#include "cc/segment/segment.h"
#include "cc/warehouse/run_record.h"

namespace pv::etl {

// A published segment file in the segments directory.
struct SegmentFile {
  std::string name;  // file name
  std::string path;
  uint64_t file_bytes = 0;
};

// The published segments of `dir` (ListSegments) with their sizes.
absl::StatusOr<std::vector<SegmentFile>> ListSegmentFiles(const std::string& dir);

// What the run does with the segments.
enum class RunMode {
  kNightly,  // new segments, then the stale days within the horizon
  kDays,     // new segments, then exactly the days asked for
  kFull,     // every segment present, every day they hold (recovery)
};

// A segment's record entry from its footer and what the scan counted.
warehouse::AppliedSegment ToAppliedSegment(const segment::SegmentInfo& info,
                                           const SegmentSummary& scanned);

// A hole or an overlap between two segments of one partition.
struct CoverageIssue {
  bool overlap = false;  // else a hole
  std::string source;    // topic
  int32_t partition = 0;
  int64_t from = 0, to = 0;  // the offsets [from, to) missing or claimed twice
  std::string before, after;  // the segments on either side (names)
  std::string Describe() const;
};

// Holes and overlaps of the Kafka segments among `segments`: per (topic,
// partition), the [start_position, end_position) spans sorted by start must
// meet exactly. A copy of a segment under another name is an overlap; so is
// any other non-Kafka segment whose identity (size, footer checksum,
// records) equals another's.
std::vector<CoverageIssue> Reconcile(const std::vector<warehouse::AppliedSegment>& segments);

// The first classification of a run, before any scan.
struct SegmentTriage {
  std::vector<SegmentFile> new_segments;     // not in the record, sorted by name
  std::vector<SegmentFile> applied_present;  // in the record and on disk
  std::vector<std::string> applied_missing;  // in the record (not pruned), not on disk
};

// Splits `present` by the record; FailedPrecondition naming the file when
// an applied segment's size differs from the recorded one (its bytes are not
// what was applied).
absl::StatusOr<SegmentTriage> TriageSegments(const std::vector<SegmentFile>& present,
                                             const warehouse::WarehouseRecord& record);

// Which new segments to refuse because their offsets overlap an applied
// segment's or an earlier new one's (by name): the names, and the issues
// that say so.
struct Refusal {
  std::string segment;  // the refused one
  CoverageIssue issue;
};
struct Refusals {
  std::set<std::string> refused;
  std::vector<Refusal> issues;
};
Refusals RefuseOverlaps(const warehouse::WarehouseRecord& record,
                        const std::vector<warehouse::AppliedSegment>& new_segments);

// What a run reloads, once the new segments are scanned.
struct ReloadPlan {
  std::vector<int32_t> reload;      // days whose facts are replaced, sorted
  std::vector<int32_t> stale_left;  // stale days not reloaded (beyond the horizon)
  int32_t newest = INT32_MIN;       // the newest day applied segments hold
  // Applied segments (present, not new) that hold a reloaded day: read
  // again for those days' facts.
  std::vector<std::string> reread;
  // Days to reload that need segments which are gone (pruned or deleted):
  // day -> the segments. A run that needs them fails, naming them.
  std::map<int32_t, std::vector<std::string>> missing;
};

// `new_segments` carry their day_events (from the scan). `days` is the
// explicit list for RunMode::kDays. In kFull mode every day held by a
// segment is reloaded except those whose segments are gone (they land in
// `missing`, and the caller reports instead of failing).
ReloadPlan PlanReload(const warehouse::WarehouseRecord& record,
                      const std::vector<warehouse::AppliedSegment>& new_segments,
                      const SegmentTriage& triage, RunMode mode,
                      const std::vector<int32_t>& days, int32_t late_days);

// The stale days of the record (some applied segment's events not in them).
std::vector<int32_t> StaleDays(const warehouse::WarehouseRecord& record);

}  // namespace pv::etl

#endif  // PV_ETL_NIGHTLY_H_
