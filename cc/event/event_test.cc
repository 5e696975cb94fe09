#include "cc/event/event.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/star/calendar.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::event {
namespace {

using ::testing::HasSubstr;

// A payload followed by kPadding readable bytes, as Parse() requires.
class PaddedPayload {
 public:
  explicit PaddedPayload(absl::string_view json)
      : buffer_(std::string(json) + std::string(kPadding, 'x')),
        size_(json.size()) {}
  absl::string_view view() const { return {buffer_.data(), size_}; }

 private:
  std::string buffer_;
  size_t size_;
};

class EventParserTest : public ::testing::Test {
 protected:
  // Keeps each payload alive for the test's duration (views point into it).
  Invalid Parse(absl::string_view json, Event* event) {
    payloads_.emplace_back(std::make_unique<PaddedPayload>(json));
    return parser_.Parse(payloads_.back()->view(), event);
  }
  // A valid event with `fields` (JSON members, comma-separated) added.
  static std::string WithTime(absl::string_view fields) {
    return absl::StrCat("{\"local_time\":\"2024-03-05 10:20:30\"",
                        fields.empty() ? "" : ",", fields, "}");
  }

  EventParser parser_;
  std::vector<std::unique_ptr<PaddedPayload>> payloads_;
};

constexpr int64_t k20240305T102030 = 1709634030;

TEST_F(EventParserTest, ExtractsAllFieldsOfATypicalEvent) {
  const std::string json = R"({"_id":{"$oid":"5ed8cb2bc671fc36b74653ad"},)"
      R"("time_stamp":1591266092,"ip":"37.170.17.183",)"
      R"j("user_agent":"Mozilla/5.0 (iPhone)","resolution":"375x667",)j"
      R"("user_id_db":"","device_id":"beb2cacb-20af-4f05-9c03-c98e54a1b71a",)"
      R"("api_version":"1.0","store_id":"12","local_time":"2024-03-05 10:20:30",)"
      R"("show_recommendation":"false","current_url":"https://www.glamira.fr/a.html",)"
      R"("referrer_url":"https://www.google.com/","email_address":"",)"
      R"("recommendation":false,"collection":"view_product_detail",)"
      R"("product_id":"110474","option":[{"option_label":"alloy",)"
      R"("option_id":"332084","value_label":"","value_id":"3279318"},)"
      R"({"option_label":"diamond","option_id":"","value_label":"","value_id":""}],)"
      R"("id":"5ed8cb2bc671fc36b74653ad"})";
  Event e;
  ASSERT_EQ(Parse(json, &e), Invalid::kOk) << parser_.error_detail();
  EXPECT_EQ(e.id, "5ed8cb2bc671fc36b74653ad");
  EXPECT_EQ(e.product_id, "110474");
  EXPECT_EQ(e.store_id, "12");
  EXPECT_EQ(e.referrer_url, "https://www.google.com/");
  EXPECT_EQ(e.device_id, "beb2cacb-20af-4f05-9c03-c98e54a1b71a");
  EXPECT_EQ(e.current_url, "https://www.glamira.fr/a.html");
  EXPECT_EQ(e.user_agent, "Mozilla/5.0 (iPhone)");
  EXPECT_EQ(e.local_time, k20240305T102030);
  EXPECT_EQ(e.day, 19787);  // 2024-03-05
  EXPECT_TRUE(e.has_time_stamp);
  EXPECT_EQ(e.time_stamp, 1591266092);
  EXPECT_EQ(parser_.error_detail(), "");
}

TEST_F(EventParserTest, NumberIdsAreTheirTokenText) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":123,"store_id":12.50,"device_id":-1e3)"), &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, "123");
  EXPECT_EQ(e.store_id, "12.50");
  EXPECT_EQ(e.device_id, "-1e3");
  Event s;
  ASSERT_EQ(Parse(WithTime(R"("product_id":"123")"), &s), Invalid::kOk);
  EXPECT_EQ(s.product_id, e.product_id);
}

