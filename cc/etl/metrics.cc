#include "cc/etl/metrics.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cc/common/files.h"
#include "cc/common/status.h"
#include "cc/event/event.h"

namespace pv::etl {

std::string MetricsReport::ToText() const {
  std::string out;
  absl::StrAppend(&out,
                  "# HELP pv_batch_success 1 if the last batch run committed.\n"
                  "# TYPE pv_batch_success gauge\n"
                  "pv_batch_success ", success_ ? 1 : 0, "\n",
                  "# HELP pv_batch_last_run_timestamp_seconds When the last run ended.\n"
                  "# TYPE pv_batch_last_run_timestamp_seconds gauge\n",
                  absl::StrFormat("pv_batch_last_run_timestamp_seconds %.3f\n",
                                  absl::ToUnixMicros(absl::Now()) / 1e6),
                  "# HELP pv_batch_duration_seconds Wall time of the last run.\n"
                  "# TYPE pv_batch_duration_seconds gauge\n",
                  absl::StrFormat("pv_batch_duration_seconds %.3f\n", duration_),
                  "# HELP pv_batch_fact_rows Fact rows loaded by the last run.\n"
                  "# TYPE pv_batch_fact_rows gauge\n"
                  "pv_batch_fact_rows ", fact_rows_, "\n");
  if (has_counts_) {
    absl::StrAppend(
        &out,
        "# HELP pv_batch_records_total Records of the last run by outcome.\n"
        "# TYPE pv_batch_records_total gauge\n",
        "pv_batch_records_total{outcome=\"valid\"} ", counts_.valid, "\n",
        "pv_batch_records_total{outcome=\"invalid\"} ", counts_.invalid_total(), "\n",
        "pv_batch_records_total{outcome=\"fact\"} ", counts_.fact_events, "\n",
        "pv_batch_records_total{outcome=\"skipped_no_product\"} ",
        counts_.skipped_no_product, "\n",
        "pv_batch_records_total{outcome=\"other_days\"} ", counts_.other_days, "\n",
        "pv_batch_records_total{outcome=\"tombstone\"} ", counts_.tombstones, "\n",
        "# HELP pv_batch_invalid_records_total Invalid records of the last run by reason.\n"
        "# TYPE pv_batch_invalid_records_total gauge\n");
    for (size_t r = 1; r < counts_.invalid.size(); ++r) {
      absl::StrAppend(&out, "pv_batch_invalid_records_total{reason=\"",
                      event::InvalidName(static_cast<event::Invalid>(r)), "\"} ",
                      counts_.invalid[r], "\n");
    }
    absl::StrAppend(&out,
                    "# HELP pv_batch_input_bytes JSON payload bytes read by the last run.\n"
                    "# TYPE pv_batch_input_bytes gauge\n"
                    "pv_batch_input_bytes ", counts_.payload_bytes, "\n");
  }
  if (has_work_) {
    absl::StrAppend(
        &out,
        "# HELP pv_batch_segments Segments of the last run: new (applied by it), applied "
        "(before it), reread (applied ones read again for stale days), refused (new ones "
        "that would load offsets twice).\n"
        "# TYPE pv_batch_segments gauge\n",
        "pv_batch_segments{kind=\"new\"} ", work_.segments_new, "\n",
        "pv_batch_segments{kind=\"applied\"} ", work_.segments_applied, "\n",
        "pv_batch_segments{kind=\"reread\"} ", work_.segments_reread, "\n",
        "pv_batch_segments{kind=\"refused\"} ", work_.segments_refused, "\n",
        "# HELP pv_batch_bytes_read Segment file bytes the last run read.\n"
        "# TYPE pv_batch_bytes_read gauge\n"
        "pv_batch_bytes_read ", work_.bytes_read, "\n",
        "# HELP pv_batch_days_reloaded Days whose facts the last run replaced.\n"
        "# TYPE pv_batch_days_reloaded gauge\n"
        "pv_batch_days_reloaded ", work_.days_reloaded, "\n",
        "# HELP pv_batch_stale_days Stale days left after the last run (beyond the "
        "lateness horizon: they need an explicit rerun).\n"
        "# TYPE pv_batch_stale_days gauge\n"
        "pv_batch_stale_days ", work_.stale_days_left, "\n",
        "# HELP pv_batch_coverage_issues Holes and overlaps in the offsets of the applied "
        "segments, per partition.\n"
        "# TYPE pv_batch_coverage_issues gauge\n",
        "pv_batch_coverage_issues{kind=\"hole\"} ", work_.holes, "\n",
        "pv_batch_coverage_issues{kind=\"overlap\"} ", work_.overlaps, "\n");
  }
  if (!phases_.empty()) {
    absl::StrAppend(&out,
                    "# HELP pv_batch_phase_seconds Wall time per phase of the last run.\n"
                    "# TYPE pv_batch_phase_seconds gauge\n");
    for (const auto& [phase, seconds] : phases_) {
      absl::StrAppend(&out, absl::StrFormat(
                                "pv_batch_phase_seconds{phase=\"%s\"} %.3f\n",
                                phase, seconds));
    }
  }
  return out;
}

absl::Status MetricsReport::WriteFile(const std::string& path) const {
  return Annotate(WriteFileAtomically(path, ToText()), "metrics file");
}

}  // namespace pv::etl
