// StarBatch: one run's star schema in memory, as the batch job's scan
// produces it and the warehouse loader writes it. Members are identified by
// ordinals (dense, run-local); the loader maps them to stable surrogate keys.
// Every derived attribute is already decided here (by the scan, with the
// rules of cc/star/attributes.h): the loader only encodes and loads.
#ifndef PV_STAR_STAR_BATCH_H_
#define PV_STAR_STAR_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "cc/star/attributes.h"

namespace pv::star {

// One fact row at the seed's grain, by member ordinals.
struct FactRow {
  int32_t day;  // days since 1970-01-01
  uint32_t product, store, referrer, device;
  int64_t view_count;
  int64_t min_time, max_time;  // local_time, Unix seconds
  int64_t sum_time;            // for avg_view_timestamp = sum / count
};

// An attribute rule's choice for one member: the value derived from the
// member's earliest event that has one (its local_time is pick_time), ties
// broken by the smaller value (a total order, so any merge order of any
// partition of the events gives the same choice, and an incremental run can
// merge its choice with the warehouse's). kNoPick: no event had a value.
inline constexpr int64_t kNoPick = INT64_MAX;

// dim_country's attributes of one store, from its earliest event with a
// non-empty current_url; the value ordered on is the domain (bytewise).
struct StoreAttributes {
  int64_t pick_time = kNoPick;
  std::string domain;                  // StoreDomain(current_url)
  uint16_t country = kUnknownCountry;  // CountryIdFromDomain(domain)
};

// dim_device's attributes of one device, from its earliest event with a
// non-empty user_agent; the value ordered on is Device::Code().
struct DeviceAttributes {
  int64_t pick_time = kNoPick;
  Device device;
};

// dim_referrer's attributes of one referrer URL (a function of the URL).
struct ReferrerAttributes {
  std::string domain;  // host without "www."; "" for Direct
  ReferrerType type = ReferrerType::kDirect;
};

struct StarBatch {
  // Natural keys by ordinal; ordinal 0 is "" (the Unknown member).
  std::vector<std::string> products;
  std::vector<std::string> stores;
  std::vector<std::string> referrers;
  std::vector<std::string> devices;
  // Derived attributes, one per ordinal of the dimension above.
  std::vector<StoreAttributes> store_attributes;
  std::vector<ReferrerAttributes> referrer_attributes;
  std::vector<DeviceAttributes> device_attributes;
  // Every day of a valid event (dim_date), sorted.
  std::vector<int32_t> days;
  // The days whose facts this run replaces, sorted; `facts` holds exactly
  // their rows (a day may have none).
  std::vector<int32_t> fact_days;
  std::vector<FactRow> facts;
};

}  // namespace pv::star

#endif  // PV_STAR_STAR_BATCH_H_