TEST_F(EventParserTest, NumberIdLongerThan64BitsIsKept) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":123456789012345678901234567890)"), &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, "123456789012345678901234567890");
}

TEST_F(EventParserTest, NumberFollowedBySpacesIsTrimmed) {
  Event e;
  ASSERT_EQ(Parse(WithTime("\"product_id\" : 77 \n, \"store_id\":5\t"), &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, "77");
  EXPECT_EQ(e.store_id, "5");
}

TEST_F(EventParserTest, UnescapesSlashAndUnicodeEscapes) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("referrer_url":"https:\/\/www.glamira.fr\/bague-fian\u00e7ailles",)"
                           R"("current_url":"https:\/\/x","user_agent":"caf\u00e9 \ud83d\ude00")"),
                  &e),
            Invalid::kOk)
      << parser_.error_detail();
  EXPECT_EQ(e.referrer_url, "https://www.glamira.fr/bague-fian\xc3\xa7" "ailles");
  EXPECT_EQ(e.current_url, "https://x");
  EXPECT_EQ(e.user_agent, "caf\xc3\xa9 \xf0\x9f\x98\x80");  // é and U+1F600
}

// PostgreSQL text cannot hold NUL: "\u0000" decodes to U+FFFD, in every
// field, and the views of several such fields stay valid together.
TEST_F(EventParserTest, EscapedNulDecodesToTheReplacementCharacter) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":"nul\u0000inside","store_id":"\u0000",)"
                           R"("referrer_url":"https://x.de/\u0000\u0000","device_id":"d\u0000",)"
                           R"("user_agent":"M\u0000","current_url":"\u0000/x")"),
                  &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, "nul\xEF\xBF\xBDinside");
  EXPECT_EQ(e.store_id, "\xEF\xBF\xBD");
  EXPECT_EQ(e.referrer_url, "https://x.de/\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(e.device_id, "d\xEF\xBF\xBD");
  EXPECT_EQ(e.user_agent, "M\xEF\xBF\xBD");
  EXPECT_EQ(e.current_url, "\xEF\xBF\xBD/x");
  // An escaped NUL inside a $oid too.
  ASSERT_EQ(Parse(WithTime(R"("product_id":{"$oid":"a\u0000b"})"), &e), Invalid::kOk);
  EXPECT_EQ(e.product_id, "a\xEF\xBF\xBD" "b");
}

TEST_F(EventParserTest, RawUtf8IsKept) {
  Event e;
  ASSERT_EQ(Parse(WithTime("\"current_url\":\"https://www.glamira.de/verlobungsringe-f\xc3\xbcr\""), &e),
            Invalid::kOk);
  EXPECT_EQ(e.current_url, "https://www.glamira.de/verlobungsringe-f\xc3\xbcr");
}

TEST_F(EventParserTest, UrlLongerThan8KB) {
  const std::string url = "https://example.com/?q=" + std::string(9000, 'a');
  const std::string escaped_url =
      "https:\\/\\/example.com\\/?q=" + std::string(9000, 'a');
  Event e;
  ASSERT_EQ(Parse(WithTime(absl::StrCat("\"referrer_url\":\"", url,
                                        "\",\"current_url\":\"", escaped_url, "\"")),
                  &e),
            Invalid::kOk);
  EXPECT_EQ(e.referrer_url, url);
  EXPECT_EQ(e.current_url, url);
}

TEST_F(EventParserTest, OidObjectIsItsString) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("_id":{"$oid":"abc"},"product_id":{"$oid":"p1"},)"
                           R"("store_id":{ "$oid" : "s\/1" },"device_id":{"$oid":"d"})"),
                  &e),
            Invalid::kOk);
  EXPECT_EQ(e.id, "abc");
  EXPECT_EQ(e.product_id, "p1");
  EXPECT_EQ(e.store_id, "s/1");
  EXPECT_EQ(e.device_id, "d");
}

