#include "cc/kafka/kafka.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::kafka {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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
