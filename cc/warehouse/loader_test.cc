#include "cc/warehouse/loader.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace pv::warehouse {
namespace {

// The loader folds the ledger's checksum into its COPY streams, a chunk per
// accumulator: any split, merged in any order, is the checksum of the whole.
TEST(FactChecksum, AnySplitMergedIsTheChecksumOfTheWhole) {
  std::mt19937 rng(3);
  std::vector<FactRow> facts;
  std::vector<KeyedFact> keyed;
  for (uint32_t i = 0; i < 1000; ++i) {
    const int64_t t = 1717200000 + static_cast<int64_t>(rng() % 86400);
    facts.push_back({19875, i % 7, i % 3, i % 11, i, 1 + i % 5, t, t + i % 100, t * 3});
    keyed.push_back({20240601, static_cast<int32_t>(i % 7), static_cast<int32_t>(i % 3),
                     static_cast<int32_t>(i % 11), static_cast<int32_t>(i), i});
  }
  // The checksum of all rows, in order, on one accumulator.
  auto checksum = [](const std::vector<FactRow>& f, const std::vector<KeyedFact>& k) {
    FactChecksumAccumulator acc;
    for (const KeyedFact& row : k) acc.Add(row, f[row.row]);
    return acc.Text();
  };
  const std::string whole = checksum(facts, keyed);
  for (size_t parts : {1, 2, 3, 14}) {
    std::vector<FactChecksumAccumulator> acc(parts);
    for (size_t i = 0; i < keyed.size(); ++i) {
      acc[rng() % parts].Add(keyed[i], facts[keyed[i].row]);
    }
    FactChecksumAccumulator merged;
    for (size_t p = parts; p-- > 0;) merged.Merge(acc[p]);
    EXPECT_EQ(merged.Text(), whole) << parts << " parts";
  }
  // A changed measure or key changes it.
  std::vector<FactRow> changed = facts;
  ++changed[17].view_count;
  EXPECT_NE(checksum(changed, keyed), whole);
  std::vector<KeyedFact> rekeyed = keyed;
  ++rekeyed[17].device;
  EXPECT_NE(checksum(facts, rekeyed), whole);
}

}  // namespace
}  // namespace pv::warehouse
