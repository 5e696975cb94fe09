#include "cc/etl/partial.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "cc/etl/partial_sample.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"
#include "cc/star/calendar.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using testing::Day;
using testing::SamplePartial;

// Recomputes the trailer's checksum, as a writer of a deliberately wrong file
// would: what is left for the content checks.
std::string Reseal(std::string bytes) {
  const size_t end = bytes.size() - 16;
  segment::internal::PutFixed32(&bytes[end + 8], segment::Crc32c(bytes.data(), end));
  return bytes;
}

void ExpectSame(const Partial& a, const Partial& b) {
  EXPECT_EQ(SelectionToken(a.dates), SelectionToken(b.dates));
  EXPECT_EQ(a.quarantined, b.quarantined);
  EXPECT_EQ(a.quarantine_file, b.quarantine_file);
  EXPECT_EQ(a.quarantined_records, b.quarantined_records);
  ASSERT_EQ(a.scan.inputs.size(), b.scan.inputs.size());
  for (size_t i = 0; i < a.scan.inputs.size(); ++i) {
    const SegmentSummary &x = a.scan.inputs[i], &y = b.scan.inputs[i];
    EXPECT_EQ(x.path, y.path);
    EXPECT_EQ(x.records, y.records);
    EXPECT_EQ(x.file_bytes, y.file_bytes);
    EXPECT_EQ(x.payload_bytes, y.payload_bytes);
    EXPECT_EQ(x.invalid, y.invalid);
    EXPECT_EQ(x.footer_crc, y.footer_crc);
    EXPECT_EQ(x.day_events, y.day_events);
  }
  const ScanCounts &c = a.scan.counts, &d = b.scan.counts;
  EXPECT_EQ(c.records, d.records);
  EXPECT_EQ(c.valid, d.valid);
  EXPECT_EQ(c.invalid, d.invalid);
  EXPECT_EQ(c.fact_events, d.fact_events);
  EXPECT_EQ(c.skipped_no_product, d.skipped_no_product);
  EXPECT_EQ(c.other_days, d.other_days);
  EXPECT_EQ(c.tombstones, d.tombstones);
  EXPECT_EQ(c.payload_bytes, d.payload_bytes);
  ASSERT_EQ(a.scan.day_events.size(), b.scan.day_events.size());
  for (const auto& [day, e] : a.scan.day_events) {
    EXPECT_EQ(e.valid, b.scan.day_events.at(day).valid);
    EXPECT_EQ(e.with_product, b.scan.day_events.at(day).with_product);
  }
  const star::StarBatch &x = a.scan.batch, &y = b.scan.batch;
  EXPECT_EQ(x.products, y.products);
  EXPECT_EQ(x.stores, y.stores);
  EXPECT_EQ(x.referrers, y.referrers);
  EXPECT_EQ(x.devices, y.devices);
  ASSERT_EQ(x.store_attributes.size(), y.store_attributes.size());
  for (size_t i = 0; i < x.store_attributes.size(); ++i) {
    EXPECT_EQ(x.store_attributes[i].pick_time, y.store_attributes[i].pick_time);
    EXPECT_EQ(x.store_attributes[i].domain, y.store_attributes[i].domain);
    EXPECT_EQ(x.store_attributes[i].country, y.store_attributes[i].country);
  }
  ASSERT_EQ(x.referrer_attributes.size(), y.referrer_attributes.size());
  for (size_t i = 0; i < x.referrer_attributes.size(); ++i) {
    EXPECT_EQ(x.referrer_attributes[i].domain, y.referrer_attributes[i].domain);
    EXPECT_EQ(x.referrer_attributes[i].type, y.referrer_attributes[i].type);
  }
  ASSERT_EQ(x.device_attributes.size(), y.device_attributes.size());
  for (size_t i = 0; i < x.device_attributes.size(); ++i) {
    EXPECT_EQ(x.device_attributes[i].pick_time, y.device_attributes[i].pick_time);
    EXPECT_EQ(x.device_attributes[i].device.Code(), y.device_attributes[i].device.Code());
  }
  EXPECT_EQ(x.days, y.days);
  EXPECT_EQ(x.fact_days, y.fact_days);
  ASSERT_EQ(x.facts.size(), y.facts.size());
  for (size_t i = 0; i < x.facts.size(); ++i) {
    const star::FactRow &f = x.facts[i], &g = y.facts[i];
    EXPECT_EQ(f.day, g.day);
    EXPECT_EQ(f.product, g.product);
    EXPECT_EQ(f.store, g.store);
    EXPECT_EQ(f.referrer, g.referrer);
    EXPECT_EQ(f.device, g.device);
    EXPECT_EQ(f.view_count, g.view_count);
    EXPECT_EQ(f.min_time, g.min_time);
    EXPECT_EQ(f.max_time, g.max_time);
    EXPECT_EQ(f.sum_time, g.sum_time);
  }
}

TEST(PartialTest, RoundTripsThroughAFile) {
  const Partial p = SamplePartial();
  absl::StatusOr<std::string> path = WritePartialFile(std::getenv("TEST_TMPDIR"), p);
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(path->substr(path->rfind('/') + 1), PartialName(p));
  absl::StatusOr<Partial> back = ReadPartialFile(*path);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(p, *back);
}

// The bytes do not depend on the order the scan's threads left members and
// facts in.
TEST(PartialTest, BytesAreCanonical) {
  Partial a = SamplePartial(), b = SamplePartial();
  star::StarBatch& x = b.scan.batch;
  std::swap(x.devices[1], x.devices[2]);
  std::swap(x.device_attributes[1], x.device_attributes[2]);
  for (star::FactRow& f : x.facts) f.device = f.device == 0 ? 0 : 3 - f.device;
  std::swap(x.facts[0], x.facts[1]);
  EXPECT_EQ(EncodePartial(a), EncodePartial(b));
  absl::StatusOr<Partial> back = DecodePartial(EncodePartial(b), "b");
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSame(a, *back);
}

