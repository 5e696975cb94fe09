// The batch job's scan: segment files -> one run's star schema in memory.
//
//   ScanOptions options;
//   options.segments = {...};          // published segment files
//   options.threads = 2;
//   options.dates = DateSelection::Days({day1, day2});
//   PV_ASSIGN_OR_RETURN(ScanResult result, Scan(options));
//
// Parallel contract (as DuckDB's sinks): blocks of all segments are spread
// over oneTBB worker threads; each thread owns a ThreadState (an EventParser,
// one DimensionDictionary per dimension, a fact hash map over its own
// dictionary ids, per-day and per-segment counters) that no other thread
// touches. When the scan ends, the states are combined on the calling thread
// into global ordinals. The result does not depend on the thread count or
// the schedule: measures are sums/min/max over exact integers and attributes
// are chosen by a total order (star_batch.h, kNoPick).
//
// The scan of a set of segments is the merge of the scans of its parts
// (MergeScanResults): every segment's contribution is independent of the
// others', which is what lets a nightly run read new segments and re-read
// old ones in separate passes, and a scan be split across machines.
//
// Memory is bounded by the dictionaries and the fact aggregates of the days
// selected, never by the input: one decoded block per thread is alive at a
// time. With DateSelection::Horizon, a thread drops the facts of days that
// fell out of the horizon as newer days arrive.
#ifndef PV_ETL_SCAN_H_
#define PV_ETL_SCAN_H_

#include <array>
#include <climits>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/common/progress.h"
#include "cc/etl/quarantine.h"
#include "cc/event/event.h"
#include "cc/star/star_batch.h"

namespace pv::etl {

// Which days get facts.
struct DateSelection {
  enum class Mode { kDays, kRange, kHorizon, kAll };
  Mode mode = Mode::kHorizon;
  std::vector<int32_t> days;   // kDays: these, sorted, unique
  int32_t first_day = 0;       // kRange: this inclusive range, every day of
  int32_t last_day = 0;        //   it a fact day even without events
  int32_t horizon = 1;         // kHorizon: the days within `horizon` of the
  int32_t newest_floor = INT32_MIN;  // newest day seen (at least this one)

  // The latest day present in the input (the seed's mode).
  static DateSelection Latest() { return Horizon(1, INT32_MIN); }
  static DateSelection Range(int32_t first, int32_t last) {
    DateSelection s;
    s.mode = Mode::kRange;
    s.first_day = first;
    s.last_day = last;
    return s;
  }
  static DateSelection Days(std::vector<int32_t> days);
  // Days newest-horizon+1 .. newest that have events, where newest is the
  // newest day of the input or `newest_floor`, whichever is later.
  static DateSelection Horizon(int32_t horizon, int32_t newest_floor) {
    DateSelection s;
    s.mode = Mode::kHorizon;
    s.horizon = horizon;
    s.newest_floor = newest_floor;
    return s;
  }
  static DateSelection All() {
    DateSelection s;
    s.mode = Mode::kAll;
    return s;
  }
  static DateSelection None() { return Days({}); }
};

struct ScanOptions {
  std::vector<std::string> segments;  // paths of published segment files
  // Which segments' invalid records go to the quarantine (those read for
  // the first time); empty: all. Same size as `segments` otherwise.
  std::vector<bool> quarantine_segment;
  int threads = 0;                    // 0: all cores
  DateSelection dates;
  QuarantineWriter* quarantine = nullptr;  // invalid records go here (optional)
  Progress* progress = nullptr;            // records and payload bytes
};

// Records by outcome. records == valid + sum(invalid), and
// valid == fact_events + skipped_no_product + other_days.
struct ScanCounts {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t valid = 0;
  std::array<uint64_t, static_cast<size_t>(event::Invalid::kCount)> invalid{};
  uint64_t skipped_no_product = 0;  // valid, in a fact day, without product_id
  uint64_t fact_events = 0;         // valid events aggregated into facts
  uint64_t other_days = 0;          // valid events of days not loaded
  // Empty payloads (a Kafka tombstone, or an empty value): no event, so
  // neither valid nor invalid, not quarantined, not in the invalid ratio.
  uint64_t tombstones = 0;
  uint64_t invalid_total() const;
  void Add(const ScanCounts& other);
};

// Valid events of one day: all of them, and those with a product_id.
struct DayEvents {
  uint64_t valid = 0;
  uint64_t with_product = 0;
};

// One input segment: its footer's figures and what its records held.
struct SegmentSummary {
  std::string path;
  uint64_t records = 0;
  uint64_t file_bytes = 0;
  uint64_t payload_bytes = 0;
  uint64_t invalid = 0;
  uint32_t footer_crc = 0;  // with file_bytes, the identity of its bytes
  std::map<int32_t, uint64_t> day_events;  // valid events by day
};

struct ScanResult {
  star::StarBatch batch;
  ScanCounts counts;
  std::vector<SegmentSummary> inputs;
  // Valid events by day over all inputs (every day of dim_date).
  std::map<int32_t, DayEvents> day_events;
  size_t peak_dictionary_bytes = 0;  // summed over threads, at the merge
};

// Reads every block of every segment. A corrupt or unreadable segment fails
// the scan (the error names file, block and byte offset): a warehouse is
// never loaded from a partial read. ShutdownRequested() cancels it.
absl::StatusOr<ScanResult> Scan(const ScanOptions& options);

// Adds `other` to `into`: members by natural key (picks by their rule), fact
// rows of equal grains aggregated, days and counters summed, inputs
// appended; fact_days becomes the union. Ordinals of `into` keep their
// meaning; `other`'s are mapped.
void MergeScanResults(ScanResult&& other, ScanResult* into);

// Keeps the facts of `days` only (sorted, unique), which become the fact
// days, and recomputes fact_events, skipped_no_product and other_days from
// the day counters.
void SelectFactDays(const std::vector<int32_t>& days, ScanResult* result);

}  // namespace pv::etl

#endif  // PV_ETL_SCAN_H_
