// The batch run policy without a database: a fake warehouse records what the
// policy asks of it, and the exit code, the metrics file, the quarantine and
// the summary are checked for each way a run can end.
#include "cc/etl/batch_run.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/common/shutdown.h"
#include "cc/etl/test_support.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string MakeTempDir() {
  std::string base = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string templ = absl::StrCat(base, "/batch_run_test.XXXXXX");
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the policy asked of the warehouse, and the record it keeps across
// runs as the real one does.
struct WarehouseLog {
  int connects = 0;
  int loads = 0;
  size_t fact_rows_loaded = 0;
  std::vector<int32_t> last_fact_days;
  std::vector<std::string> failures;  // the error of each RecordFailure
  std::vector<std::string> failure_counts;
  std::vector<std::string> works;  // RunDescription::work_json of every load
  warehouse::WarehouseRecord record;
};

class FakeWarehouse : public BatchWarehouse {
 public:
  FakeWarehouse(WarehouseLog* log, absl::Status load_result)
      : log_(log), load_result_(std::move(load_result)) {}
  absl::StatusOr<warehouse::WarehouseRecord> ReadRecord(bool) override {
    return log_->record;
  }
  absl::StatusOr<warehouse::LoadStats> Load(const star::StarBatch& batch,
                                            const warehouse::RunDescription& run,
                                            const warehouse::RecordUpdate& update) override {
    ++log_->loads;
    if (!load_result_.ok()) return load_result_;
    log_->fact_rows_loaded += batch.facts.size();
    log_->last_fact_days = batch.fact_days;
    log_->works.push_back(run.work_json);
    auto loaded = [&](int32_t d) {
      return std::binary_search(batch.fact_days.begin(), batch.fact_days.end(), d);
    };
    for (warehouse::AppliedSegment& a : log_->record.segments) {
      std::vector<int32_t> still;
      for (int32_t d : a.unloaded_days) {
        if (!loaded(d)) still.push_back(d);
      }
      a.unloaded_days = still;
    }
    for (warehouse::AppliedSegment a : update.new_segments) {
      for (const auto& [d, n] : a.day_events) {
        if (!loaded(d)) a.unloaded_days.push_back(d);
      }
      log_->record.segments.push_back(std::move(a));
    }
    std::sort(log_->record.segments.begin(), log_->record.segments.end(),
              [](const auto& x, const auto& y) { return x.name < y.name; });
    warehouse::LoadStats stats;
    stats.run_id = 7;
    stats.fact_rows = static_cast<int64_t>(batch.facts.size());
    return stats;
  }
  absl::Status RecordFailure(const warehouse::RunDescription& run, const std::vector<int32_t>&,
                             absl::string_view error) override {
    log_->works.push_back(run.work_json);
    log_->failures.emplace_back(error);
    log_->failure_counts.push_back(run.counts_json);
    return absl::OkStatus();
  }

 private:
  WarehouseLog* log_;
  absl::Status load_result_;
};

class BatchRunTest : public ::testing::Test {
 protected:
  // Segments of `events` generated events plus the hand-written messy records
  // (which hold 7 invalid ones).
  void WriteInput(int64_t events) {
    datagen::GeneratorOptions g;
    g.events = events;
    g.days = 2;
    g.rate_not_json = g.rate_not_object = g.rate_bad_time = g.rate_missing_time = 0;
    std::vector<std::string> records = testing::GenerateRecords(g, "2020-06-01");
    ASSERT_TRUE(testing::WriteSegments(segments_, records, 500).ok());
    records_ = records.size();
  }

  BatchOptions Options(absl::Status load_result = absl::OkStatus(),
                       absl::Status connect_result = absl::OkStatus()) {
    BatchOptions o;
    o.segments_dir = segments_;
    o.quarantine_dir = quarantine_;
    o.metrics_file = metrics_;
    o.threads = 2;
    o.summary = summary_file_;
    o.connect = [this, load_result,
                 connect_result]() -> absl::StatusOr<std::unique_ptr<BatchWarehouse>> {
      ++log_.connects;
      if (!connect_result.ok()) return connect_result;
      return std::unique_ptr<BatchWarehouse>(new FakeWarehouse(&log_, load_result));
    };
    return o;
  }

  std::string Summary() {
    std::fflush(summary_file_);
    return ReadFile(summary_path_);
  }

  void SetUp() override { summary_file_ = std::fopen(summary_path_.c_str(), "w"); }
  void TearDown() override { std::fclose(summary_file_); }

  std::string root_ = MakeTempDir();
  std::string segments_ = root_ + "/segments";
  std::string quarantine_ = root_ + "/quarantine";
  std::string metrics_ = root_ + "/batch.prom";
  std::string summary_path_ = root_ + "/summary.txt";
  std::FILE* summary_file_ = nullptr;
  size_t records_ = 0;
  WarehouseLog log_;

 private:
  int made_ = std::system(("mkdir -p " + root_ + "/segments").c_str());
};

