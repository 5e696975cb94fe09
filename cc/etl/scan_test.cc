// The parallel scan without a database: thread counts agree, invalid records
// are counted by reason and quarantined, dates are selected as documented.
// Tagged "tsan": tools/test.sh also runs it under ThreadSanitizer.
#include "cc/etl/scan.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cc/etl/test_support.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

std::string TempDir(const std::string& name) {
  std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                                 "/", name, "-", getpid());
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

class ScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("scan");
    datagen::GeneratorOptions o;
    o.events = 20000;
    o.days = 3;
    o.seed = 7;
    o.rate_messy = 0.2;
    records_ = testing::GenerateRecords(o, "2020-06-03");
    auto paths = testing::WriteSegments(dir_, records_, 7000);
    ASSERT_TRUE(paths.ok()) << paths.status();
    paths_ = *paths;
  }
  ScanResult MustScan(int threads, DateSelection dates,
                      QuarantineWriter* q = nullptr) {
    ScanOptions options;
    options.segments = paths_;
    options.threads = threads;
    options.dates = dates;
    options.quarantine = q;
    auto r = Scan(options);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? std::move(*r) : ScanResult();
  }
  std::string dir_;
  std::vector<std::string> records_;
  std::vector<std::string> paths_;
};

TEST_F(ScanTest, ThreadCountsGiveTheSameStarSchema) {
  ScanResult one = MustScan(1, DateSelection::Latest());
  ScanResult two = MustScan(2, DateSelection::Latest());
  ScanResult four = MustScan(4, DateSelection::Latest());
  ASSERT_FALSE(one.batch.facts.empty());
  EXPECT_EQ(testing::CanonicalText(one.batch), testing::CanonicalText(two.batch));
  EXPECT_EQ(testing::CanonicalText(one.batch), testing::CanonicalText(four.batch));
  EXPECT_EQ(one.counts.fact_events, four.counts.fact_events);
  EXPECT_EQ(one.counts.other_days, four.counts.other_days);
  EXPECT_EQ(one.counts.skipped_no_product, four.counts.skipped_no_product);
}

TEST_F(ScanTest, LatestModeLoadsOnlyTheLatestDay) {
  ScanResult r = MustScan(2, DateSelection::Latest());
  ASSERT_EQ(r.batch.fact_days.size(), 1u);
  EXPECT_EQ(r.batch.days.size(), 3u);  // dimensions see every day
  EXPECT_EQ(r.batch.fact_days[0], r.batch.days.back());
  for (const auto& f : r.batch.facts) EXPECT_EQ(f.day, r.batch.fact_days[0]);
  // Every valid record is accounted for exactly once.
  EXPECT_EQ(r.counts.valid, r.counts.fact_events + r.counts.skipped_no_product +
                                r.counts.other_days);
  EXPECT_EQ(r.counts.records, records_.size());
  EXPECT_EQ(r.counts.records, r.counts.valid + r.counts.invalid_total());
  uint64_t in_facts = 0;
  for (const auto& f : r.batch.facts) in_facts += f.view_count;
  EXPECT_EQ(in_facts, r.counts.fact_events);
}

TEST_F(ScanTest, RangeModeAndDecodingRules) {
  ScanResult r = MustScan(2, DateSelection::Range(18414, 18416));
  EXPECT_EQ(r.batch.fact_days, (std::vector<int32_t>{18414, 18415, 18416}));
  EXPECT_EQ(r.counts.other_days, 0u);
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  EXPECT_TRUE(has(r.batch.products, "123"));
  EXPECT_TRUE(has(r.batch.products, "pé"));
  EXPECT_FALSE(has(r.batch.products, "p\\u00e9"));
  EXPECT_TRUE(has(r.batch.products, "abc"));  // {"$oid": "abc"}
  EXPECT_TRUE(has(r.batch.referrers, "https://www.google.de/search"));
  EXPECT_EQ(r.batch.products[0], "");
  // "123" as a number and as a string, same store and device: one fact row
  // with two views.
  bool found = false;
  for (const auto& f : r.batch.facts) {
    if (r.batch.products[f.product] == "123" && r.batch.devices[f.device] == "d-1") {
      EXPECT_EQ(f.view_count, 2);
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(ScanTest, InvalidRecordsAreCountedAndQuarantinedWithCoordinates) {
  std::string qdir = dir_ + "/quarantine";
  QuarantineWriter q(qdir, "test");
  ScanResult r = MustScan(2, DateSelection::Latest(), &q);
  ASSERT_TRUE(q.Close().ok());
  uint64_t invalid = r.counts.invalid_total();
  EXPECT_GT(invalid, 7u);  // the 7 hand-written ones at least
  for (size_t k = 1; k < r.counts.invalid.size(); ++k) {
    EXPECT_GT(r.counts.invalid[k], 0u) << event::InvalidName(static_cast<event::Invalid>(k));
  }
  std::ifstream in(q.path());
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> lines = absl::StrSplit(ss.str(), '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), invalid);
  EXPECT_NE(ss.str().find("\"reason\":\"bad_local_time\""), std::string::npos);
  EXPECT_NE(ss.str().find("\"partition\":"), std::string::npos);
  EXPECT_NE(ss.str().find(".pvseg\",\"block\":"), std::string::npos);
}

TEST_F(ScanTest, TombstonesAreCountedApartAndNeverQuarantined) {
  const std::string dir = TempDir("tombstones");
  std::vector<std::string> records = {
      "", R"({"local_time":"2020-06-01 10:00:00","product_id":"1"})", "", "{not json", ""};
  auto paths = testing::WriteSegments(dir, records, 100);
  ASSERT_TRUE(paths.ok()) << paths.status();
  QuarantineWriter q(dir + "/quarantine", "test");
  ScanOptions options;
  options.segments = *paths;
  options.dates = DateSelection::All();
  options.quarantine = &q;
  auto r = Scan(options);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(q.Close().ok());
  EXPECT_EQ(r->counts.records, 5u);
  EXPECT_EQ(r->counts.tombstones, 3u);
  EXPECT_EQ(r->counts.valid, 1u);
  EXPECT_EQ(r->counts.invalid_total(), 1u);
  std::ifstream in(q.path());
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(ss.str(), '\n', absl::SkipEmpty())).size(),
            1u);
}

TEST_F(ScanTest, CorruptSegmentFailsTheScanNamingTheFile) {
  // Flip a byte in the middle of the first segment.
  std::fstream f(paths_[0], std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(4096);
  char c = 0;
  f.read(&c, 1);
  f.seekp(4096);
  c = static_cast<char>(c ^ 0x5a);
  f.write(&c, 1);
  f.close();
  ScanOptions options;
  options.segments = paths_;
  options.threads = 2;
  auto r = Scan(options);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(paths_[0]), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("block"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace pv::etl
