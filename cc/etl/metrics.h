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

class MetricsReport {
 public:
  void SetCounts(const ScanCounts& counts) { counts_ = counts; has_counts_ = true; }
  void SetPhase(const std::string& phase, double seconds) { phases_[phase] = seconds; }
  void SetRun(bool success, double seconds) {
    success_ = success;
    duration_ = seconds;
  }
  void SetFactRows(int64_t rows) { fact_rows_ = rows; }

  std::string ToText() const;
  absl::Status WriteFile(const std::string& path) const;

 private:
  ScanCounts counts_;
  bool has_counts_ = false;
  std::map<std::string, double> phases_;
  bool success_ = false;
  double duration_ = 0;
  int64_t fact_rows_ = 0;
};

}  // namespace pv::etl

#endif  // PV_ETL_METRICS_H_
