// Replays the fuzz seeds (cc/event/testdata/fuzz_seeds) and a few inline
// inputs through the fuzz entry point in the normal build, so that its
// oracle checks run with every `bazel test`.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gtest/gtest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int Replay(const std::string& input) {
  return LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                                input.size());
}

TEST(EventParserFuzzReplayTest, Seeds) {
  const std::filesystem::path dir = "cc/event/testdata/fuzz_seeds";
  int replayed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    EXPECT_EQ(Replay(content.str()), 0) << entry.path();
    ++replayed;
  }
  EXPECT_GE(replayed, 8);
}

TEST(EventParserFuzzReplayTest, EdgeInputs) {
  for (const char* input :
       {"", "{", "}", "[", "\"", "{\"local_time\":\"2024-03-05 10:20:30\"}",
        "{\"local_time\":\"2024-03-05 10:20:30\",\"a\":1e999}",
        "{\"product_id\":123456789012345678901234567890,\"local_time\":\"2024-03-05 10:20:30\"}",
        "{\"a\":\"\\u0000\",\"local_time\":\"2024-03-05 10:20:30\"}", "null"}) {
    EXPECT_EQ(Replay(input), 0) << input;
  }
}

}  // namespace
