// Operations on the scan's fact columns, SIMD with scalar references.
//
// The scan turns a block of events into columns (day, product, store,
// referrer, device ids); these kernels then (1) select the rows that make
// facts (a date in range and a product) and (2) hash their grain keys, a
// vector of lanes at a time. The hash-table probe that follows stays scalar.
//
// The widest kernel the CPU supports (SSE4, AVX2, AVX-512) is picked once at
// run time by Highway's dynamic dispatch; PV_SIMD=scalar in the environment
// forces the scalar reference (for comparison and debugging). Tests run both
// and compare. Thread-safe: pure functions.
#ifndef PV_ETL_FACT_COLUMNS_H_
#define PV_ETL_FACT_COLUMNS_H_

#include <cstddef>
#include <cstdint>

namespace pv::etl {

// Writes to `out` the indexes i < n, ascending, where lo <= day[i] <= hi and
// product[i] != 0; returns how many. `out` must have room for n + 16 entries
// (the vector kernels store whole vectors).
size_t SelectFactRows(const int32_t* day, const uint32_t* product, size_t n,
                      int32_t lo, int32_t hi, uint32_t* out);
size_t SelectFactRowsScalar(const int32_t* day, const uint32_t* product,
                            size_t n, int32_t lo, int32_t hi, uint32_t* out);

// The largest day[i], or INT32_MIN when n == 0.
int32_t MaxDay(const int32_t* day, size_t n);
int32_t MaxDayScalar(const int32_t* day, size_t n);

// star::HashGrain of each grain key (day, product, store, referrer, device).
// The scalar and vector versions return identical values.
struct GrainColumns {
  const int32_t* day;
  const uint32_t* product;
  const uint32_t* store;
  const uint32_t* referrer;
  const uint32_t* device;
};
void HashGrains(const GrainColumns& cols, size_t n, uint64_t* out);
void HashGrainsScalar(const GrainColumns& cols, size_t n, uint64_t* out);

// The name of the kernel HashGrains/SelectFactRows run ("AVX3", "AVX2",
// "SSE4", ... or "scalar").
const char* ActiveKernelName();

}  // namespace pv::etl

#endif  // PV_ETL_FACT_COLUMNS_H_
