#include "cc/common/json.h"

#include "gtest/gtest.h"

namespace pv {
namespace {

TEST(JsonStringTest, EscapesQuotesBackslashesAndControls) {
  for (JsonEscaping e : {JsonEscaping::kAscii, JsonEscaping::kUtf8}) {
    EXPECT_EQ(JsonString("a\"b\\c", e), R"("a\"b\\c")");
    EXPECT_EQ(JsonString("l1\nl2\r\t", e), R"("l1\nl2\r\t")");
    EXPECT_EQ(JsonString(absl::string_view("\x01\x1f\x7f", 3), e), R"("\u0001\u001f\u007f")");
    EXPECT_EQ(JsonString(absl::string_view("nul\0x", 5), e), R"("nul\u0000x")");
    EXPECT_EQ(JsonString("", e), R"("")");
  }
}

TEST(JsonStringTest, AsciiEscapesEveryHighByteUtf8PassesThem) {
  const std::string text = "caf\xc3\xa9 \xff";  // "café" and a stray byte
  EXPECT_EQ(JsonString(text, JsonEscaping::kAscii), R"("caf\u00c3\u00a9 \u00ff")");
  EXPECT_EQ(JsonString("caf\xc3\xa9", JsonEscaping::kUtf8), "\"caf\xc3\xa9\"");
}

TEST(JsonStringTest, AppendsToWhatIsThere) {
  std::string out = "{\"k\":";
  AppendJsonString(&out, "v", JsonEscaping::kUtf8);
  out.push_back('}');
  EXPECT_EQ(out, R"({"k":"v"})");
}

}  // namespace
}  // namespace pv
