#include "cc/etl/dictionary.h"

#include <string>

#include "gtest/gtest.h"

namespace pv::etl {
namespace {

TEST(DimensionDictionary, InternsDenseIdsWithUnknownAtZero) {
  DimensionDictionary d;
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(d.Intern(""), 0u);
  EXPECT_EQ(d.Intern("a"), 1u);
  EXPECT_EQ(d.Intern("b"), 2u);
  EXPECT_EQ(d.Intern("a"), 1u);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.key(2), "b");
  EXPECT_EQ(d.Find("b"), 2);
  EXPECT_EQ(d.Find("zzz"), -1);
}

TEST(DimensionDictionary, CopiesKeysSoViewsOutliveTheInput) {
  DimensionDictionary d;
  std::string big(100000, 'x');  // larger than a quarter arena chunk
  {
    std::string temp = "temporary";
    d.Intern(temp);
    temp.assign("overwritten");
  }
  d.Intern(big);
  big[0] = 'y';
  for (int i = 0; i < 20000; ++i) d.Intern("key-" + std::to_string(i));
  EXPECT_EQ(d.key(1), "temporary");
  EXPECT_EQ(d.key(2), std::string(100000, 'x'));
  EXPECT_EQ(d.Find("key-19999"), 20002);
  EXPECT_GT(d.MemoryBytes(), 100000u);
}

}  // namespace
}  // namespace pv::etl
