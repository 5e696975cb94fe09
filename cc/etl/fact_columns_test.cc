#include "cc/etl/fact_columns.h"

#include <climits>
#include <random>
#include <vector>

#include "cc/star/grain_hash.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

struct Columns {
  std::vector<int32_t> day;
  std::vector<uint32_t> product, store, referrer, device;
  GrainColumns view() const {
    return {day.data(), product.data(), store.data(), referrer.data(),
            device.data()};
  }
};

Columns RandomColumns(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Columns c;
  for (size_t i = 0; i < n; ++i) {
    c.day.push_back(19700 + static_cast<int32_t>(rng() % 5));
    c.product.push_back(rng() % 4 == 0 ? 0 : rng() % 1000);
    c.store.push_back(rng() % 40);
    c.referrer.push_back(rng());
    c.device.push_back(rng());
  }
  return c;
}

// Every length from 0 to 100 exercises the vector body and the scalar tail.
TEST(Kernels, VectorHashesEqualScalar) {
  for (size_t n = 0; n <= 100; ++n) {
    Columns c = RandomColumns(n, static_cast<uint32_t>(n));
    std::vector<uint64_t> a(n), b(n);
    HashGrains(c.view(), n, a.data());
    HashGrainsScalar(c.view(), n, b.data());
    ASSERT_EQ(a, b) << "n=" << n << " kernel " << ActiveKernelName();
  }
}

TEST(Kernels, HashSeparatesKeysThatDifferInOneColumn) {
  uint64_t base = star::HashGrain(1, 2, 3, 4, 5);
  EXPECT_NE(base, star::HashGrain(2, 2, 3, 4, 5));
  EXPECT_NE(base, star::HashGrain(1, 3, 3, 4, 5));
  EXPECT_NE(base, star::HashGrain(1, 2, 4, 4, 5));
  EXPECT_NE(base, star::HashGrain(1, 2, 3, 5, 5));
  EXPECT_NE(base, star::HashGrain(1, 2, 3, 4, 6));
  EXPECT_NE(star::HashGrain(1, 2, 3, 4, 5), star::HashGrain(2, 1, 3, 4, 5));
  EXPECT_EQ(base, star::HashGrain(1, 2, 3, 4, 5));
}

TEST(Kernels, SelectionEqualsScalar) {
  for (size_t n = 0; n <= 100; ++n) {
    Columns c = RandomColumns(n, static_cast<uint32_t>(n + 1000));
    std::vector<uint32_t> a(n + 16), b(n + 16);
    size_t ka = SelectFactRows(c.day.data(), c.product.data(), n, 19701, 19702,
                               a.data());
    size_t kb = SelectFactRowsScalar(c.day.data(), c.product.data(), n, 19701,
                                     19702, b.data());
    ASSERT_EQ(ka, kb) << "n=" << n;
    a.resize(ka);
    b.resize(kb);
    ASSERT_EQ(a, b) << "n=" << n;
    for (uint32_t i : a) {
      EXPECT_GE(c.day[i], 19701);
      EXPECT_LE(c.day[i], 19702);
      EXPECT_NE(c.product[i], 0u);
    }
  }
}

TEST(Kernels, MaxDayEqualsScalar) {
  EXPECT_EQ(MaxDay(nullptr, 0), INT32_MIN);
  for (size_t n = 1; n <= 70; ++n) {
    Columns c = RandomColumns(n, static_cast<uint32_t>(n + 7));
    c.day[n / 2] = 30000 + static_cast<int32_t>(n);
    EXPECT_EQ(MaxDay(c.day.data(), n), MaxDayScalar(c.day.data(), n));
    EXPECT_EQ(MaxDay(c.day.data(), n), 30000 + static_cast<int32_t>(n));
  }
}

}  // namespace
}  // namespace pv::etl
