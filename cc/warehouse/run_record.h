// What a batch run tells the warehouse about itself (RunDescription) and
// what the load reports back (LoadStats): the vocabulary between the run
// policy (cc/etl/batch_run.h) and the loader, without libpq.
#ifndef PV_WAREHOUSE_RUN_RECORD_H_
#define PV_WAREHOUSE_RUN_RECORD_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace pv::warehouse {

// What the ledger row records besides the loader's own figures. The JSON
// fields must be valid JSON objects/arrays.
struct RunDescription {
  absl::Time started;
  std::string inputs_json = "[]";
  std::string counts_json = "{}";
  std::string timings_json = "{}";
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
