// //tools:mongo_check and //tools:mongo_delete --yes against the local
// FerretDB of tools/services (eval "$(tools/services/all.sh env)" first).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cc/mongo/mongo.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct ToolRun {
  int exit_code;
  std::string output;
};

ToolRun RunTool(const std::string& tool, const std::string& args) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(tmp ? tmp : "/tmp", "/", tool, "-", getpid(), ".out");
  const std::string cmd = absl::StrCat("'", srcdir ? srcdir : ".", "/productview/tools/", tool,
                                       "' ", args, " </dev/null >'", out, "' 2>&1");
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

TEST(MongoToolsIntegrationTest, CheckCountsAndSamplesThenDeleteEmptiesTheCollection) {
  const char* uri = std::getenv("PV_MONGO_URI");
  ASSERT_TRUE(uri != nullptr && *uri != '\0')
      << "PV_MONGO_URI is not set: run tools/services/all.sh start and eval its env";
  const std::string db = "pv_it_tools";
  const std::string coll = absl::StrCat("records_", getpid(), "_", absl::ToUnixMicros(absl::Now()));
  auto client = pv::mongo::MongoClient::Connect(uri);
  ASSERT_TRUE(client.ok()) << client.status();
  pv::mongo::Collection c = (*client)->GetCollection(db, coll);
  std::vector<pv::mongo::Document> docs;
  for (int i = 0; i < 5; ++i) {
    auto d = pv::mongo::Document::FromJson(
        absl::StrCat(R"({"_id": )", i, R"(, "product_id": "p)", i, R"("})"));
    ASSERT_TRUE(d.ok()) << d.status();
    docs.push_back(std::move(*d));
  }
  ASSERT_TRUE(c.InsertMany(docs).ok());

  const std::string target = absl::StrCat("--mongo-db=", db, " --mongo-collection=", coll);
  const ToolRun check = RunTool("mongo_check", absl::StrCat(target, " --samples=2"));
  ASSERT_EQ(check.exit_code, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr(absl::StrCat(db, ".", coll)));
  EXPECT_THAT(check.output, HasSubstr(": 5 documents"));
  EXPECT_THAT(check.output, HasSubstr(R"("product_id" : "p0")"));
  EXPECT_THAT(check.output, HasSubstr(R"("product_id" : "p1")"));
  EXPECT_THAT(check.output, testing::Not(HasSubstr(R"("product_id" : "p2")")));

  const ToolRun del = RunTool("mongo_delete", absl::StrCat(target, " --yes"));
  ASSERT_EQ(del.exit_code, 0) << del.output;
  EXPECT_THAT(del.output, HasSubstr("deleted 5 documents"));
  auto left = c.Count();
  ASSERT_TRUE(left.ok()) << left.status();
  EXPECT_EQ(*left, 0);

  const ToolRun empty = RunTool("mongo_check", target);
  ASSERT_EQ(empty.exit_code, 0) << empty.output;
  EXPECT_THAT(empty.output, HasSubstr(": 0 documents"));
  (void)c.Drop();
}

}  // namespace
