// The batch job's run policy: what one run of `batch` does and how it ends.
// batch_main.cc parses flags into BatchOptions and calls RunBatch; the
// policy lives here so that it is tested without services (a fake
// BatchWarehouse in batch_run_test.cc).
//
//   1. connect to the warehouse and migrate it (a bad password fails in a
//      second, before any scanning);
//   2. scan every published segment (cc/etl/scan.h), quarantining invalid
//      records with their coordinates;
//   3. the invalid-ratio gate: more than max_invalid_ratio of the records
//      invalid -> nothing is loaded, exit 3;
//   4. load in one transaction (BatchWarehouse::Load);
//   5. whatever happened after step 1: a failed run is recorded in the
//      ledger (BatchWarehouse::RecordFailure), the metrics file is written,
//      the one-screen summary printed.
//
// Exit codes: 0 loaded (or scanned, without loading); 1 failed, nothing
// loaded; 2 bad usage; 3 too many invalid records; 130 interrupted.
#ifndef PV_ETL_BATCH_RUN_H_
#define PV_ETL_BATCH_RUN_H_

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/etl/scan.h"
#include "cc/star/star_batch.h"
#include "cc/warehouse/run_record.h"

namespace pv::etl {

enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,
  kExitBadUsage = 2,
  kExitTooManyInvalid = 3,
  kExitInterrupted = 130,
};

// What the policy needs of the warehouse. Implemented over PostgreSQL by
// cc/etl/pg_warehouse.h, by fakes in tests. One thread.
class BatchWarehouse {
 public:
  virtual ~BatchWarehouse() = default;
  // Loads `batch` in one transaction; on error nothing of it remains.
  virtual absl::StatusOr<warehouse::LoadStats> Load(const star::StarBatch& batch,
                                                    const warehouse::RunDescription& run) = 0;
  // Records a failed run (outside any transaction).
  virtual absl::Status RecordFailure(const warehouse::RunDescription& run,
                                     const std::vector<int32_t>& days,
                                     absl::string_view error) = 0;
};

// Connects (and migrates); called once, before the scan.
using WarehouseConnector = std::function<absl::StatusOr<std::unique_ptr<BatchWarehouse>>()>;

struct BatchOptions {
  std::string segments_dir;
  DateSelection dates;
  int threads = 0;  // 0: one per core
  std::string quarantine_dir;  // empty: <segments_dir>/quarantine
  double max_invalid_ratio = 0.01;
  std::string metrics_file;  // empty: none
  // Connection to the warehouse; null: scan only (--noload).
  WarehouseConnector connect;
  // Where the one-screen summary goes (stdout in batch_main).
  std::FILE* summary = stdout;
};

// Runs one batch (see above) and returns its exit code. Logs what it does.
int RunBatch(const BatchOptions& options);

}  // namespace pv::etl

#endif  // PV_ETL_BATCH_RUN_H_
