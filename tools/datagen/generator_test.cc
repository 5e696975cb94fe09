#include "tools/datagen/generator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/event/event.h"
#include "gtest/gtest.h"

namespace pv::datagen {
namespace {

std::string Generate(const GeneratorOptions& options) {
  EventGenerator generator(options);
  std::string out;
  while (generator.remaining() > 0) {
    generator.AppendNext(&out);
    out.push_back('\n');
  }
  return out;
}

event::Invalid ExpectedReason(RecordKind kind) {
  switch (kind) {
    case RecordKind::kNotJson:
      return event::Invalid::kNotJson;
    case RecordKind::kNotObject:
      return event::Invalid::kNotObject;
    case RecordKind::kBadTime:
      return event::Invalid::kBadLocalTime;
    case RecordKind::kMissingTime:
      return event::Invalid::kMissingLocalTime;
    default:
      return event::Invalid::kOk;
  }
}

TEST(GeneratorTest, SameSeedSameBytesOtherSeedOtherBytes) {
  GeneratorOptions options;
  options.events = 3000;
  options.rate_messy = 0.2;
  options.rate_not_json = options.rate_not_object = 0.01;
  const std::string first = Generate(options);
  EXPECT_EQ(first, Generate(options));
  options.seed = 43;
  EXPECT_NE(first, Generate(options));
}

TEST(GeneratorTest, ValidatesOptions) {
  GeneratorOptions options;
  EXPECT_TRUE(ValidateOptions(options).ok());
  options.rate_messy = 1.5;
  EXPECT_FALSE(ValidateOptions(options).ok());
  options.rate_messy = 0.6;
  options.rate_bad_time = 0.6;
  EXPECT_FALSE(ValidateOptions(options).ok());
  options = GeneratorOptions();
  options.days = 0;
  EXPECT_FALSE(ValidateOptions(options).ok());
}

// Parses every record of `options` and checks its verdict against the kind
// the generator meant; returns the count per kind.
std::vector<int64_t> ParseAll(const GeneratorOptions& options) {
  std::vector<int64_t> counts(static_cast<int>(RecordKind::kCount));
  EventGenerator generator(options);
  event::EventParser parser;
  const int64_t first_second = static_cast<int64_t>(options.start_day) * 86400;
  const int64_t end_second = first_second + options.days * int64_t{86400};
  std::string record;
  while (generator.remaining() > 0) {
    record.clear();
    const RecordKind kind = generator.AppendNext(&record);
    ++counts[static_cast<int>(kind)];
    EXPECT_EQ(record.find('\n'), std::string::npos);
    const size_t size = record.size();
    record.append(event::kPadding, '\0');
    event::Event e;
    const event::Invalid reason =
        parser.Parse(absl::string_view(record.data(), size), &e);
    EXPECT_EQ(reason, ExpectedReason(kind))
        << RecordKindName(kind) << ": " << parser.error_detail() << "\n"
        << record.substr(0, size);
    if (reason != event::Invalid::kOk) continue;
    EXPECT_GE(e.local_time, first_second);
    EXPECT_LT(e.local_time, end_second);
    EXPECT_TRUE(e.has_time_stamp);
    EXPECT_FALSE(absl::StrContains(e.referrer_url, "\\"));
    EXPECT_FALSE(absl::StrContains(e.current_url, "\\"));
    if (kind == RecordKind::kClean) {
      EXPECT_FALSE(e.product_id.empty());
      EXPECT_FALSE(e.device_id.empty());
      EXPECT_FALSE(e.user_agent.empty());
      EXPECT_EQ(e.id.size(), 24u);
      EXPECT_TRUE(absl::StartsWith(e.current_url, "https://www.glamira"))
          << e.current_url;
    }
  }
  return counts;
}

TEST(GeneratorTest, DefaultRatesOver20kRecords) {
  GeneratorOptions options;
  options.events = 20000;
  options.days = 3;
  const std::vector<int64_t> counts = ParseAll(options);
  // Expected 20 of each invalid kind (sd ~4.5) and 1000 messy (sd ~31).
  for (RecordKind kind : {RecordKind::kNotJson, RecordKind::kNotObject,
                          RecordKind::kBadTime, RecordKind::kMissingTime}) {
    EXPECT_GE(counts[static_cast<int>(kind)], 5) << RecordKindName(kind);
    EXPECT_LE(counts[static_cast<int>(kind)], 45) << RecordKindName(kind);
  }
  EXPECT_NEAR(counts[static_cast<int>(RecordKind::kMessy)], 1000, 150);
}

TEST(GeneratorTest, HighRatesMatchRequestedShares) {
  GeneratorOptions options;
  options.events = 20000;
  options.seed = 7;
  options.rate_not_json = 0.05;
  options.rate_not_object = 0.04;
  options.rate_bad_time = 0.03;
  options.rate_missing_time = 0.02;
  options.rate_messy = 0.30;
  const std::vector<int64_t> counts = ParseAll(options);
  auto near = [&](RecordKind kind, double rate) {
    const double expected = rate * options.events;
    EXPECT_NEAR(counts[static_cast<int>(kind)], expected,
                5 * std::sqrt(expected) + 1)
        << RecordKindName(kind);
  };
  near(RecordKind::kNotJson, 0.05);
  near(RecordKind::kNotObject, 0.04);
  near(RecordKind::kBadTime, 0.03);
  near(RecordKind::kMissingTime, 0.02);
  near(RecordKind::kMessy, 0.30);
}

TEST(GeneratorTest, ZeroRatesGiveOnlyCleanRecords) {
  GeneratorOptions options;
  options.events = 2000;
  options.rate_not_json = options.rate_not_object = options.rate_bad_time =
      options.rate_missing_time = options.rate_messy = 0;
  const std::vector<int64_t> counts = ParseAll(options);
  EXPECT_EQ(counts[static_cast<int>(RecordKind::kClean)], 2000);
}

TEST(GeneratorTest, RecordsAreAbout800Bytes) {
  GeneratorOptions options;
  options.events = 5000;
  const std::string out = Generate(options);
  const double average = static_cast<double>(out.size()) / options.events;
  EXPECT_GT(average, 600);
  EXPECT_LT(average, 1200);
}

TEST(GeneratorTest, MessyRecordsUseEveryEncoding) {
  GeneratorOptions options;
  options.events = 4000;
  options.rate_messy = 1.0;
  options.rate_not_json = options.rate_not_object = options.rate_bad_time =
      options.rate_missing_time = 0;
  const std::string out = Generate(options);
  for (const char* needle :
       {"\"product_id\":1", "\"store_id\":", "\"product_id\":{\"$oid\":",
        "\"_id\":\"", ":null", ":\"\"", "https:\\/\\/", "\\u00", "\xc3",
        "\"time_stamp\":\"", "&ved="}) {
    EXPECT_TRUE(absl::StrContains(out, needle)) << needle;
  }
  // A referrer of several kilobytes.
  size_t longest = 0, start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    longest = std::max(longest, end - start);
    start = end + 1;
  }
  EXPECT_GT(longest, 3000u);
}

TEST(GeneratorTest, ProductPopularityIsSkewed) {
  GeneratorOptions options;
  options.events = 20000;
  options.rate_messy = 0;
  EventGenerator generator(options);
  event::EventParser parser;
  std::map<std::string, int> views;
  std::string record;
  while (generator.remaining() > 0) {
    record.clear();
    generator.AppendNext(&record);
    const size_t size = record.size();
    record.append(event::kPadding, '\0');
    event::Event e;
    if (parser.Parse(absl::string_view(record.data(), size), &e) ==
        event::Invalid::kOk) {
      ++views[std::string(e.product_id)];
    }
  }
  int top = 0;
  for (const auto& [product, count] : views) top = std::max(top, count);
  // Zipf s=1.1 over 20,000 products: the top product has ~10% of views, and
  // far fewer than 20,000 distinct products appear in 20,000 views.
  EXPECT_GT(top, 1000);
  EXPECT_LT(views.size(), 12000u);
}

}  // namespace
}  // namespace pv::datagen
