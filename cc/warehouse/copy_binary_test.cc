#include "cc/warehouse/copy_binary.h"

#include <string>

#include "gtest/gtest.h"

namespace pv::warehouse {
namespace {

TEST(CopyBinary, RoundTripsRows) {
  std::string data;
  CopyBinaryEncoder enc(&data);
  enc.Header();
  enc.StartRow(3);
  enc.Int4(-7);
  enc.Int8(1LL << 40);
  enc.Text("héllo");
  enc.StartRow(3);
  enc.Int4(2147483647);
  enc.Null();
  enc.Text("");
  enc.Trailer();

  CopyBinaryDecoder dec(data);
  ASSERT_TRUE(dec.ReadHeader().ok());
  ASSERT_EQ(*dec.NextRow(), 3);
  EXPECT_EQ(*dec.Int4(), -7);
  EXPECT_EQ(*dec.Int8(), 1LL << 40);
  EXPECT_EQ(*dec.Bytes(), "héllo");
  ASSERT_EQ(*dec.NextRow(), 3);
  EXPECT_EQ(*dec.Int4(), 2147483647);
  bool is_null = false;
  EXPECT_EQ(*dec.Bytes(&is_null), "");
  EXPECT_TRUE(is_null);
  EXPECT_EQ(*dec.Bytes(&is_null), "");
  EXPECT_FALSE(is_null);
  EXPECT_EQ(*dec.NextRow(), -1);
}

TEST(CopyBinary, EncodesNetworkOrderAndPgEpoch) {
  std::string data;
  CopyBinaryEncoder enc(&data);
  enc.TimestampUnix(kPgEpochUnixSeconds + 1);  // 1 s after 2000-01-01
  ASSERT_EQ(data.size(), 12u);
  EXPECT_EQ(data.substr(0, 4), std::string("\0\0\0\x08", 4));
  // 1,000,000 us = 0x0F4240, big-endian in the last bytes.
  EXPECT_EQ(data.substr(4), std::string("\0\0\0\0\0\x0f\x42\x40", 8));
  data.clear();
  enc.DateFromUnixDay(10957);  // 2000-01-01
  EXPECT_EQ(data, std::string("\0\0\0\x04\0\0\0\0", 8));
}

TEST(CopyBinary, DetectsTruncation) {
  std::string data;
  CopyBinaryEncoder enc(&data);
  enc.Header();
  enc.StartRow(1);
  enc.Text("abcdef");
  data.resize(data.size() - 2);
  CopyBinaryDecoder dec(data);
  ASSERT_TRUE(dec.ReadHeader().ok());
  ASSERT_EQ(*dec.NextRow(), 1);
  auto v = dec.Bytes();
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("truncated"), std::string::npos);
  CopyBinaryDecoder bad("not copy data at all");
  EXPECT_FALSE(bad.ReadHeader().ok());
}

// array_recv's layout: ndim, has-nulls flag, element type, then per
// dimension its length and lower bound, then each element length-prefixed.
TEST(CopyBinary, UuidArrayLayout) {
  std::array<uint8_t, 16> a{}, b{};
  for (int i = 0; i < 16; ++i) {
    a[i] = static_cast<uint8_t>(i);
    b[i] = static_cast<uint8_t>(0xf0 + i);
  }
  const std::string got = BinaryUuidArray({a, b});
  std::string want("\0\0\0\1" "\0\0\0\0" "\0\0\x0b\x86" "\0\0\0\2" "\0\0\0\1", 20);
  want.append(std::string("\0\0\0\x10", 4)).append(reinterpret_cast<const char*>(a.data()), 16);
  want.append(std::string("\0\0\0\x10", 4)).append(reinterpret_cast<const char*>(b.data()), 16);
  EXPECT_EQ(got, want);
  EXPECT_EQ(BinaryUuidArray({}).size(), 20u);
}

}  // namespace
}  // namespace pv::warehouse
