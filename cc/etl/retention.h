// Retention of segment files: which applied segments may leave the segments
// directory (deleted, or moved to an archive), and doing it.
//
// A segment may go when it is applied, not already pruned, and every day
// its valid events fall on is older than `keep_days` before the newest day
// the applied segments hold (counted on the data, as the nightly horizon
// is) and not stale. A segment that is not applied is never touched, nor
// the newest of each Kafka partition (consume resumes a partition where
// the published segments end: without that one, it would consume again
// what is applied, and the batch would refuse it as an overlap). The
// record keeps the pruned segments (pruned_at), so that a later rerun of
// one of their days fails and names them instead of loading less.
#ifndef PV_ETL_RETENTION_H_
#define PV_ETL_RETENTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/etl/nightly.h"
#include "cc/warehouse/run_record.h"

namespace pv::etl {

struct RetentionPlan {
  std::vector<SegmentFile> remove;         // present, applied, old, not stale
  std::vector<std::string> already_gone;   // old enough, applied, no longer on disk
  std::vector<std::string> resume_points;  // old enough, kept: a partition's newest
  int32_t newest = INT32_MIN;
  int32_t keep_from = INT32_MIN;           // days >= this are kept
  uint64_t bytes = 0;
};

RetentionPlan PlanRetention(const warehouse::WarehouseRecord& record,
                            const std::vector<SegmentFile>& present, int32_t keep_days);

// Moves `file` into `archive_dir` (rename, or copy + fsync + unlink across
// filesystems), or deletes it when `archive_dir` is empty. Never replaces a
// file already in the archive.
absl::Status RemoveSegment(const SegmentFile& file, const std::string& archive_dir);

}  // namespace pv::etl

#endif  // PV_ETL_RETENTION_H_
