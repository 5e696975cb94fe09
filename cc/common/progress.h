// Progress reporting for long work (consuming, exporting, loading).
//
//   pv::Progress progress("batch", "records", total_records);
//   // from any number of worker threads, once per block:
//   progress.Add(block.record_count(), block.compressed_bytes());
//   ...
//   progress.Finish();
//
// A background thread reports. On a terminal (isatty(stderr)) it rewrites one
// live line with '\r' every 0.5 s; otherwise (logs, systemd, CI) it writes a
// PV_LOG(INFO) line every 10 s. Finish() prints the final line.
//
//   batch: 1.2M records 45.6K records/s 345.6 MB/s 12.3% ETA 1m05s
#ifndef PV_COMMON_PROGRESS_H_
#define PV_COMMON_PROGRESS_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pv {

// 1234 -> "1.2K", 1234567 -> "1.2M", 999 -> "999" (powers of 1000).
std::string HumanCount(uint64_t n);

// One progress line, without '\r' or newline: what, units done (and of total),
// units/s and MB/s when `elapsed` > 0, percent and ETA when `total` > 0.
// Rates are averages over `elapsed`. `bytes` == 0 omits the MB/s figure.
std::string FormatProgressLine(absl::string_view what, absl::string_view unit,
                               uint64_t units, uint64_t bytes, uint64_t total,
                               absl::Duration elapsed);

class Progress {
 public:
  struct Options {
    // Live '\r' line (true) or periodic log lines (false). Unset: decided by
    // isatty(STDERR_FILENO).
    std::optional<bool> tty;
    // Time between reports. Zero: 0.5 s on a terminal, 10 s otherwise.
    // Capped at one hour.
    absl::Duration interval = absl::ZeroDuration();
    // Receives each report. On a terminal it gets "\r<line>" with trailing
    // spaces that blank a longer previous line, and the final report ends
    // with '\n'; otherwise it gets the bare line. Unset: a terminal report is
    // written to stderr, a log report goes to PV_LOG(INFO). Called from the
    // reporting thread and from Finish(), never concurrently.
    std::function<void(absl::string_view)> sink;
    // Extra figures appended to every line after a space, e.g. "lag 1.2K in
    // flight 30" (the mirror). Called from the reporting thread and from
    // Finish(), never concurrently with itself: it must read thread-safe
    // state (atomics).
    std::function<std::string()> detail;
  };

  // `total` is the expected number of units; 0 means unknown (no percent, no
  // ETA). Starts the reporting thread.
  Progress(absl::string_view what, absl::string_view unit, uint64_t total = 0);
  Progress(absl::string_view what, absl::string_view unit, uint64_t total,
           Options options);
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Calls Finish() if it was not called.
  ~Progress();

  // Counts work done. Thread-safe and cheap (two relaxed atomic adds): call it
  // per block from any number of threads, also after Finish() (not reported).
  void Add(uint64_t units, uint64_t bytes = 0) {
    units_.fetch_add(units, std::memory_order_relaxed);
    if (bytes != 0) bytes_.fetch_add(bytes, std::memory_order_relaxed);
  }

  // Stops the reporting thread and reports the final line once. Idempotent.
  // Must not be called concurrently with itself or the destructor.
  void Finish();

  uint64_t units() const { return units_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }

 private:
  void Run();
  void Report(bool final_report);

  const std::string what_;
  const std::string unit_;
  const uint64_t total_;
  const bool tty_;
  const absl::Duration interval_;
  const std::function<void(absl::string_view)> sink_;
  const std::function<std::string()> detail_;
  const absl::Time start_;

  std::atomic<uint64_t> units_{0};
  std::atomic<uint64_t> bytes_{0};

  // std::mutex rather than absl::Mutex: Debian's Abseil is not built with
  // TSan, so TSan cannot see absl::Mutex synchronize; it does see pthreads.
  std::mutex mu_;
  std::condition_variable stop_requested_;
  bool stop_ = false;  // guarded by mu_
  size_t last_line_length_ = 0;  // only touched by the reporting side
  bool finished_ = false;
  std::thread thread_;  // last: started after everything above is set
};

}  // namespace pv

#endif  // PV_COMMON_PROGRESS_H_
