// Integration test against FerretDB (tools/services/ferretdb.sh). Fails,
// never skips, when PV_MONGO_URI is missing:
//   eval "$(tools/services/all.sh env)"
//   bazel test --test_tag_filters=integration //cc/mongo/...
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/mongo/mongo.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::mongo {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Counts the commands the driver sends, by name.
struct CommandLog {
  int find = 0;
  int get_more = 0;
};

void OnCommandStarted(const mongoc_apm_command_started_t* event) {
  auto* log = static_cast<CommandLog*>(mongoc_apm_command_started_get_context(event));
  const char* name = mongoc_apm_command_started_get_command_name(event);
  if (std::strcmp(name, "find") == 0) ++log->find;
  if (std::strcmp(name, "getMore") == 0) ++log->get_more;
}

class MongoIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* uri = std::getenv("PV_MONGO_URI");
    ASSERT_TRUE(uri != nullptr && *uri != '\0')
        << "PV_MONGO_URI is not set (start the services with tools/services/all.sh "
           "start and eval its env)";
    auto client = MongoClient::Connect(uri);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    mongoc_apm_callbacks_t* cbs = mongoc_apm_callbacks_new();
    mongoc_apm_set_command_started_cb(cbs, OnCommandStarted);
    ASSERT_TRUE(mongoc_client_set_apm_callbacks(client_->raw(), cbs, &commands_));
    mongoc_apm_callbacks_destroy(cbs);
  }

  static std::vector<Document> Docs(const std::vector<std::string>& json) {
    std::vector<Document> out;
    for (const std::string& j : json) {
      auto d = Document::FromJson(j);
      EXPECT_TRUE(d.ok()) << d.status();
      out.push_back(std::move(*d));
    }
    return out;
  }

  std::unique_ptr<MongoClient> client_;
  CommandLog commands_;
};

TEST_F(MongoIntegrationTest, DocumentsRoundTripThroughTheServer) {
  Collection events = client_->GetCollection(
      "pv_it", absl::StrCat("events_", getpid(), "_", absl::ToUnixMicros(absl::Now())));
  ASSERT_TRUE(events.Drop().ok());
  ASSERT_TRUE(events.CreateIndex(R"({"product_id": 1})", "product_id_1", false).ok());

  // Unordered insert: the duplicate _id 3 (index 10) is reported and the
  // documents after it are still inserted.
  std::vector<std::string> json;
  for (int i = 1; i <= 10; ++i) {
    json.push_back(absl::StrCat(R"({"_id": )", i, R"(, "product_id": ")", 100 + i % 3, R"("})"));
  }
  json.push_back(R"({"_id": 3, "product_id": "dup"})");
  json.push_back(R"({"_id": 11, "product_id": "111"})");
  auto inserted = events.InsertMany(Docs(json));
  ASSERT_TRUE(inserted.ok()) << inserted.status();
  EXPECT_EQ(inserted->inserted, 11);
  EXPECT_THAT(inserted->duplicate_indexes, ElementsAre(10));

  // A batch of only already-stored documents.
  auto again = events.InsertMany(Docs({R"({"_id": 1})", R"({"_id": 2})"}));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->inserted, 0);
  EXPECT_THAT(again->duplicate_indexes, ElementsAre(0, 1));

  // An event as the seed stores it, with nesting and non-ASCII text.
  const std::string event =
      R"({"_id": "evt-1", "product_id": "123", "local_time": "2024-05-01 10:00:00",)"
      R"( "option": [{"option_label": "alloy", "value_id": 5}], "url": "https://x/é"})";
  auto event_doc = Document::FromJson(event);
  ASSERT_TRUE(event_doc.ok());
  const bson_t* one[] = {event_doc->get()};
  ASSERT_TRUE(events.InsertMany(one, 1).ok());

  auto total = events.Count();
  ASSERT_TRUE(total.ok()) << total.status();
  EXPECT_EQ(*total, 12);
  auto some = events.Count(R"({"_id": {"$gte": 5, "$lte": 11}})");
  ASSERT_TRUE(some.ok()) << some.status();
  EXPECT_EQ(*some, 7);

  // find with a small batch: the rest comes by getMore.
  FindOptions options;
  options.batch_size = 3;
  options.sort_json = R"({"_id": 1})";
  commands_ = {};
  auto cursor = events.Find(R"({"_id": {"$type": "number"}})", options);
  ASSERT_TRUE(cursor.ok()) << cursor.status();
  std::vector<int64_t> ids;
  const bson_t* doc = nullptr;
  for (;;) {
    auto next = cursor->Next(&doc);
    ASSERT_TRUE(next.ok()) << next.status();
    if (!*next) break;
    bson_iter_t it;
    ASSERT_TRUE(bson_iter_init_find(&it, doc, "_id"));
    ids.push_back(bson_iter_as_int64(&it));
  }
  EXPECT_THAT(ids, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11));
  EXPECT_EQ(commands_.find, 1);
  EXPECT_GE(commands_.get_more, 3);

  // The event comes back equal, field for field.
  auto found = events.Find(R"({"_id": "evt-1"})");
  ASSERT_TRUE(found.ok());
  auto has = found->Next(&doc);
  ASSERT_TRUE(has.ok() && *has) << has.status();
  EXPECT_EQ(RelaxedJson(doc), event_doc->RelaxedJson());
  EXPECT_TRUE(bson_equal(doc, event_doc->get()));

  auto deleted = events.DeleteMany(R"({"_id": {"$lte": 5}})");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 5);
  auto left = events.Count();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(*left, 7);

  EXPECT_TRUE(events.Drop().ok());
}

TEST_F(MongoIntegrationTest, NonDuplicateWriteErrorIsAnError) {
  Collection c = client_->GetCollection(
      "pv_it", absl::StrCat("bad_", getpid(), "_", absl::ToUnixMicros(absl::Now())));
  // A field name starting with '$' is not storable.
  auto result = c.InsertMany(Docs({R"({"_id": 1})", R"({"_id": 2, "$bad": 1})"}));
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(c.full_name()));
  // Reported by the server (code 2) for the second document.
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("document 1 of 2"));
  EXPECT_TRUE(c.Drop().ok());
}

}  // namespace
}  // namespace pv::mongo