TEST(PartialTest, SelectionTokensRoundTrip) {
  for (const DateSelection& d :
       {DateSelection::All(), DateSelection::Days({}), DateSelection::Days({Day("2026-01-03"),
                                                                            Day("2026-01-01")}),
        DateSelection::Range(Day("2026-01-01"), Day("2026-01-07")),
        DateSelection::Horizon(8, INT32_MIN), DateSelection::Horizon(3, Day("2026-02-01"))}) {
    absl::StatusOr<DateSelection> back = ParseSelection(SelectionToken(d));
    ASSERT_TRUE(back.ok()) << SelectionToken(d) << ": " << back.status();
    EXPECT_TRUE(SameSelection(d, *back)) << SelectionToken(d);
  }
  EXPECT_EQ(SelectionToken(DateSelection::Days({Day("2026-01-03"), Day("2026-01-01")})),
            "days:2026-01-01,2026-01-03");
  for (const char* bad : {"", "days", "days:2026-13-01", "range:2026-01-02:2026-01-01",
                          "horizon:0:none", "horizon:x:none", "later"}) {
    EXPECT_FALSE(ParseSelection(bad).ok()) << bad;
  }
}

// The name says what is covered: not where the segments were read from, nor
// in which order; but their identities, the selection and the quarantine flag.
TEST(PartialTest, NameIsOfWhatIsCovered) {
  Partial a = SamplePartial(), b = SamplePartial();
  b.scan.inputs[0].path = "/elsewhere/" + a.scan.inputs[0].path.substr(8);
  EXPECT_EQ(PartialName(a), PartialName(b));
  b.scan.inputs[0].footer_crc ^= 1;
  EXPECT_NE(PartialName(a), PartialName(b));
  b = SamplePartial();
  b.dates = DateSelection::Days({Day("2026-01-05")});
  EXPECT_NE(PartialName(a), PartialName(b));
  b = SamplePartial();
  b.quarantined = false;
  EXPECT_NE(PartialName(a), PartialName(b));
}

TEST(PartialTest, EveryTruncationIsDetected) {
  const std::string bytes = EncodePartial(SamplePartial());
  for (size_t n = 0; n < bytes.size(); ++n) {
    absl::StatusOr<Partial> r = DecodePartial(bytes.substr(0, n), "x.pvpart");
    ASSERT_FALSE(r.ok()) << "cut at " << n;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
    EXPECT_NE(r.status().message().find("partial file x.pvpart"), std::string::npos);
  }
  absl::StatusOr<Partial> r = DecodePartial(bytes.substr(0, bytes.size() - 5), "x.pvpart");
  EXPECT_NE(r.status().message().find("truncated"), std::string::npos) << r.status();
  r = DecodePartial(bytes + "x", "x.pvpart");
  EXPECT_FALSE(r.ok());
}

TEST(PartialTest, EveryBitFlipIsDetected) {
  const std::string bytes = EncodePartial(SamplePartial());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit : {0, 5}) {
      std::string flipped = bytes;
      flipped[i] ^= static_cast<char>(1 << bit);
      absl::StatusOr<Partial> r = DecodePartial(flipped, "x.pvpart");
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
    }
  }
  std::string flipped = bytes;
  flipped[40] ^= 4;
  EXPECT_NE(DecodePartial(flipped, "x.pvpart").status().message().find("checksum mismatch"),
            std::string::npos);
}

TEST(PartialTest, UnknownVersionIsRefused) {
  std::string bytes = EncodePartial(SamplePartial());
  segment::internal::PutFixed32(&bytes[8], kPartialVersion + 1);
  absl::StatusOr<Partial> r = DecodePartial(Reseal(bytes), "x.pvpart");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(absl::StrCat("format version ", kPartialVersion + 1,
                                                   " is not supported")),
            std::string::npos)
      << r.status();
}

// Content a checksum cannot vouch for (a writer's bug, a crafted file): named
// by section and field.
TEST(PartialTest, InconsistentContentIsNamed) {
  auto decode = [](const Partial& p) {
    return DecodePartial(Reseal(EncodePartial(p)), "x.pvpart").status();
  };
  Partial p = SamplePartial();
  p.scan.batch.facts[0].device = 3;  // only 3 devices
  absl::Status s = decode(p);
  EXPECT_NE(s.message().find("section facts, field device"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.devices[2] = "d1";  // the encoder sorts; a repeated key stays repeated
  s = decode(p);
  EXPECT_NE(s.message().find("section devices, field natural key"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.facts.push_back(p.scan.batch.facts.back());  // a grain twice
  s = decode(p);
  EXPECT_NE(s.message().find("section facts, field grain"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.facts[1].max_time += 1;  // the next day
  s = decode(p);
  EXPECT_NE(s.message().find("section facts, field measures"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.fact_days = {p.scan.batch.days[1]};
  s = decode(p);
  EXPECT_NE(s.message().find("is not in a fact day"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.store_attributes[1].country = 60000;
  s = decode(p);
  EXPECT_NE(s.message().find("section stores, field country"), std::string::npos) << s;
  p = SamplePartial();
  p.scan.batch.products[0] = "not unknown";
  s = decode(p);
  EXPECT_NE(s.message().find("section products"), std::string::npos) << s;
}

}  // namespace
}  // namespace pv::etl
