// Replays seed inputs through the partial reader's fuzz entry point under the
// normal build. The generated seeds are also written to
// TEST_UNDECLARED_OUTPUTS_DIR, from which testdata/partial_fuzz_seeds was
// taken (tools/test.sh starts the fuzzer from those).
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/etl/partial.h"
#include "cc/etl/partial_sample.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pv::etl {
namespace {

constexpr const char* kSeedNames[] = {"empty",          "magic_only",       "sample.pvpart",
                                      "no_facts.pvpart", "truncated_half", "truncated_trailer",
                                      "bit_flip_1",     "bit_flip_2"};

std::vector<std::string> Seeds() {
  const std::string good = EncodePartial(testing::SamplePartial());
  Partial empty = testing::SamplePartial();
  empty.scan.batch.facts.clear();
  std::vector<std::string> seeds = {"", "PVPART\r\n", good, EncodePartial(empty),
                                    good.substr(0, good.size() / 2),
                                    good.substr(0, good.size() - 3)};
  std::mt19937 random(7);
  for (int i = 0; i < 2; ++i) {
    std::string flipped = good;
    flipped[random() % flipped.size()] ^= static_cast<char>(1 + random() % 255);
    seeds.push_back(flipped);
  }
  return seeds;
}

TEST(PartialFuzzTest, SeedsRunCleanly) {
  std::vector<std::string> seeds = Seeds();
  const std::string good = seeds[2];
  std::mt19937 random(11);
  for (int i = 0; i < 256; ++i) {
    std::string flipped = good;
    flipped[random() % flipped.size()] ^= static_cast<char>(1 + random() % 255);
    seeds.push_back(flipped);
  }
  const char* out_dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string& s = seeds[i];
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0);
    if (out_dir != nullptr && i < std::size(kSeedNames)) {
      std::ofstream(absl::StrCat(out_dir, "/", kSeedNames[i]), std::ios::binary) << s;
    }
  }
}

TEST(PartialFuzzTest, CheckedInSeedsRunCleanly) {
  const std::string dir =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/productview/cc/etl/testdata/partial_fuzz_seeds");
  std::vector<std::string> names(std::begin(kSeedNames), std::end(kSeedNames));
  // Inputs the fuzzer once failed on, kept as seeds.
  names.push_back("crash_huge_count");  // a count above the bytes left was still reserved
  for (const std::string& name : names) {
    std::ifstream in(absl::StrCat(dir, "/", name), std::ios::binary);
    ASSERT_TRUE(in.good()) << name;
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0)
        << name;
  }
  // The sample seed is a valid partial of this version.
  std::ifstream in(absl::StrCat(dir, "/sample.pvpart"), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_TRUE(DecodePartial(ss.str(), "sample.pvpart").ok());
}

}  // namespace
}  // namespace pv::etl
