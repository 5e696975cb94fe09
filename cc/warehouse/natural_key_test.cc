#include "cc/warehouse/natural_key.h"

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace pv::warehouse {
namespace {

// As PostgreSQL prints a uuid: xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx.
std::string UuidText(const NaturalKeyDigest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < digest.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// RFC 1321's test suite, printed as PostgreSQL prints md5(x)::uuid.
TEST(NaturalKey, DigestIsMd5AsUuid) {
  auto d = NaturalKeyDigester::Create();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(UuidText(d->Digest("")), "d41d8cd9-8f00-b204-e980-0998ecf8427e");
  EXPECT_EQ(UuidText(d->Digest("a")), "0cc175b9-c0f1-b6a8-31c3-99e269772661");
  EXPECT_EQ(UuidText(d->Digest("abc")), "90015098-3cd2-4fb0-d696-3f7d28e17f72");
  EXPECT_EQ(UuidText(d->Digest("message digest")), "f96b697d-7cb7-938d-525a-2f31aaf161d0");
  EXPECT_EQ(UuidText(d->Digest("1234567890123456789012345678901234567890"
                               "1234567890123456789012345678901234567890")),
            "57edf4a2-2be3-c955-ac49-da2e2107b67a");
}

TEST(NaturalKey, ContextIsReusedAcrossKeysOfAnyLength) {
  auto d = NaturalKeyDigester::Create();
  ASSERT_TRUE(d.ok()) << d.status();
  const NaturalKeyDigest empty = d->Digest("");
  const std::string url(100000, 'u');
  const NaturalKeyDigest long_key = d->Digest(url);
  EXPECT_NE(empty, long_key);
  EXPECT_EQ(d->Digest(""), empty);  // no state carried over
  EXPECT_EQ(d->Digest(url), long_key);
  NaturalKeyDigester copy = *d;  // shares the handles
  EXPECT_EQ(copy.Digest("abc"), d->Digest("abc"));
}

// Byte order, bytes as unsigned, whatever the keys share: prefixes of each
// other, embedded NULs, bytes >= 0x80, equal first 8 bytes.
TEST(NaturalKey, SortIsByteOrder) {
  std::vector<std::string> keys = {"b",
                                   "a",
                                   "ab",
                                   std::string("ab\0", 3),
                                   std::string("ab\0\0", 4),
                                   std::string("ab\0c", 4),
                                   "abcdefgh",
                                   "abcdefgh1",
                                   "abcdefgh0",
                                   "abcdefg",
                                   "\xff",
                                   "\x80" "a",
                                   "\x7f",
                                   "",
                                   "4c401024-c977-471a-8c7e-a3834e9d8d61",
                                   "4c401024-c977-471a-8c7e-a3834e9d8d60",
                                   "4c401025"};
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<uint32_t> ords(keys.size());
    std::iota(ords.begin(), ords.end(), 0);
    std::shuffle(ords.begin(), ords.end(), rng);
    SortByNaturalKey(keys, &ords);
    std::vector<std::string> got;
    for (uint32_t o : ords) got.push_back(keys[o]);
    std::vector<std::string> want = keys;
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want);
  }
}

}  // namespace
}  // namespace pv::warehouse
