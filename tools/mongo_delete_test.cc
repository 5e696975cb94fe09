// //tools:mongo_delete must refuse to delete when nobody can confirm: stdin
// is not a terminal and --yes was not given. No server needed: it refuses
// before connecting (the URI below has nothing listening).
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

struct ToolRun {
  int exit_code;
  std::string output;
};

ToolRun RunDelete(const std::string& args) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(tmp ? tmp : "/tmp", "/mongo_delete-", getpid(), ".out");
  const std::string cmd =
      absl::StrCat("'", srcdir ? srcdir : ".", "/productview/tools/mongo_delete' ", args,
                   " </dev/null >'", out, "' 2>&1");
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

TEST(MongoDeleteTest, RefusesWithoutYesWhenStdinIsNotATerminal) {
  const ToolRun run = RunDelete("--mongo-uri=mongodb://127.0.0.1:1/ --timeout=1s");
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_THAT(run.output, HasSubstr("refusing"));
  EXPECT_THAT(run.output, HasSubstr("--yes"));
}

TEST(MongoDeleteTest, WithYesItGoesOnToConnect) {
  // Nothing listens on port 1: connecting fails (exit 1), which shows that
  // --yes passed the confirmation step.
  const ToolRun run = RunDelete("--mongo-uri=mongodb://127.0.0.1:1/ --timeout=1s --yes");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, testing::Not(HasSubstr("refusing")));
}

}  // namespace
