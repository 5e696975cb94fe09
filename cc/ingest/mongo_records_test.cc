#include "cc/ingest/mongo_records.h"

#include <string>

#include "cc/event/event.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

// The payload as the batch job's EventParser reads it.
struct Fields {
  pv::event::Invalid reason;
  std::string id, product_id, store_id, referrer_url, device_id, current_url, user_agent;
  int64_t local_time = 0;
};

Fields Parse(const std::string& payload) {
  std::string padded = payload;
  padded.append(pv::event::kPadding, '\0');
  pv::event::EventParser parser;
  pv::event::Event e;
  Fields f;
  f.reason = parser.Parse(absl::string_view(padded.data(), payload.size()), &e);
  if (f.reason == pv::event::Invalid::kOk) {
    f.id = std::string(e.id);
    f.product_id = std::string(e.product_id);
    f.store_id = std::string(e.store_id);
    f.referrer_url = std::string(e.referrer_url);
    f.device_id = std::string(e.device_id);
    f.current_url = std::string(e.current_url);
    f.user_agent = std::string(e.user_agent);
    f.local_time = e.local_time;
  }
  return f;
}

void ExpectSameEvent(const std::string& a, const std::string& b) {
  Fields x = Parse(a), y = Parse(b);
  EXPECT_EQ(x.reason, y.reason) << a << "\n" << b;
  EXPECT_EQ(x.id, y.id);
  EXPECT_EQ(x.product_id, y.product_id);
  EXPECT_EQ(x.store_id, y.store_id);
  EXPECT_EQ(x.referrer_url, y.referrer_url);
  EXPECT_EQ(x.device_id, y.device_id);
  EXPECT_EQ(x.current_url, y.current_url);
  EXPECT_EQ(x.user_agent, y.user_agent);
  EXPECT_EQ(x.local_time, y.local_time);
}

std::string RoundTrip(const std::string& payload, bool* raw = nullptr) {
  mongo::Document doc = RawStoreDocument(KafkaRecordId("views", 2, 17), payload, raw);
  auto exported = ExportRecord(doc.get());
  EXPECT_TRUE(exported.ok()) << exported.status();
  EXPECT_EQ(exported->source_id, "views:2:17");
  return exported->payload;
}

TEST(MongoRecordsTest, IdIsTheKafkaCoordinate) {
  EXPECT_EQ(KafkaRecordId("product_views", 0, 123), "product_views:0:123");
  mongo::Document doc = RawStoreDocument("t:1:2", R"({"_id": 5, "a": "b"})");
  EXPECT_EQ(doc.RelaxedJson(), R"({ "_id" : "t:1:2", "_source_id" : 5, "a" : "b" })");
}

TEST(MongoRecordsTest, EventRoundTripsWithItsOwnId) {
  const std::string payload =
      R"({"_id":{"$oid":"5ed8cb2bc671fc36b74653ad"},"time_stamp":1591266092,)"
      R"("local_time":"2020-06-04 10:21:32","product_id":"96672","store_id":6,)"
      R"("current_url":"https:\/\/www.glamira.de\/x?\u00e9=1","referrer_url":"",)"
      R"("device_id":null,"option":[{"option_id":"1","value_id":2}]})";
  bool raw = true;
  const std::string back = RoundTrip(payload, &raw);
  EXPECT_FALSE(raw);
  ExpectSameEvent(payload, back);
  EXPECT_EQ(Parse(back).id, "5ed8cb2bc671fc36b74653ad");
}

TEST(MongoRecordsTest, EventWithoutIdStaysWithoutId) {
  const std::string payload = R"({"local_time":"2020-06-04 10:21:32","product_id":12})";
  const std::string back = RoundTrip(payload);
  ExpectSameEvent(payload, back);
  EXPECT_EQ(back.find("\"_id\""), std::string::npos) << back;
}

TEST(MongoRecordsTest, InvalidRecordsAreStoredRawAndComeBackByteForByte) {
  for (const std::string& payload :
       {std::string("not json at all"), std::string("[1,2,3]"), std::string("\"str\""),
        std::string(R"({"a":1} trailing)"), std::string(R"({"$bad":1})"),
        std::string(R"({"a.b":1})"), std::string(R"({"_source_id":1,"x":2})"),
        std::string("{\"a\":\"\xff\xfe\"}"), std::string(""), std::string("\xc3\x28 bytes")}) {
    bool raw = false;
    EXPECT_EQ(RoundTrip(payload, &raw), payload);
    EXPECT_TRUE(raw) << payload;
  }
}

TEST(MongoRecordsTest, ForeignDocumentIsExportedWhole) {
  auto doc = mongo::Document::FromJson(
      R"({"_id": {"$oid": "5ed8cb2bc671fc36b74653ad"}, "local_time": "2020-06-04 10:21:32",
          "product_id": "1"})");
  ASSERT_TRUE(doc.ok());
  auto exported = ExportRecord(doc->get());
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->source_id, "5ed8cb2bc671fc36b74653ad");
  Fields f = Parse(exported->payload);
  EXPECT_EQ(f.reason, pv::event::Invalid::kOk);
  EXPECT_EQ(f.id, "5ed8cb2bc671fc36b74653ad");
  EXPECT_EQ(f.product_id, "1");
}

TEST(MongoRecordsTest, NumericIdTextAndResumeFilterKeepTheType) {
  auto doc = mongo::Document::FromJson(R"({"_id": {"$numberLong": "42"}, "x": 1})");
  ASSERT_TRUE(doc.ok());
  auto exported = ExportRecord(doc->get());
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->source_id, "42");
  auto filter = AfterIdFilter(exported->id_json);
  ASSERT_TRUE(filter.ok()) << filter.status();
  EXPECT_EQ(*filter, R"({ "_id" : { "$gt" : { "$numberLong" : "42" } } })");

  auto oid = mongo::Document::FromJson(R"({"_id": {"$oid": "5ed8cb2bc671fc36b74653ad"}})");
  auto oid_filter = AfterIdFilter(ExportRecord(oid->get())->id_json);
  ASSERT_TRUE(oid_filter.ok());
  EXPECT_EQ(*oid_filter, R"({ "_id" : { "$gt" : { "$oid" : "5ed8cb2bc671fc36b74653ad" } } })");

  auto text = AfterIdFilter(R"({ "_id" : "views:0:9" })");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, R"({ "_id" : { "$gt" : "views:0:9" } })");
}

TEST(MongoRecordsTest, DocumentWithoutIdIsAnError) {
  mongo::Document empty;
  EXPECT_FALSE(ExportRecord(empty.get()).ok());
}

}  // namespace
}  // namespace pv::ingest
