#include "cc/segment/crc32c.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace pv::segment {
namespace {

uint32_t Of(const std::string& s) { return Crc32c(s.data(), s.size()); }

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Of("123456789"), 0xE3069283u);
  EXPECT_EQ(Of(""), 0x00000000u);
  // RFC 3720 (iSCSI) B.4 test vectors.
  EXPECT_EQ(Of(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Of(std::string(32, '\xFF')), 0x62A8AB43u);
  std::string ascending(32, '\0'), descending(32, '\0');
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<char>(i);
    descending[i] = static_cast<char>(31 - i);
  }
  EXPECT_EQ(Of(ascending), 0x46DD794Eu);
  EXPECT_EQ(Of(descending), 0x113FDB5Cu);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t crc = Crc32c(data.data(), split);
    crc = Crc32cExtend(crc, data.data() + split, data.size() - split);
    EXPECT_EQ(crc, Of(data)) << "split " << split;
  }
}

TEST(Crc32cTest, PortableAndSse42Agree) {
  if (!internal::Crc32cHasSse42()) GTEST_SKIP() << "CPU without SSE4.2";
  std::mt19937 random(42);
  std::string data(4096 + 7, '\0');
  for (char& c : data) c = static_cast<char>(random());
  // Every length and misalignment up to a few words, then a long buffer.
  for (size_t start = 0; start < 9; ++start) {
    for (size_t size = 0; size < 70; ++size) {
      EXPECT_EQ(internal::Crc32cExtendPortable(0x1234u, data.data() + start, size),
                internal::Crc32cExtendSse42(0x1234u, data.data() + start, size))
          << "start " << start << " size " << size;
    }
  }
  EXPECT_EQ(internal::Crc32cExtendPortable(0, data.data(), data.size()),
            internal::Crc32cExtendSse42(0, data.data(), data.size()));
  EXPECT_EQ(internal::Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
}

}  // namespace
}  // namespace pv::segment
