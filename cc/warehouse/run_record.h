// What a batch run tells the warehouse about itself (RunDescription) and
// what the load reports back (LoadStats): the vocabulary between the run
// policy (cc/etl/batch_run.h) and the loader, without libpq.
#ifndef PV_WAREHOUSE_RUN_RECORD_H_
#define PV_WAREHOUSE_RUN_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace pv::warehouse {

// What the ledger row records besides the loader's own figures. The JSON
// fields must be valid JSON objects/arrays.
struct RunDescription {
  absl::Time started;
  std::string inputs_json = "[]";
  std::string counts_json = "{}";
  std::string timings_json = "{}";
  // What the run read and did (etl_run_ledger.work).
  std::string work_json = "{}";
};

// One partition's offsets in an applied segment (segment.h's PartitionRange).
struct AppliedRange {
  int32_t partition = 0;
  int64_t first_offset = 0, last_offset = 0;
  int64_t start_position = 0, end_position = 0;
  uint64_t records = 0;
};

// A segment as the warehouse records it once a run applied it: its identity,
// its ranges, the days its valid events fall on (with their counts), and
// which of those days' facts do not include it yet.
struct AppliedSegment {
  std::string name;  // file name, without directory
  uint64_t file_bytes = 0;
  uint32_t footer_crc = 0;
  uint64_t records = 0;
  std::string source_kind;  // "kafka", "mongodb", "file"
  std::string source;
  std::vector<AppliedRange> ranges;
  std::map<int32_t, uint64_t> day_events;  // day -> valid events
  std::vector<int32_t> unloaded_days;      // sorted; facts lack its events
  int64_t run_id = 0;                      // the run that applied it
  bool pruned = false;                     // removed by the retention tool
};

// The warehouse's record of applied segments, sorted by name.
struct WarehouseRecord {
  std::vector<AppliedSegment> segments;
};

// What a load adds to the record: the segments applied by this run. Every
// day in the batch's fact_days becomes loaded for every segment holding it;
// a new segment's other days are recorded as not loaded (stale).
struct RecordUpdate {
  std::vector<AppliedSegment> new_segments;
};

struct LoadStats {
  int64_t run_id = 0;
  int64_t new_members = 0;  // over the four keyed dimensions
  int64_t fact_rows = 0;
  std::string fact_checksum;
  double dimension_seconds = 0;
  double fact_copy_seconds = 0;
  double fact_index_seconds = 0;
  double commit_seconds = 0;
};

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_RUN_RECORD_H_
