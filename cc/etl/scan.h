// The batch job's scan: segment files -> one run's star schema in memory.
//
//   ScanOptions options;
//   options.segments = {...};          // published segment files
//   options.threads = 2;
//   options.dates = DateSelection::Latest();
//   PV_ASSIGN_OR_RETURN(ScanResult result, Scan(options));
//
// Parallel contract (as DuckDB's sinks): blocks of all segments are spread
// over oneTBB worker threads; each thread owns a ThreadState (an EventParser,
// one DimensionDictionary per dimension, a fact hash map over its own
// dictionary ids) that no other thread touches. When the scan ends, the
// states are combined on the calling thread, in thread order, into global
// ordinals. The result does not depend on the thread count or the schedule:
// measures are sums/min/max over exact integers and attributes are chosen by
// a total order (see README, "Semantics").
//
// Memory is bounded by the dictionaries and the fact aggregates, never by the
// input: one decoded block per thread is alive at a time. In "latest date"
// mode a thread keeps the facts of the latest day it has seen only.
#ifndef PV_ETL_SCAN_H_
#define PV_ETL_SCAN_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/common/progress.h"
#include "cc/event/event.h"
#include "cc/etl/quarantine.h"
#include "cc/star/star_batch.h"

namespace pv::etl {

// Which days get facts.
struct DateSelection {
  bool latest = true;          // the latest day present in the input
  int32_t first_day = 0;       // else this inclusive range (days since epoch)
  int32_t last_day = 0;
  static DateSelection Latest() { return {}; }
  static DateSelection Range(int32_t first, int32_t last) {
    return {false, first, last};
  }
};

struct ScanOptions {
  std::vector<std::string> segments;  // paths of published segment files
  int threads = 0;                    // 0: all cores
  DateSelection dates;
  QuarantineWriter* quarantine = nullptr;  // invalid records go here (optional)
  Progress* progress = nullptr;            // records and payload bytes
};

// Records by outcome. records == valid + sum(invalid).
struct ScanCounts {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t valid = 0;
  std::array<uint64_t, static_cast<size_t>(event::Invalid::kCount)> invalid{};
  uint64_t skipped_no_product = 0;  // valid, in a fact day, without product_id
  uint64_t fact_events = 0;         // valid events aggregated into facts
  uint64_t other_days = 0;          // valid events of days not loaded
  uint64_t invalid_total() const;
};

struct SegmentSummary {
  std::string path;
  uint64_t records = 0;
  uint64_t file_bytes = 0;
};

struct ScanResult {
  star::StarBatch batch;
  ScanCounts counts;
  std::vector<SegmentSummary> inputs;
  size_t peak_dictionary_bytes = 0;  // summed over threads, at the merge
};

// Reads every block of every segment. A corrupt or unreadable segment fails
// the scan (the error names file, block and byte offset): a warehouse is
// never loaded from a partial read. ShutdownRequested() cancels it.
absl::StatusOr<ScanResult> Scan(const ScanOptions& options);

}  // namespace pv::etl

#endif  // PV_ETL_SCAN_H_
