#include "cc/warehouse/loader.h"

#include <algorithm>
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

// KeyFacts keys ranges of the facts on each thread into every day's slice
// and sorts the days: the result must be the plain sort by (fact day order,
// operator<), every row once, whatever the key ranges and thread count.
TEST(KeyFacts, DaysInFactDayOrderEachSortedByGrain) {
  std::mt19937 rng(11);
  const std::vector<int32_t> fact_days = {19877, 19875, 19876};  // not sorted
  struct Range {
    int32_t lo, span;
  };
  // (products, stores, referrers, devices) key ranges per case.
  const std::vector<std::vector<Range>> cases = {
      {{1, 50}, {1, 4}, {1, 30}, {1, 400}},
      {{-5, 50}, {0, 1}, {-100000, 7}, {7, 400}},
      {{0, 1 << 30}, {0, 1 << 30}, {-(1 << 30), 1 << 30}, {0, 1 << 30}},
  };
  for (size_t c = 0; c < cases.size(); ++c) {
    std::vector<std::vector<int32_t>> keys(4);
    for (int d = 0; d < 4; ++d) {
      for (int i = 0; i < 300; ++i) {
        keys[d].push_back(cases[c][d].lo +
                          static_cast<int32_t>(rng() % static_cast<uint32_t>(cases[c][d].span)));
      }
    }
    StarBatch batch;
    batch.fact_days = fact_days;
    for (uint32_t i = 0; i < 5000; ++i) {
      // Mostly fact days, a few rows of another day (sorted last).
      const int32_t day = i % 97 == 0 ? 19900 : fact_days[rng() % fact_days.size()];
      batch.facts.push_back({day, static_cast<uint32_t>(rng() % 300),
                             static_cast<uint32_t>(rng() % 300),
                             static_cast<uint32_t>(rng() % 300),
                             static_cast<uint32_t>(rng() % 300), 1, 0, 0, 0});
    }
    std::vector<KeyedFact> want;
    for (uint32_t i = 0; i < batch.facts.size(); ++i) {
      const FactRow& f = batch.facts[i];
      const int32_t dk = f.day == 19875 ? 20240601 : f.day == 19876 ? 20240602
                         : f.day == 19877 ? 20240603 : 20240626;
      want.push_back({dk, keys[0][f.product], keys[1][f.store], keys[2][f.referrer],
                      keys[3][f.device], i});
    }
    auto rank = [](int32_t dk) { return dk == 20240603 ? 0 : dk == 20240601 ? 1
                                        : dk == 20240602 ? 2 : 3; };
    std::stable_sort(want.begin(), want.end(), [&](const KeyedFact& a, const KeyedFact& b) {
      if (rank(a.date_key) != rank(b.date_key)) return rank(a.date_key) < rank(b.date_key);
      return a < b;
    });
    for (int threads : {1, 2, 3}) {
      const std::vector<KeyedFact> got =
          KeyFacts(batch, keys[0], keys[1], keys[2], keys[3], threads);
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const KeyedFact &g = got[i], &w = want[i];
        // Equal grains are possible here (random ordinals): compare keys,
        // and that every row appears once.
        ASSERT_TRUE(!(g < w) && !(w < g) && g.date_key == w.date_key)
            << "case " << c << ", " << threads << " threads, position " << i;
      }
      std::vector<bool> seen(batch.facts.size(), false);
      for (const KeyedFact& g : got) {
        ASSERT_FALSE(seen[g.row]) << "row " << g.row << " twice";
        seen[g.row] = true;
        const FactRow& f = batch.facts[g.row];
        ASSERT_EQ(g.device, keys[3][f.device]) << "row " << g.row << " keyed wrongly";
        ASSERT_EQ(g.product, keys[0][f.product]);
      }
    }
  }
}

}  // namespace
}  // namespace pv::warehouse