TEST_F(EventParserTest, OidOnANonIdFieldOrWithMoreMembersIsRawJson) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("referrer_url":{"$oid":"abc"},)"
                           R"("product_id":{"$oid":"a","x":1} ,"store_id":{"$oid":5})"),
                  &e),
            Invalid::kOk);
  EXPECT_EQ(e.referrer_url, R"({"$oid":"abc"})");
  EXPECT_EQ(e.product_id, R"({"$oid":"a","x":1})");
  EXPECT_EQ(e.store_id, R"({"$oid":5})");
}

TEST_F(EventParserTest, OtherObjectsAndArraysAreTheirTextAsWritten) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":[1, 2 ,"a\/b"]  ,"store_id":{"a" : {"b":[]}},)"
                           R"("device_id":[])"),
                  &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, R"([1, 2 ,"a\/b"])");
  EXPECT_EQ(e.store_id, R"({"a" : {"b":[]}})");
  EXPECT_EQ(e.device_id, "[]");
}

TEST_F(EventParserTest, BooleansAreTrueAndFalse) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":true,"store_id":false)"), &e),
            Invalid::kOk);
  EXPECT_EQ(e.product_id, "true");
  EXPECT_EQ(e.store_id, "false");
}

TEST_F(EventParserTest, NullEmptyAndMissingAreUnknown) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product_id":null,"store_id":"","device_id":null)"), &e),
            Invalid::kOk);
  EXPECT_TRUE(e.product_id.empty());
  EXPECT_TRUE(e.store_id.empty());
  EXPECT_TRUE(e.device_id.empty());
  EXPECT_TRUE(e.referrer_url.empty());  // missing
  EXPECT_TRUE(e.id.empty());
  EXPECT_FALSE(e.has_time_stamp);
}

TEST_F(EventParserTest, FieldsInAnyOrderAndDuplicatesFirstWins) {
  Event e;
  ASSERT_EQ(Parse(R"({"product_id":"first","store_id":1,"product_id":"second",)"
                  R"("local_time":"2024-03-05T10:20:30","local_time":"bad"})",
                  &e),
            Invalid::kOk)
      << parser_.error_detail();
  EXPECT_EQ(e.product_id, "first");
  EXPECT_EQ(e.local_time, k20240305T102030);
}

TEST_F(EventParserTest, EscapedKeysAreMatchedDecoded) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("product\u005fid":"p")"), &e), Invalid::kOk);
  EXPECT_EQ(e.product_id, "p");
}

TEST_F(EventParserTest, BothLocalTimeFormats) {
  Event space, t;
  ASSERT_EQ(Parse(R"({"local_time":"2024-03-05 10:20:30"})", &space), Invalid::kOk);
  ASSERT_EQ(Parse(R"({"local_time":"2024-03-05T10:20:30"})", &t), Invalid::kOk);
  EXPECT_EQ(space.local_time, k20240305T102030);
  EXPECT_EQ(t.local_time, k20240305T102030);
}

TEST_F(EventParserTest, EscapedLocalTimeIsDecodedFirst) {
  Event e;
  ASSERT_EQ(Parse(R"({"local_time":"2024-03-05\u002010:20:30"})", &e), Invalid::kOk);
  EXPECT_EQ(e.local_time, k20240305T102030);
}

TEST_F(EventParserTest, MissingOrNullLocalTime) {
  Event e;
  EXPECT_EQ(Parse(R"({"product_id":"1"})", &e), Invalid::kMissingLocalTime);
  EXPECT_THAT(std::string(parser_.error_detail()), HasSubstr("local_time"));
  EXPECT_EQ(Parse(R"({"local_time":null})", &e), Invalid::kMissingLocalTime);
  EXPECT_EQ(Parse(R"({})", &e), Invalid::kMissingLocalTime);
}

