// The batch run's figures in Prometheus text exposition format, written
// atomically (temp file + rename) so node_exporter's textfile collector never
// reads a half-written file:
//
//   pv_batch_success 1
//   pv_batch_last_run_timestamp_seconds 1.7e9
//   pv_batch_records_total{outcome="valid"} 999000
//   pv_batch_invalid_records_total{reason="bad_local_time"} 12
//   pv_batch_phase_seconds{phase="scan"} 1.23
#ifndef PV_ETL_METRICS_H_
#define PV_ETL_METRICS_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "cc/etl/scan.h"

namespace pv::etl {

// The figures of one batch run. Every metric is a gauge about the last run
// (documented with its HELP line in ToText, and in docs/operations.md).
class MetricsReport {
 public:
  // Records by outcome and invalid records by reason.
  void SetCounts(const ScanCounts& counts) { counts_ = counts; has_counts_ = true; }
  // Wall time of one phase (scan, load_dimensions, ...).
  void SetPhase(const std::string& phase, double seconds) { phases_[phase] = seconds; }
  // Whether the run committed, and its wall time.
  void SetRun(bool success, double seconds) {
    success_ = success;
    duration_ = seconds;
  }
  void SetFactRows(int64_t rows) { fact_rows_ = rows; }
  // What the run read and did in the nightly sense.
  struct Work {
    uint64_t segments_new = 0;      // applied by this run
    uint64_t segments_applied = 0;  // applied before it
    uint64_t segments_reread = 0;   // applied ones read again for stale days
    uint64_t segments_refused = 0;  // new ones that would load offsets twice
    uint64_t bytes_read = 0;
    uint64_t days_reloaded = 0;
    uint64_t stale_days_left = 0;
    uint64_t holes = 0, overlaps = 0;  // in the applied segments' offsets
  };
  void SetWork(const Work& work) {
    work_ = work;
    has_work_ = true;
  }

  // The Prometheus text exposition of everything set so far.
  std::string ToText() const;
  // Writes ToText() to `path` atomically (WriteFileAtomically: temporary
  // file, fsync, rename, fsync of the directory).
  absl::Status WriteFile(const std::string& path) const;

 private:
  Work work_;
  bool has_work_ = false;
  ScanCounts counts_;
  bool has_counts_ = false;
  std::map<std::string, double> phases_;
  bool success_ = false;
  double duration_ = 0;
  int64_t fact_rows_ = 0;
};

}  // namespace pv::etl

#endif  // PV_ETL_METRICS_H_
