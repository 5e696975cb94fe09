// Integration tests against the local 3-broker SASL/PLAIN cluster started by
// tools/services/kafka.sh. They fail (never skip) when its settings are
// missing from the environment:
//   eval "$(tools/services/all.sh env)"
//   bazel test --test_tag_filters=integration //cc/kafka/...
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kOpTimeout = absl::Seconds(30);

std::string UniqueName(absl::string_view what) {
  return absl::StrCat("pv-it-", what, "-", getpid(), "-", absl::ToUnixMicros(absl::Now()));
}

class KafkaIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = KafkaConfig::FromEnv("PV_KAFKA");
    ASSERT_TRUE(config.ok()) << config.status().message();
    ASSERT_EQ(config->Get("security.protocol"), "SASL_PLAINTEXT")
        << "PV_KAFKA_USER and PV_KAFKA_PASSWORD must be set: the local cluster "
           "only accepts SASL/PLAIN clients";
    config_ = *config;
    auto admin = Admin::Create(config_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(*admin);
  }

  // A new topic, 3 partitions, RF 3, min ISR 2.
  std::string NewTopic(absl::string_view what) {
    const std::string topic = UniqueName(what);
    const absl::Status s =
        admin_->CreateTopic(topic, 3, 3, kOpTimeout, {{"min.insync.replicas", "2"}});
    EXPECT_TRUE(s.ok()) << s;
    return topic;
  }

  int64_t MessagesInTopic(const std::string& topic) {
    auto marks = admin_->Watermarks(topic, kOpTimeout);
    EXPECT_TRUE(marks.ok()) << marks.status();
    if (!marks.ok()) return -1;
    int64_t n = 0;
    for (const PartitionWatermarks& w : *marks) n += w.high - w.low;
    return n;
  }

  // Produces values "<prefix><i>" for i in [begin, end) with acks=all and an
  // idempotent producer; returns the Flush status.
  absl::Status ProduceRange(const std::string& topic, absl::string_view prefix, int begin,
                            int end) {
    ProducerOptions options;
    options.acks = "all";
    options.idempotence = true;
    auto producer = Producer::Create(config_, options);
    if (!producer.ok()) return producer.status();
    for (int i = begin; i < end; ++i) {
      absl::Status s = (*producer)->Produce(topic, kAnyPartition, absl::StrCat("key-", i),
                                            absl::StrCat(prefix, i),
                                            {{"source", "integration-test"}});
      if (!s.ok()) return s;
    }
    absl::Status s = (*producer)->Flush(absl::Seconds(60));
    if (s.ok() && (*producer)->delivered() != end - begin) {
      return absl::InternalError(absl::StrCat("delivered ", (*producer)->delivered(),
                                              " of ", end - begin));
    }
    return s;
  }

  // Reads `topic` through a new consumer group until `expected` messages
  // arrived (and a little longer, to catch extras), commits, and checks the
  // committed offsets. Returns every value read.
  std::vector<std::string> ConsumeAll(const std::string& topic, size_t expected) {
    std::vector<std::string> values;
    ConsumerOptions options;
    options.group_id = UniqueName("group");
    auto consumer = Consumer::Create(config_, options);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return values;
    EXPECT_TRUE((*consumer)->Subscribe({topic}).ok());
    std::map<int32_t, int64_t> next_offset;
    const absl::Time deadline = absl::Now() + absl::Seconds(90);
    absl::Time quiet_until = absl::InfiniteFuture();
    while (absl::Now() < deadline && absl::Now() < quiet_until) {
      auto m = (*consumer)->Poll(absl::Milliseconds(500));
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) break;
      if (m->empty()) continue;
      EXPECT_EQ(m->topic(), topic);
      values.emplace_back(m->value());
      next_offset[m->partition()] = m->offset() + 1;
      auto headers = m->headers();
      EXPECT_EQ(headers.size(), 1u);
      if (values.size() == expected) quiet_until = absl::Now() + absl::Seconds(2);
    }
    std::vector<TopicPartitionOffset> commit;
    for (const auto& [partition, offset] : next_offset) {
      commit.push_back({topic, partition, offset});
    }
    absl::Status committed = (*consumer)->Commit(commit);
    EXPECT_TRUE(committed.ok()) << committed;

    // The group's committed offsets are what we committed.
    auto read_back = (*consumer)->Committed(topic, {0, 1, 2}, absl::Seconds(10));
    EXPECT_TRUE(read_back.ok()) << read_back.status();
    if (read_back.ok()) {
      for (int32_t p = 0; p < 3; ++p) {
        const auto it = next_offset.find(p);
        if (it != next_offset.end()) {
          EXPECT_EQ((*read_back)[p], it->second) << "partition " << it->first;
        }
      }
    }
    EXPECT_TRUE((*consumer)->Close().ok());
    return values;
  }

  static void ExpectExactly(const std::vector<std::string>& values, absl::string_view prefix,
                            int n) {
    std::set<std::string> distinct(values.begin(), values.end());
    EXPECT_EQ(values.size(), static_cast<size_t>(n)) << "duplicates or losses";
    EXPECT_EQ(distinct.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      if (distinct.count(absl::StrCat(prefix, i)) == 0) {
        ADD_FAILURE() << "missing " << prefix << i;
        break;
      }
    }
  }

  KafkaConfig config_;
  std::unique_ptr<Admin> admin_;
};