TEST_F(EventParserTest, BadLocalTime) {
  Event e;
  for (const char* json : {
           R"({"local_time":"2024-13-01 00:00:00"})",
           R"({"local_time":"2023-02-29 00:00:00"})",
           R"({"local_time":"2024-03-05 24:00:00"})",
           R"({"local_time":"2024-03-05 10:60:00"})",
           R"({"local_time":"2024-03-05 10:00:60"})",
           R"({"local_time":"2024-03-05"})",
           R"({"local_time":"2024-03-05 10:20:30.123"})",
           R"({"local_time":"05/03/2024 10:20:30"})",
           R"({"local_time":""})",
           R"({"local_time":1709634030})",
           R"({"local_time":true})",
           R"({"local_time":["2024-03-05 10:20:30"]})",
           R"({"local_time":{"$date":"2024-03-05 10:20:30"}})",
       }) {
    EXPECT_EQ(Parse(json, &e), Invalid::kBadLocalTime) << json;
    EXPECT_THAT(std::string(parser_.error_detail()), HasSubstr("local_time"))
        << json;
  }
  Parse(R"({"local_time":"2024-13-01 00:00:00"})", &e);
  EXPECT_EQ(parser_.error_detail(),
            "local_time: '2024-13-01 00:00:00' is not a valid date and time "
            "(YYYY-MM-DD HH:MM:SS)");
}

TEST_F(EventParserTest, NotJson) {
  Event e;
  for (const char* json : {
           "",
           "   ",
           "xyz",
           R"({"local_time":"2024-03-05 10:20:30")",  // truncated
           R"({"local_time":"2024-03-05 10:20:30"} xyz)",
           R"({"local_time":"2024-03-05 10:20:30"} {})",
           R"({"local_time":"2024-03-05 10:20:30"}})",
           R"({"local_time":"2024-03-05 10:20:30","ip":tru})",
           R"({"local_time":"2024-03-05 10:20:30","ip":nul})",
           R"({"local_time":"2024-03-05 10:20:30","ip":01})",
           R"({"local_time":"2024-03-05 10:20:30","ip":1.})",
           R"({"local_time":"2024-03-05 10:20:30","ip":"\q"})",
           R"({"local_time":"2024-03-05 10:20:30","ip":"\ud800"})",
           R"({"local_time":"2024-03-05 10:20:30","option":[1,]})",
           R"({"local_time":"2024-03-05 10:20:30","option":[{"a":1,}]})",
           R"({"local_time":"2024-03-05 10:20:30",})",
           R"({"local_time":"2024-03-05 10:20:30","ip":"a":1})",  // string then ':'
           R"({"local_time":"2024-03-05 10:20:30":"x"})",
           R"({"local_time":"2024-03-05 10:20:30","option":["a":1]})",
           R"({"local_time" "2024-03-05 10:20:30"})",
           R"({"local_time":"2024-03-05 10:20:30","product_id":12a})",
           R"({"local_time":"2024-03-05 10:20:30","product_id":{"$oid":"\x"}})",
           R"({"local_time":"2024-03-05 10:20:30","product_id":[1}})",
           "{\"local_time\":\"2024-03-05 10:20:30\",\"ip\":\"\xff\"}",  // bad UTF-8
           "{\"local_time\":\"2024-03-05 10:20:30\",\"ip\":\"\xc3\"}",  // truncated UTF-8
           "{\"local_time\":\"2024-03-05 10:20:30\",\"ip\":\"a\x01" "b\"}",  // raw control char
       }) {
    EXPECT_EQ(Parse(json, &e), Invalid::kNotJson) << json;
    EXPECT_FALSE(parser_.error_detail().empty()) << json;
  }
}

TEST_F(EventParserTest, JsonErrorWinsOverLocalTimeError) {
  Event e;
  EXPECT_EQ(Parse(R"({"local_time":"bad","ip":tru})", &e), Invalid::kNotJson);
  EXPECT_EQ(Parse(R"({"ip":tru})", &e), Invalid::kNotJson);
}

