// //tools:kafka_count against the local 3-broker SASL cluster of
// tools/services/kafka.sh (eval "$(tools/services/all.sh env)" first).
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
#include "cc/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ToolRun {
  int exit_code;
  std::string output;
};

// Runs the tool from runfiles with `args` (shell-quoted by the caller),
// stdin from /dev/null.
ToolRun RunTool(const std::string& args) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = absl::StrCat(tmp ? tmp : "/tmp", "/kafka_count-", getpid(), ".out");
  const std::string cmd = absl::StrCat("'", srcdir ? srcdir : ".",
                                       "/productview/tools/kafka_count' ", args,
                                       " </dev/null >'", out, "' 2>&1");
  const int status = std::system(cmd.c_str());
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

TEST(KafkaCountIntegrationTest, CountsEveryPartitionFromWatermarks) {
  auto config = pv::kafka::KafkaConfig::FromEnv("PV_KAFKA");
  ASSERT_TRUE(config.ok()) << config.status().message()
                           << " (run tools/services/all.sh start and eval its env)";
  const std::string topic =
      absl::StrCat("pv-it-kafka-count-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
  auto admin = pv::kafka::Admin::Create(*config);
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->CreateTopic(topic, 3, 3, absl::Seconds(30)).ok());
  {
    auto producer = pv::kafka::Producer::Create(*config, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int p = 0; p < 3; ++p) {
      for (int i = 0; i < 10 * (p + 1); ++i) {
        ASSERT_TRUE((*producer)->Produce(topic, p, "", absl::StrCat("m", i)).ok());
      }
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(60)).ok());
  }

  const ToolRun run = RunTool(absl::StrCat("--topic=", topic));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("total 60 messages in 3 partitions")) << run.output;
  // partition, low, high, messages
  std::vector<std::vector<std::string>> rows;
  for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
    rows.push_back(absl::StrSplit(line, ' ', absl::SkipEmpty()));
  }
  using Row = std::vector<std::string>;
  EXPECT_THAT(rows, testing::Contains(Row{"0", "0", "10", "10"})) << run.output;
  EXPECT_THAT(rows, testing::Contains(Row{"1", "0", "20", "20"})) << run.output;
  EXPECT_THAT(rows, testing::Contains(Row{"2", "0", "30", "30"})) << run.output;
  const char* password = std::getenv("PV_KAFKA_PASSWORD");
  ASSERT_NE(password, nullptr);
  EXPECT_THAT(run.output, Not(HasSubstr(password)));
}

TEST(KafkaCountIntegrationTest, MissingTopicFailsNamingIt) {
  ASSERT_NE(std::getenv("PV_KAFKA_BROKERS"), nullptr);
  const ToolRun run = RunTool("--topic=pv-it-kafka-count-no-such-topic --timeout=10s");
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("pv-it-kafka-count-no-such-topic"));
}

}  // namespace
