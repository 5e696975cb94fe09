#include "cc/common/progress.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST(HumanCountTest, PowersOfThousand) {
  EXPECT_EQ(HumanCount(0), "0");
  EXPECT_EQ(HumanCount(999), "999");
  EXPECT_EQ(HumanCount(1000), "1.0K");
  EXPECT_EQ(HumanCount(1234), "1.2K");
  EXPECT_EQ(HumanCount(999960), "1.0M");  // not "1000.0K"
  EXPECT_EQ(HumanCount(1234567), "1.2M");
  EXPECT_EQ(HumanCount(3456789012ULL), "3.5G");
}

TEST(FormatProgressLineTest, KnownTotalHasPercentRatesAndEta) {
  // 1.2M of 12M records in 10 s: 120K/s, 3456 MB in 10 s: 345.6 MB/s,
  // 10.8M left at 120K/s: 90 s.
  EXPECT_EQ(FormatProgressLine("batch", "records", 1200000, 3456000000ULL,
                               12000000, absl::Seconds(10)),
            "batch: 1.2M/12.0M records 10.0%, 120.0K records/s, 345.6 MB/s, "
            "ETA 1m30s, 10s elapsed");
}

TEST(FormatProgressLineTest, UnknownTotalHasNoPercentOrEta) {
  EXPECT_EQ(FormatProgressLine("consume", "messages", 500, 0, 0,
                               absl::Seconds(2)),
            "consume: 500 messages, 250 messages/s, 2s elapsed");
}

TEST(FormatProgressLineTest, ZeroElapsedHasNoRates) {
  EXPECT_EQ(FormatProgressLine("load", "rows", 0, 0, 100, absl::ZeroDuration()),
            "load: 0/100 rows 0.0%");
}

TEST(FormatProgressLineTest, LongEtaInHours) {
  // 1 of 7201 units per second: 7200 s left.
  EXPECT_THAT(FormatProgressLine("x", "u", 10, 0, 7210, absl::Seconds(10)),
              HasSubstr("ETA 2h00m"));
}

TEST(FormatProgressLineTest, SmallByteRates) {
  EXPECT_THAT(FormatProgressLine("x", "u", 1, 512, 0, absl::Seconds(1)),
              HasSubstr("512.0 B/s"));
  EXPECT_THAT(FormatProgressLine("x", "u", 1, 2500000000ULL, 0,
                                 absl::Seconds(1)),
              HasSubstr("2.5 GB/s"));
}

// Collects what a Progress reports. std::mutex, not absl::Mutex, so that
// TSan sees the synchronization (Debian's Abseil is not TSan-instrumented).
class Collector {
 public:
  std::function<void(absl::string_view)> Sink() {
    return [this](absl::string_view s) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.emplace_back(s);
      }
      added_.notify_all();
    };
  }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }
  // Blocks until `n` reports arrived (no deadline: the test asserts no time).
  void WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    added_.wait(lock, [&] { return lines_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable added_;
  std::vector<std::string> lines_;  // guarded by mu_
};

Progress::Options TestOptions(bool tty, Collector& collector) {
  Progress::Options options;
  options.tty = tty;
  options.interval = absl::Milliseconds(1);
  options.sink = collector.Sink();
  return options;
}

TEST(ProgressTest, LogModeReportsPlainLinesAndFinalLine) {
  Collector collector;
  Progress progress("export", "records", 0, TestOptions(false, collector));
  progress.Add(7, 700);
  collector.WaitFor(2);  // periodic reports happen without Finish()
  progress.Add(3);
  progress.Finish();
  std::vector<std::string> lines = collector.Lines();
  ASSERT_GE(lines.size(), 3u);
  for (const std::string& line : lines) {
    EXPECT_THAT(line, StartsWith("export: "));
    EXPECT_THAT(line, Not(HasSubstr("\r")));
    EXPECT_THAT(line, Not(HasSubstr("\n")));
  }
  EXPECT_THAT(lines.back(), StartsWith("export: 10 records,"));
  EXPECT_THAT(lines.back(), EndsWith("(done)"));
}

TEST(ProgressTest, TtyModeRewritesOneLineAndEndsWithNewline) {
  Collector collector;
  Progress progress("batch", "records", 100, TestOptions(true, collector));
  progress.Add(50);
  collector.WaitFor(1);
  progress.Add(50);
  progress.Finish();
  std::vector<std::string> lines = collector.Lines();
  ASSERT_GE(lines.size(), 2u);
  size_t previous_text_length = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_THAT(lines[i], StartsWith("\rbatch: "));
    if (i + 1 < lines.size()) {
      EXPECT_THAT(lines[i], Not(HasSubstr("\n")));
    }
    // Each rewrite covers the whole previous text, padding with spaces.
    std::string shown = lines[i].substr(1);
    if (!shown.empty() && shown.back() == '\n') shown.pop_back();
    EXPECT_GE(shown.size(), previous_text_length) << i;
    previous_text_length = shown.find_last_not_of(' ') + 1;
  }
  EXPECT_THAT(lines.back(), StartsWith("\rbatch: 100/100 records 100.0%"));
  EXPECT_THAT(lines.back(), EndsWith("\n"));
}

TEST(ProgressTest, DetailIsAppendedToEveryLine) {
  Collector collector;
  Progress::Options options = TestOptions(false, collector);
  std::atomic<int> lag{5};
  options.detail = [&lag] { return absl::StrCat("lag ", lag.load()); };
  Progress progress("mirror", "messages", 0, options);
  progress.Add(1);
  collector.WaitFor(1);
  lag = 0;
  progress.Finish();
  std::vector<std::string> lines = collector.Lines();
  ASSERT_GE(lines.size(), 2u);
  for (const std::string& line : lines) EXPECT_THAT(line, HasSubstr(" lag ")) << line;
  EXPECT_THAT(lines.back(), HasSubstr("lag 0 (done)"));
}

TEST(ProgressTest, FinishIsIdempotentAndDestructorFinishes) {
  Collector collector;
  Progress::Options options = TestOptions(false, collector);
  options.interval = absl::Hours(1);
  {
    Progress progress("p", "u", 0, options);
    progress.Add(1);
  }  // destructor reports once
  EXPECT_EQ(collector.Lines().size(), 1u);
  {
    Progress progress("q", "u", 0, options);
    progress.Finish();
    progress.Finish();
  }
  EXPECT_EQ(collector.Lines().size(), 2u);
}

TEST(ProgressTest, ConcurrentAddsAreAllCounted) {
  Collector collector;
  Progress progress("p", "blocks", 0, TestOptions(false, collector));
  std::vector<std::thread> workers;
  for (int t = 0; t < 4; ++t) {
    workers.emplace_back([&progress] {
      for (int i = 0; i < 10000; ++i) progress.Add(1, 4096);
    });
  }
  for (std::thread& w : workers) w.join();
  progress.Finish();
  EXPECT_EQ(progress.units(), 40000u);
  EXPECT_EQ(progress.bytes(), 40000u * 4096u);
  EXPECT_THAT(collector.Lines().back(), StartsWith("p: 40.0K blocks,"));
}

TEST(ProgressTest, DefaultSinkWritesWithoutCrashing) {
  Progress::Options options;
  options.tty = false;
  options.interval = absl::Hours(1);
  Progress progress("default-sink", "u", 0, options);
  progress.Add(1);
}

}  // namespace
}  // namespace pv