TEST_F(EventParserTest, ErrorDetailNamesFieldAndByte) {
  Event e;
  EXPECT_EQ(Parse(R"({"local_time":"2024-03-05 10:20:30","product_id":12a})", &e),
            Invalid::kNotJson);
  EXPECT_EQ(parser_.error_detail(),
            "byte 49 (field 'product_id'): invalid number '12a'");
}

TEST_F(EventParserTest, NotObject) {
  Event e;
  for (const char* json : {R"([{"local_time":"2024-03-05 10:20:30"}])", "123",
                           R"("a string")", "true", "null", "[]", " [1, 2] "}) {
    EXPECT_EQ(Parse(json, &e), Invalid::kNotObject) << json;
  }
  // Not an object and not JSON either.
  EXPECT_EQ(Parse("[1,", &e), Invalid::kNotJson);
  EXPECT_EQ(Parse("123 456", &e), Invalid::kNotJson);
  EXPECT_EQ(Parse("[tru]", &e), Invalid::kNotJson);
}

TEST_F(EventParserTest, NestingLimit) {
  Event e;
  std::string ok = std::string(kMaxNesting - 1, '[') + std::string(kMaxNesting - 1, ']');
  EXPECT_EQ(Parse(WithTime("\"option\":" + ok), &e), Invalid::kOk)
      << parser_.error_detail();
  std::string deep = std::string(kMaxNesting, '[') + std::string(kMaxNesting, ']');
  EXPECT_EQ(Parse(WithTime("\"option\":" + deep), &e), Invalid::kNotJson);
  EXPECT_THAT(std::string(parser_.error_detail()), HasSubstr("nesting"));
  // Deep nesting far beyond the limit does not exhaust the stack.
  std::string very_deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(Parse(WithTime("\"option\":" + very_deep), &e), Invalid::kNotJson);
}

TEST_F(EventParserTest, TimeStampNumberOrNumericString) {
  Event e;
  ASSERT_EQ(Parse(WithTime(R"("time_stamp":"1591266092")"), &e), Invalid::kOk);
  EXPECT_TRUE(e.has_time_stamp);
  EXPECT_EQ(e.time_stamp, 1591266092);
  for (const char* bad : {R"("time_stamp":"abc")", R"("time_stamp":1.5)",
                          R"("time_stamp":" 12")", R"("time_stamp":null)",
                          R"("time_stamp":99999999999999999999)",
                          R"("time_stamp":[1])"}) {
    ASSERT_EQ(Parse(WithTime(bad), &e), Invalid::kOk) << bad;
    EXPECT_FALSE(e.has_time_stamp) << bad;
    EXPECT_EQ(e.time_stamp, 0) << bad;
  }
}

TEST_F(EventParserTest, ViewsStayValidUntilTheNextParse) {
  // Escaped strings live in the parser's buffer, plain ones in the payload.
  Event first;
  ASSERT_EQ(Parse(WithTime(R"("product_id":"p\/1","store_id":"plain")"), &first),
            Invalid::kOk);
  const std::string product_copy(first.product_id);
  // Other work that does not call Parse() leaves the views intact.
  std::string unrelated(100000, 'z');
  EXPECT_EQ(first.product_id, "p/1");
  EXPECT_EQ(first.store_id, "plain");
  EXPECT_EQ(first.product_id, product_copy);
  // A second parser does not disturb the first one's views.
  EventParser other;
  PaddedPayload other_payload(WithTime(R"("product_id":"q\/2")"));
  Event other_event;
  ASSERT_EQ(other.Parse(other_payload.view(), &other_event), Invalid::kOk);
  EXPECT_EQ(first.product_id, "p/1");
  EXPECT_EQ(other_event.product_id, "q/2");
}

