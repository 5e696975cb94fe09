// The batch job's run policy: what one run of `batch` does and how it ends.
// batch_main.cc parses flags into BatchOptions and calls RunBatch; the
// policy lives here so that it is tested without services (a fake
// BatchWarehouse in batch_run_test.cc).
//
//   1. connect to the warehouse, migrate it, take the run lock and read the
//      record of applied segments (a bad password fails in a second, before
//      any scanning);
//   2. triage the segments of the directory: new ones (not in the record),
//      applied ones (their size must match the record); refuse new segments
//      whose offsets overlap applied ones (reconciliation);
//   3. scan the new segments, quarantining invalid records with their
//      coordinates; the invalid-ratio gate over them: more than
//      max_invalid_ratio of their records invalid -> nothing is loaded,
//      exit 3;
//   4. decide the days to reload (nightly.h's PlanReload: the stale days
//      within the lateness horizon, the days asked for, or every day with
//      --full) and re-read the applied segments that hold them (their
//      identity must match the record);
//   5. load in one transaction (BatchWarehouse::Load): dimensions from the
//      new segments, the facts of the reloaded days, the record;
//   6. whatever happened after step 1: a failed run is recorded in the
//      ledger (BatchWarehouse::RecordFailure), the metrics file is written,
//      the one-screen summary printed.
//
// Exit codes: 0 loaded (or scanned, without loading); 1 failed, nothing
// loaded; 2 bad usage; 3 too many invalid records; 4 incomplete input
// (--require-complete and a hole or overlap); 130 interrupted.
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
#include "cc/etl/nightly.h"
#include "cc/etl/scan.h"
#include "cc/star/star_batch.h"
#include "cc/warehouse/run_record.h"

namespace pv::etl {

enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,
  kExitBadUsage = 2,
  kExitTooManyInvalid = 3,
  kExitIncomplete = 4,
  kExitInterrupted = 130,
};

// What the policy needs of the warehouse. Implemented over PostgreSQL by
// cc/etl/pg_warehouse.h, by fakes in tests. One thread.
class BatchWarehouse {
 public:
  virtual ~BatchWarehouse() = default;
  // Reads the record of applied segments. With `lock`, first takes the run
  // lock (one run at a time per warehouse, waiting for a running one), held
  // until the warehouse is destroyed.
  virtual absl::StatusOr<warehouse::WarehouseRecord> ReadRecord(bool lock) = 0;
  // Loads `batch` and `update` in one transaction; on error nothing of it
  // remains.
  virtual absl::StatusOr<warehouse::LoadStats> Load(const star::StarBatch& batch,
                                                    const warehouse::RunDescription& run,
                                                    const warehouse::RecordUpdate& update) = 0;
  // Records a failed run (outside any transaction).
  virtual absl::Status RecordFailure(const warehouse::RunDescription& run,
                                     const std::vector<int32_t>& days,
                                     absl::string_view error) = 0;
};

// Connects (and migrates); called once, before the scan.
using WarehouseConnector = std::function<absl::StatusOr<std::unique_ptr<BatchWarehouse>>()>;

struct BatchOptions {
  std::string segments_dir;
  RunMode mode = RunMode::kNightly;
  std::vector<int32_t> days;  // RunMode::kDays: the days to reload, sorted
  int32_t late_days = 7;      // the lateness horizon of RunMode::kNightly
  bool require_complete = false;  // a hole or an overlap fails the run
  int threads = 0;  // 0: one per core
  std::string quarantine_dir;  // empty: <segments_dir>/quarantine
  double max_invalid_ratio = 0.01;
  std::string metrics_file;  // empty: none
  // Connection to the warehouse; null: scan only (--noload), as if nothing
  // were applied yet.
  WarehouseConnector connect;
  // Where the one-screen summary goes (stdout in batch_main).
  std::FILE* summary = stdout;
  // Take the scans from the partial files of this directory (written by
  // scan steps, RunScanStep, e.g. as Spark tasks: tools/spark/run.sh)
  // instead of reading the segments: the run is otherwise the same (triage,
  // gate, reload plan, identity checks, one-transaction load). Each pass's
  // segments must be covered exactly once, by partials of that pass's
  // selection and quarantine flag, scanned from the same bytes.
  std::string partials_dir;
  // With partials_dir: print the run's next step as one JSON line on
  // `summary` and load nothing (no run lock, nothing recorded):
  //   {"step":"scan","selection":"horizon:8:2026-01-07","quarantine":true,
  //    "segments":["a.pvseg",...]}   the segments of a pass not covered yet
  //   {"step":"load"}                every pass is covered
  bool plan_only = false;
};

// Runs one batch (see above) and returns its exit code. Logs what it does.
int RunBatch(const BatchOptions& options);

// One scan step of a distributed run (batch --scan-step).
struct ScanStepOptions {
  std::string segments_dir;
  std::vector<std::string> segments;  // file names in segments_dir
  DateSelection dates;                // the pass's selection (the plan's)
  bool quarantine = false;            // the plan's "quarantine"
  std::string quarantine_dir;
  std::string partials_dir;
  int threads = 0;
  std::FILE* summary = stdout;
};

// Scans `segments` into one partial file in partials_dir (partial.h: named
// by what it covers, published atomically) and prints its path. With
// `quarantine`, their invalid records go to
// <quarantine_dir>/quarantine-<partial name>.ndjson, published (renamed)
// before the partial. A rerun (a retried task) writes the same names with
// the same content; a killed one leaves only hidden temporary files.
int RunScanStep(const ScanStepOptions& options);

// batch --status: what the warehouse's record says (applied segments, days
// loaded, stale days, coverage) and what the next default run would read,
// without loading or taking the run lock. Returns an exit code.
int PrintStatus(const BatchOptions& options);

}  // namespace pv::etl

#endif  // PV_ETL_BATCH_RUN_H_
