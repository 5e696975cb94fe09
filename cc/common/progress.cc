#include "cc/common/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"

namespace pv {
namespace {

constexpr absl::Duration kTtyInterval = absl::Milliseconds(500);
constexpr absl::Duration kLogInterval = absl::Seconds(10);
constexpr absl::Duration kMaxInterval = absl::Hours(1);

// `value` with one decimal and a power-of-1000 suffix from `suffixes`.
std::string ScaleDecimal(double value, const char* const* suffixes,
                         int suffix_count, const char* separator) {
  int i = 0;
  // Round before comparing so that 999.96 prints as "1.0K", not "1000.0".
  while (i + 1 < suffix_count && value >= 999.95) {
    value /= 1000.0;
    ++i;
  }
  return absl::StrFormat("%.1f%s%s", value, separator, suffixes[i]);
}

std::string HumanByteRate(double bytes_per_second) {
  static constexpr const char* kSuffixes[] = {"B/s", "KB/s", "MB/s", "GB/s",
                                              "TB/s"};
  return ScaleDecimal(bytes_per_second, kSuffixes, 5, " ");
}

// 42s, 3m05s, 1h02m: coarse enough to read at a glance.
std::string HumanDuration(double seconds) {
  uint64_t s = static_cast<uint64_t>(std::ceil(std::max(seconds, 0.0)));
  if (s < 60) return absl::StrCat(s, "s");
  if (s < 3600) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
}

void WriteStderr(absl::string_view text) {
  while (!text.empty()) {
    ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
    if (n <= 0) return;
    text.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

std::string HumanCount(uint64_t n) {
  if (n < 1000) return absl::StrCat(n);
  static constexpr const char* kSuffixes[] = {"", "K", "M", "G", "T", "P", "E"};
  return ScaleDecimal(static_cast<double>(n), kSuffixes, 7, "");
}

std::string FormatProgressLine(absl::string_view what, absl::string_view unit,
                               uint64_t units, uint64_t bytes, uint64_t total,
                               absl::Duration elapsed) {
  std::string line = absl::StrCat(what, ": ", HumanCount(units));
  if (total > 0) absl::StrAppend(&line, "/", HumanCount(total));
  absl::StrAppend(&line, " ", unit);
  if (total > 0) {
    double percent = 100.0 * static_cast<double>(units) / total;
    absl::StrAppend(&line, absl::StrFormat(" %.1f%%", percent));
  }
  const double seconds = absl::ToDoubleSeconds(elapsed);
  if (seconds > 0) {
    const double rate = units / seconds;
    absl::StrAppend(&line, ", ", HumanCount(static_cast<uint64_t>(rate)), " ",
                    unit, "/s");
    if (bytes > 0) absl::StrAppend(&line, ", ", HumanByteRate(bytes / seconds));
    if (total > units && rate > 0) {
      absl::StrAppend(&line, ", ETA ", HumanDuration((total - units) / rate));
    }
    absl::StrAppend(&line, ", ", HumanDuration(seconds), " elapsed");
  }
  return line;
}

Progress::Progress(absl::string_view what, absl::string_view unit,
                   uint64_t total)
    : Progress(what, unit, total, Options()) {}

Progress::Progress(absl::string_view what, absl::string_view unit,
                   uint64_t total, Options options)
    : what_(what),
      unit_(unit),
      total_(total),
      tty_(options.tty.has_value() ? *options.tty
                                   : ::isatty(STDERR_FILENO) == 1),
      interval_(options.interval > absl::ZeroDuration()
                    ? std::min(options.interval, kMaxInterval)
                    : (tty_ ? kTtyInterval : kLogInterval)),
      sink_(std::move(options.sink)),
      detail_(std::move(options.detail)),
      start_(absl::Now()),
      thread_([this] { Run(); }) {}

Progress::~Progress() { Finish(); }

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  stop_requested_.notify_one();
  thread_.join();
  Report(/*final_report=*/true);
}

void Progress::Run() {
  const auto interval = absl::ToChronoNanoseconds(interval_);
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_requested_.wait_for(lock, interval, [this] { return stop_; })) {
    lock.unlock();
    Report(/*final_report=*/false);
    lock.lock();
  }
}

void Progress::Report(bool final_report) {
  std::string line = FormatProgressLine(what_, unit_, units(), bytes(), total_,
                                        absl::Now() - start_);
  if (detail_) absl::StrAppend(&line, ", ", detail_());
  if (!tty_) {
    if (final_report) line = absl::StrCat(line, " (done)");
    if (sink_) {
      sink_(line);
    } else {
      PV_LOG(INFO) << line;
    }
    return;
  }
  const size_t length = line.size();
  // Blank what a longer previous line left behind on the terminal.
  std::string text = absl::StrCat(
      "\r", line, std::string(last_line_length_ > length
                                  ? last_line_length_ - length
                                  : 0,
                              ' '),
      final_report ? "\n" : "");
  last_line_length_ = length;
  if (sink_) {
    sink_(text);
  } else {
    WriteStderr(text);
  }
}

}  // namespace pv