TEST_F(EventParserTest, ReusesTheParserAcrossManyRecords) {
  Event e;
  for (int i = 0; i < 1000; ++i) {
    const std::string json = WithTime(absl::StrCat(
        "\"product_id\":", i, ",\"referrer_url\":\"https:\\/\\/r\\/", i, "\""));
    PaddedPayload payload(json);
    ASSERT_EQ(parser_.Parse(payload.view(), &e), Invalid::kOk);
    EXPECT_EQ(e.product_id, absl::StrCat(i));
    EXPECT_EQ(e.referrer_url, absl::StrCat("https://r/", i));
    if (i % 7 == 0) {
      PaddedPayload bad("{\"local_time\":");
      EXPECT_EQ(parser_.Parse(bad.view(), &e), Invalid::kNotJson);
    }
  }
}

TEST(InvalidNameTest, Names) {
  EXPECT_EQ(InvalidName(Invalid::kOk), "ok");
  EXPECT_EQ(InvalidName(Invalid::kNotJson), "not_json");
  EXPECT_EQ(InvalidName(Invalid::kNotObject), "not_object");
  EXPECT_EQ(InvalidName(Invalid::kMissingLocalTime), "missing_local_time");
  EXPECT_EQ(InvalidName(Invalid::kBadLocalTime), "bad_local_time");
}

TEST(ParseLocalTimeTest, LeapYears) {
  int64_t t = 0;
  EXPECT_TRUE(ParseLocalTime("2024-02-29 00:00:00", &t));
  EXPECT_EQ(t, 1709164800);
  EXPECT_TRUE(ParseLocalTime("2000-02-29 12:00:00", &t));  // divisible by 400
  EXPECT_FALSE(ParseLocalTime("2023-02-29 00:00:00", &t));
  EXPECT_FALSE(ParseLocalTime("1900-02-29 00:00:00", &t));  // divisible by 100
  EXPECT_FALSE(ParseLocalTime("2024-02-30 00:00:00", &t));
  EXPECT_FALSE(ParseLocalTime("2024-04-31 00:00:00", &t));
  EXPECT_TRUE(ParseLocalTime("2024-12-31 23:59:59", &t));
  EXPECT_EQ(t, 1735689599);
}

TEST(ParseLocalTimeTest, EpochAndBefore) {
  int64_t t = 1;
  EXPECT_TRUE(ParseLocalTime("1970-01-01 00:00:00", &t));
  EXPECT_EQ(t, 0);
  EXPECT_TRUE(ParseLocalTime("1969-12-31 23:59:59", &t));
  EXPECT_EQ(t, -1);
  EXPECT_EQ(star::DayFromUnixSeconds(-1), -1);
  EXPECT_EQ(star::DayFromUnixSeconds(0), 0);
  EXPECT_EQ(star::DayFromUnixSeconds(86399), 0);
  EXPECT_EQ(star::DayFromUnixSeconds(-86400), -1);
  EXPECT_EQ(star::DayFromUnixSeconds(-86401), -2);
}

TEST(ParseLocalTimeTest, Malformed) {
  int64_t t = 0;
  for (const char* text :
       {"", "2024-03-05 10:20:3", "2024-03-05 10:20:300", "2024/03/05 10:20:30",
        "2024-03-05_10:20:30", "2024-03-05 10-20-30", "2024-0a-05 10:20:30",
        "+024-03-05 10:20:30", "0000-01-01 00:00:00", "2024-00-05 10:20:30",
        "2024-03-00 10:20:30", " 2024-03-05 10:20:3"}) {
    EXPECT_FALSE(ParseLocalTime(text, &t)) << text;
  }
  EXPECT_TRUE(ParseLocalTime("0001-01-01 00:00:00", &t));
  EXPECT_TRUE(ParseLocalTime("9999-12-31 23:59:59", &t));
}

}  // namespace
}  // namespace pv::event
