// A small partial result with every section filled, for partial_test and
// the fuzz target's seeds. Test-only.
#ifndef PV_ETL_PARTIAL_SAMPLE_H_
#define PV_ETL_PARTIAL_SAMPLE_H_

#include <cstdlib>

#include "cc/etl/partial.h"
#include "cc/star/calendar.h"

namespace pv::etl::testing {

inline int32_t Day(const char* text) {
  int32_t d = 0;
  if (!star::ParseDayText(text, &d)) std::abort();
  return d;
}

inline Partial SamplePartial() {
  Partial p;
  p.dates = DateSelection::Horizon(8, Day("2026-01-05"));
  p.quarantined = true;
  p.quarantine_file = "quarantine-part-x.ndjson";
  p.quarantined_records = 2;
  ScanResult& r = p.scan;
  SegmentSummary in;
  in.path = "/shared/seg/product_views-20260105T000000.000-000001-7-hostA.pvseg";
  in.records = 12;
  in.file_bytes = 4096;
  in.payload_bytes = 3000;
  in.invalid = 2;
  in.footer_crc = 0xdeadbeef;
  in.day_events = {{Day("2026-01-04"), 3}, {Day("2026-01-05"), 7}};
  r.inputs = {in};
  r.counts.records = 12;
  r.counts.valid = 10;
  r.counts.invalid[1] = 2;
  r.counts.fact_events = 9;
  r.counts.skipped_no_product = 1;
  r.counts.payload_bytes = 3000;
  r.day_events[Day("2026-01-04")] = {3, 3};
  r.day_events[Day("2026-01-05")] = {7, 6};
  star::StarBatch& b = r.batch;
  b.products = {"", "p1", "p2"};
  b.stores = {"", "s1"};
  b.store_attributes = {{}, {star::kNoPick - 1, "glamira.de", 3}};
  b.referrers = {"", "https://www.google.com/x"};
  b.referrer_attributes = {{}, {"google.com", star::ReferrerType::kSearch}};
  b.devices = {"", "d1", "d2"};
  star::Device phone;
  phone.type = star::DeviceType::kMobile;
  phone.browser = star::Browser::kSafari;
  phone.os = star::Os::kIos;
  b.device_attributes = {{}, {1767571200, phone}, {}};
  b.days = {Day("2026-01-04"), Day("2026-01-05")};
  b.fact_days = b.days;
  const int64_t t4 = int64_t{Day("2026-01-04")} * 86400, t5 = int64_t{Day("2026-01-05")} * 86400;
  b.facts = {{Day("2026-01-04"), 1, 1, 1, 1, 3, t4 + 10, t4 + 500, 3 * t4 + 600},
             {Day("2026-01-05"), 2, 0, 0, 2, 6, t5, t5 + 86399, 6 * t5 + 90000}};
  return p;
}

}  // namespace pv::etl::testing

#endif  // PV_ETL_PARTIAL_SAMPLE_H_