TEST_F(KafkaIntegrationTest, SaslProducerAcksAllThenGroupConsumerReadsEverything) {
  const std::string topic = NewTopic("roundtrip");
  auto partitions = admin_->PartitionCount(topic, kOpTimeout);
  ASSERT_TRUE(partitions.ok()) << partitions.status();
  EXPECT_EQ(*partitions, 3);
  EXPECT_EQ(admin_->CreateTopic(topic, 3, 3, kOpTimeout).code(),
            absl::StatusCode::kAlreadyExists);

  constexpr int kMessages = 2000;
  const absl::Status produced = ProduceRange(topic, "value-", 0, kMessages);
  ASSERT_TRUE(produced.ok()) << produced;
  EXPECT_EQ(MessagesInTopic(topic), kMessages);
  ExpectExactly(ConsumeAll(topic, kMessages), "value-", kMessages);

  EXPECT_TRUE(admin_->DeleteTopic(topic, kOpTimeout).ok());
}

TEST_F(KafkaIntegrationTest, WrongPasswordIsAClearAuthenticationError) {
  const std::string kWrong = "not-the-password-42";
  KafkaConfig bad = config_;
  bad.Set("sasl.password", kWrong);

  ProducerOptions options;
  options.close_timeout = absl::ZeroDuration();
  auto producer = Producer::Create(bad, options);
  ASSERT_TRUE(producer.ok()) << producer.status();
  ASSERT_TRUE((*producer)->Produce("pv-it-auth", kAnyPartition, "k", "v").ok());
  // A hang would end as kDeadlineExceeded; authentication must be named.
  const absl::Status flushed = (*producer)->Flush(absl::Seconds(30));
  EXPECT_EQ(flushed.code(), absl::StatusCode::kUnauthenticated) << flushed;
  EXPECT_THAT(std::string(flushed.message()), HasSubstr("authentication failed"));
  EXPECT_THAT(std::string(flushed.message()), Not(HasSubstr(kWrong)));
  // Later calls fail at once with the same reason.
  EXPECT_EQ((*producer)->Produce("pv-it-auth", kAnyPartition, "k", "v").code(),
            absl::StatusCode::kUnauthenticated);

  auto admin = Admin::Create(bad);
  ASSERT_TRUE(admin.ok());
  const absl::Status created = (*admin)->CreateTopic(UniqueName("auth"), 1, 1, kOpTimeout);
  EXPECT_EQ(created.code(), absl::StatusCode::kUnauthenticated) << created;
  EXPECT_THAT(std::string(created.message()), Not(HasSubstr(kWrong)));

  ConsumerOptions copts;
  copts.group_id = UniqueName("auth-group");
  auto consumer = Consumer::Create(bad, copts);
  ASSERT_TRUE(consumer.ok());
  ASSERT_TRUE((*consumer)->Subscribe({"pv-it-auth"}).ok());
  auto polled = (*consumer)->Poll(absl::Seconds(30));
  EXPECT_EQ(polled.status().code(), absl::StatusCode::kUnauthenticated) << polled.status();
  EXPECT_THAT(std::string(polled.status().message()), Not(HasSubstr(kWrong)));
}

// Runs tools/services/kafka.sh with `args`; returns its exit status.
int KafkaScript(absl::string_view args) {
  const char* root = std::getenv("PV_REPO_ROOT");
  if (root == nullptr || *root == '\0') return -1;
  const std::string cmd = absl::StrCat("'", root, "/tools/services/kafka.sh' ", args);
  return std::system(cmd.c_str());
}

TEST_F(KafkaIntegrationTest, OneBrokerDownAcksAllStillSucceedsAndNothingIsLost) {
  ASSERT_NE(std::getenv("PV_REPO_ROOT"), nullptr)
      << "PV_REPO_ROOT must name the repository (forward it with --test_env)";
  const std::string topic = NewTopic("brokerloss");
  constexpr int kMessages = 3000;
  const absl::Status first_half = ProduceRange(topic, "m-", 0, kMessages / 2);
  ASSERT_TRUE(first_half.ok()) << first_half;

  ASSERT_EQ(KafkaScript("stop-broker 2"), 0);
  // Whatever happens below, bring broker 2 back for the next tests.
  struct Restart {
    ~Restart() { EXPECT_EQ(KafkaScript("start-broker 2"), 0); }
  } restart;

  // 2 of 3 replicas still meet min.insync.replicas=2.
  const absl::Status s = ProduceRange(topic, "m-", kMessages / 2, kMessages);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(MessagesInTopic(topic), kMessages);
  ExpectExactly(ConsumeAll(topic, kMessages), "m-", kMessages);
}

}  // namespace
}  // namespace pv::kafka
