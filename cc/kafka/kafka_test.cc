#include "cc/kafka/kafka.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(KafkaConfigTest, DebugStringHidesSecrets) {
  KafkaConfig config;
  config.SetBrokers("127.0.0.1:9092")
      .SetSasl("PLAIN", "kafka", "s3cret-pw")
      .Set("ssl.key.password", "keypw")
      .Set("sasl.oauthbearer.config", "principal=x secret=y");
  const std::string s = config.DebugString();
  EXPECT_THAT(s, HasSubstr("bootstrap.servers=127.0.0.1:9092"));
  EXPECT_THAT(s, HasSubstr("sasl.username=kafka"));
  EXPECT_THAT(s, HasSubstr("sasl.password=***"));
  EXPECT_THAT(s, Not(HasSubstr("s3cret-pw")));
  EXPECT_THAT(s, Not(HasSubstr("keypw")));
  EXPECT_THAT(s, Not(HasSubstr("secret=y")));
}

TEST(KafkaConfigTest, SaslDefaultsProtocolButKeepsExplicitOne) {
  KafkaConfig a;
  a.SetSasl("PLAIN", "u", "p");
  EXPECT_EQ(a.Get("security.protocol"), "SASL_PLAINTEXT");
  KafkaConfig b;
  b.SetSecurityProtocol("SASL_SSL").SetSasl("PLAIN", "u", "p");
  EXPECT_EQ(b.Get("security.protocol"), "SASL_SSL");
}

TEST(KafkaConfigTest, SetReplacesAndAssignmentParses) {
  KafkaConfig config;
  config.Set("linger.ms", "5").Set("linger.ms", "10");
  EXPECT_EQ(config.Get("linger.ms"), "10");
  EXPECT_EQ(config.properties().size(), 1u);
  ASSERT_TRUE(config.SetFromAssignment("batch.size=65536").ok());
  EXPECT_EQ(config.Get("batch.size"), "65536");
  ASSERT_TRUE(config.SetFromAssignment("client.id=a=b").ok());
  EXPECT_EQ(config.Get("client.id"), "a=b");
  const absl::Status bad = config.SetFromAssignment("hunter2");
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), Not(HasSubstr("hunter2")));
}

TEST(KafkaConfigTest, FromEnvNeedsBrokersAndBothCredentials) {
  unsetenv("PVTEST_BROKERS");
  unsetenv("PVTEST_USER");
  unsetenv("PVTEST_PASSWORD");
  auto missing = KafkaConfig::FromEnv("PVTEST");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("PVTEST_BROKERS"));

  setenv("PVTEST_BROKERS", "127.0.0.1:1", 1);
  setenv("PVTEST_USER", "kafka", 1);
  auto half = KafkaConfig::FromEnv("PVTEST");
  EXPECT_EQ(half.status().code(), absl::StatusCode::kFailedPrecondition);

  setenv("PVTEST_PASSWORD", "pw", 1);
  auto full = KafkaConfig::FromEnv("PVTEST");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(full->Get("sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(full->Get("security.protocol"), "SASL_PLAINTEXT");
  EXPECT_EQ(full->Get("sasl.username"), "kafka");
}

TEST(KafkaClientTest, RejectsBadPropertyWithoutEchoingSecrets) {
  KafkaConfig config;
  config.SetBrokers("127.0.0.1:1").Set("no.such.property", "x");
  auto p = Producer::Create(config, {});
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("no.such.property"));

  KafkaConfig secret;
  secret.SetBrokers("127.0.0.1:1").Set("ssl.key.password.nonexistent", "topsecret");
  auto q = Producer::Create(secret, {});
  EXPECT_FALSE(q.ok());
  EXPECT_THAT(std::string(q.status().message()), Not(HasSubstr("topsecret")));
}

TEST(KafkaClientTest, NoBrokersIsAnError) {
  ConsumerOptions with_group;
  with_group.group_id = "g";
  auto c = Consumer::Create(KafkaConfig(), with_group);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  KafkaConfig config;
  config.SetBrokers("127.0.0.1:1");
  auto no_group = Consumer::Create(config, {});
  EXPECT_EQ(no_group.status().code(), absl::StatusCode::kInvalidArgument);
}

// Nothing listens on port 1: Flush must end at its deadline, not hang.
TEST(KafkaClientTest, FlushWithoutBrokersEndsAtDeadline) {
  KafkaConfig config;
  config.SetBrokers("127.0.0.1:1").Set("log_level", "0");
  ProducerOptions options;
  options.close_timeout = absl::ZeroDuration();
  auto p = Producer::Create(config, options);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE((*p)->Produce("t", kAnyPartition, "k", "v").ok());
  const absl::Status s = (*p)->Flush(absl::Milliseconds(500));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("127.0.0.1:1"));
}

}  // namespace
}  // namespace pv::kafka
