// StarBatch: one run's star schema in memory, as the batch job's scan
// produces it and the loader writes it. Members are identified by ordinals
// (dense, run-local); the loader maps them to stable surrogate keys.
#ifndef PV_WAREHOUSE_STAR_BATCH_H_
#define PV_WAREHOUSE_STAR_BATCH_H_

#include <cstdint>
#include <string>
#include <vector>

namespace pv::warehouse {

// One fact row at the seed's grain, by member ordinals.
struct FactRow {
  int32_t day;  // days since 1970-01-01
  uint32_t product, store, referrer, device;
  int64_t view_count;
  int64_t min_time, max_time;  // local_time, Unix seconds
  int64_t sum_time;            // for avg_view_timestamp = sum / count
};

struct StarBatch {
  // Natural keys by ordinal; ordinal 0 is "" (the Unknown member).
  std::vector<std::string> products;
  std::vector<std::string> stores;
  std::vector<std::string> referrers;
  std::vector<std::string> devices;
  // Derived attributes by ordinal (cc/etl/attributes.h ids and codes).
  std::vector<uint16_t> store_country;
  std::vector<uint32_t> device_code;
  // Every day of a valid event (dim_date), sorted.
  std::vector<int32_t> days;
  // The days whose facts this run replaces, sorted; `facts` holds exactly
  // their rows (a day may have none).
  std::vector<int32_t> fact_days;
  std::vector<FactRow> facts;
};

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_STAR_BATCH_H_
