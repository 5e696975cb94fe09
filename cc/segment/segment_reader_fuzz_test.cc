// Replays seed inputs through the fuzz entry point under the normal build, so
// the harness itself is tested without clang. The seeds are also written to
// TEST_UNDECLARED_OUTPUTS_DIR (bazel-testlogs/.../outputs.zip) to start a
// fuzzing corpus.
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/segment/segment.h"
#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pv::segment {
namespace {

std::string SmallSegment(const std::string& dir, Codec codec, const std::string& name) {
  WriterOptions options;
  options.dir = dir;
  options.source = "fuzz.seed";
  options.codec = codec;
  options.block_bytes = 256;
  options.name = name;
  auto writer = SegmentWriter::Create(options);
  EXPECT_TRUE(writer.ok());
  for (int i = 0; i < 24; ++i) {
    std::string payload = absl::StrCat(R"({"product_id":")", i * 37, R"(","local_time":"2020-06-0)",
                                       i % 9 + 1, R"( 10:00:00"})");
    RecordMeta meta{i % 3, 100 + i, 1590000000000 + i, i % 2 ? "k" : "", i % 4 ? "" : "oid"};
    EXPECT_TRUE((*writer)->Append(meta, payload).ok());
  }
  auto info = (*writer)->Publish();
  EXPECT_TRUE(info.ok());
  std::ifstream in(info->path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(SegmentReaderFuzzTest, SeedsRunCleanly) {
  const std::string dir = std::getenv("TEST_TMPDIR");
  std::vector<std::string> seeds = {
      "",
      "PVSEG",
      "not a segment at all",
      SmallSegment(dir, Codec::kZstd, "zstd"),
      SmallSegment(dir, Codec::kLz4, "lz4"),
      SmallSegment(dir, Codec::kNone, "none"),
  };
  const std::string good = seeds[3];
  for (size_t cut : {size_t{12}, size_t{40}, good.size() / 2, good.size() - 1}) {
    seeds.push_back(good.substr(0, cut));
  }
  std::mt19937 random(5);
  for (int i = 0; i < 64; ++i) {
    std::string flipped = good;
    flipped[random() % flipped.size()] ^= static_cast<char>(1 + random() % 255);
    seeds.push_back(flipped);
  }
  const char* out_dir = std::getenv("TEST_UNDECLARED_OUTPUTS_DIR");
  for (size_t i = 0; i < seeds.size(); ++i) {
    const std::string& s = seeds[i];
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0);
    if (out_dir != nullptr && i < 6) {
      std::ofstream(absl::StrCat(out_dir, "/seed-", i), std::ios::binary) << s;
    }
  }
}

// The checked-in corpus (testdata/fuzz_seeds, which tools/test.sh gives the
// fuzzer to start from) runs cleanly too.
TEST(SegmentReaderFuzzTest, CheckedInSeedsRunCleanly) {
  const std::string dir =
      absl::StrCat(std::getenv("TEST_SRCDIR"), "/productview/cc/segment/testdata/fuzz_seeds");
  int seen = 0;
  for (const char* name :
       {"empty", "magic_only", "not_a_segment", "zstd_24_records.pvseg", "lz4_24_records.pvseg",
        "uncompressed_24_records.pvseg", "truncated_12_bytes", "truncated_40_bytes",
        "truncated_half", "truncated_last_byte", "bit_flip_1", "bit_flip_2", "bit_flip_3",
        "bit_flip_4", "v1_three_lines.pvseg"}) {
    std::ifstream in(absl::StrCat(dir, "/", name), std::ios::binary);
    ASSERT_TRUE(in.good()) << name;
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string s = ss.str();
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size()), 0)
        << name;
    ++seen;
  }
  EXPECT_EQ(seen, 15);
}

}  // namespace
}  // namespace pv::segment
