#include "cc/mongo/mongo.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::mongo {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(DocumentTest, JsonRoundTripAndErrors) {
  auto doc = Document::FromJson(R"({"_id": 7, "url": "https://x/\u00e9", "n": {"$numberLong": "5"}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->RelaxedJson(), R"({ "_id" : 7, "url" : "https://x/é", "n" : 5 })");
  EXPECT_THAT(doc->CanonicalJson(), HasSubstr(R"("$numberLong" : "5")"));
  Document moved = std::move(*doc);
  EXPECT_THAT(moved.RelaxedJson(), HasSubstr("_id"));

  auto bad = Document::FromJson("{not json");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Document().RelaxedJson(), "{ }");
}

TEST(MongoClientTest, InvalidUriDoesNotEchoPassword) {
  auto c = MongoClient::Connect("mongodb://u:hunter2@/?bad", absl::Milliseconds(200));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("hunter2")));
}

// Nothing listens on port 1: Connect must fail within its timeout.
TEST(MongoClientTest, UnreachableServerIsUnavailable) {
  auto c = MongoClient::Connect("mongodb://u:hunter2@127.0.0.1:1/", absl::Milliseconds(300));
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable) << c.status();
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("hunter2")));
}

}  // namespace
}  // namespace pv::mongo