// An unwritable quarantine fails the run before the scan, however clean
// the records (not at the first invalid one, mid-scan), and says why.
TEST_F(BatchRunTest, AnUnwritableQuarantineFailsBeforeTheScan) {
  WriteInput(300);
  ASSERT_EQ(std::system(("touch " + root_ + "/a-file").c_str()), 0);
  BatchOptions o = Options();
  o.quarantine_dir = root_ + "/a-file/quarantine";  // a directory under a file
  EXPECT_EQ(RunBatch(o), kExitFailed);
  EXPECT_EQ(log_.loads, 0);
  const std::string metrics = ReadFile(metrics_);
  EXPECT_THAT(metrics, HasSubstr("pv_batch_success 0"));
  EXPECT_THAT(metrics, ::testing::Not(HasSubstr("pv_batch_records_total")));  // no scan
  ASSERT_EQ(log_.failures.size(), 1u);
  EXPECT_THAT(log_.failures[0], HasSubstr("a-file/quarantine is not writable"));
  EXPECT_THAT(log_.failures[0], HasSubstr("PV_QUARANTINE_DIR"));
}

TEST_F(BatchRunTest, ASuccessfulRunLoadsOnceAndReportsSuccess) {
  WriteInput(3000);
  EXPECT_EQ(RunBatch(Options()), kExitOk);
  EXPECT_EQ(log_.connects, 1);
  EXPECT_EQ(log_.loads, 1);
  EXPECT_GT(log_.fact_rows_loaded, 0u);
  EXPECT_TRUE(log_.failures.empty());
  const std::string metrics = ReadFile(metrics_);
  EXPECT_THAT(metrics, HasSubstr("pv_batch_success 1"));
  EXPECT_THAT(metrics, HasSubstr(absl::StrCat("pv_batch_records_total{outcome=\"invalid\"} 7")));
  EXPECT_THAT(Summary(), HasSubstr("run 7 committed"));
  // The invalid records are quarantined, one line each.
  const std::string quarantined = ReadFile(quarantine_ + "/" + [&] {
    std::string cmd = "ls " + quarantine_ + " > " + root_ + "/q.txt";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    std::string name = ReadFile(root_ + "/q.txt");
    return name.substr(0, name.find('\n'));
  }());
  EXPECT_EQ(std::count(quarantined.begin(), quarantined.end(), '\n'), 7);
}

TEST_F(BatchRunTest, TooManyInvalidRecordsLoadNothingRecordAFailureAndExit3) {
  WriteInput(100);  // 7 invalid of ~115: far above 1 %
  EXPECT_EQ(RunBatch(Options()), kExitTooManyInvalid);
  EXPECT_EQ(log_.loads, 0);
  ASSERT_EQ(log_.failures.size(), 1u);
  EXPECT_THAT(log_.failures[0], HasSubstr("--max-invalid-ratio"));
  EXPECT_THAT(log_.failure_counts[0], HasSubstr("\"not_json\":"));
  EXPECT_THAT(ReadFile(metrics_), HasSubstr("pv_batch_success 0"));

  // The same input passes with a ratio that allows it.
  BatchOptions lenient = Options();
  lenient.max_invalid_ratio = 0.5;
  EXPECT_EQ(RunBatch(lenient), kExitOk);
  EXPECT_EQ(log_.loads, 1);
}

TEST_F(BatchRunTest, AFailedLoadIsRecordedAndExits1) {
  WriteInput(2000);
  EXPECT_EQ(RunBatch(Options(absl::UnavailableError("server closed the connection"))),
            kExitFailed);
  EXPECT_EQ(log_.loads, 1);
  ASSERT_EQ(log_.failures.size(), 1u);
  EXPECT_THAT(log_.failures[0], HasSubstr("server closed the connection"));
  EXPECT_THAT(ReadFile(metrics_), HasSubstr("pv_batch_success 0"));
  EXPECT_THAT(Summary(), Not(HasSubstr("committed")));
}

TEST_F(BatchRunTest, AnUnreachableWarehouseFailsBeforeTheScan) {
  WriteInput(2000);
  EXPECT_EQ(RunBatch(Options(absl::OkStatus(), absl::UnauthenticatedError("password"))),
            kExitFailed);
  EXPECT_EQ(log_.connects, 1);
  EXPECT_EQ(log_.loads, 0);
  EXPECT_TRUE(log_.failures.empty());  // nowhere to record it
  // No scan happened: no quarantine file was written.
  EXPECT_NE(std::system(("ls " + quarantine_ + "/* >/dev/null 2>&1").c_str()), 0);
}

TEST_F(BatchRunTest, NoSegmentsIsAnErrorAndNoLoadScansOnly) {
  EXPECT_EQ(RunBatch(Options()), kExitFailed);  // empty directory
  EXPECT_EQ(log_.connects, 0);
  WriteInput(2000);
  BatchOptions dry = Options();
  dry.connect = nullptr;  // --noload
  EXPECT_EQ(RunBatch(dry), kExitOk);
  EXPECT_EQ(log_.loads, 0);
  EXPECT_THAT(Summary(), HasSubstr("dry run (--noload)"));
}

TEST_F(BatchRunTest, AShutdownRequestInterruptsWithExit130AndIsRecorded) {
  WriteInput(2000);
  RequestShutdown();
  EXPECT_EQ(RunBatch(Options()), kExitInterrupted);
  EXPECT_EQ(log_.loads, 0);
  ASSERT_EQ(log_.failures.size(), 1u);
  EXPECT_THAT(log_.failures[0], HasSubstr("interrupted"));
}

}  // namespace
}  // namespace pv::etl
