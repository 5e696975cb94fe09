#include "cc/kafka/config.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::kafka {
namespace {

using ::testing::ElementsAre;
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

// --- BuildKafkaConfig ------------------------------------------------------

ClusterSettings Sasl() {
  ClusterSettings s;
  s.role = "source";
  s.brokers = "127.0.0.1:9094";
  s.sasl_username = "reader";
  s.sasl_password = "s3cret-value";
  return s;
}

TEST(BuildKafkaConfigTest, UserImpliesSaslPlaintextAndPlain) {
  auto c = BuildKafkaConfig(Sasl(), {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "SASL_PLAINTEXT");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "PLAIN");
  EXPECT_EQ(c->Get("sasl.username"), "reader");
  EXPECT_EQ(c->Get("sasl.password"), "s3cret-value");
  EXPECT_THAT(c->DebugString(), Not(HasSubstr("s3cret-value")));
}

TEST(BuildKafkaConfigTest, NoUserMeansPlaintext) {
  ClusterSettings s;
  s.role = "destination";
  s.brokers = "b:1";
  auto c = BuildKafkaConfig(s, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "PLAINTEXT");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "");
}

TEST(BuildKafkaConfigTest, ScramAndProtocolAreNormalized) {
  ClusterSettings s = Sasl();
  s.security_protocol = "sasl_ssl";
  s.sasl_mechanism = "scram-sha-512";
  auto c = BuildKafkaConfig(s, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->Get("sasl.mechanisms"), "SCRAM-SHA-512");
}

TEST(BuildKafkaConfigTest, RejectsInconsistentSettingsWithoutEchoingThePassword) {
  ClusterSettings no_brokers = Sasl();
  no_brokers.brokers.clear();
  ClusterSettings no_password = Sasl();
  no_password.sasl_password.clear();
  ClusterSettings no_user = Sasl();
  no_user.sasl_username.clear();
  ClusterSettings bad_mechanism = Sasl();
  bad_mechanism.sasl_mechanism = "GSSAPI";
  ClusterSettings bad_protocol = Sasl();
  bad_protocol.security_protocol = "TLS";
  ClusterSettings user_without_sasl = Sasl();
  user_without_sasl.security_protocol = "PLAINTEXT";
  ClusterSettings sasl_without_user;
  sasl_without_user.role = "source";
  sasl_without_user.brokers = "b:1";
  sasl_without_user.security_protocol = "SASL_PLAINTEXT";
  for (const ClusterSettings& s : {no_brokers, no_password, no_user, bad_mechanism,
                                   bad_protocol, user_without_sasl, sasl_without_user}) {
    auto c = BuildKafkaConfig(s, {});
    ASSERT_FALSE(c.ok()) << s.security_protocol << " " << s.sasl_mechanism;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("source Kafka"));
    EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("s3cret-value")));
  }
}

TEST(BuildKafkaConfigTest, PropertiesWinAndMalformedOnesFail) {
  auto c = BuildKafkaConfig(Sasl(), {"ssl.ca.location=/etc/ca.pem", "security.protocol=SASL_SSL",
                                     "client.id=a=b"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->Get("ssl.ca.location"), "/etc/ca.pem");
  EXPECT_EQ(c->Get("security.protocol"), "SASL_SSL");
  EXPECT_EQ(c->Get("client.id"), "a=b");
  auto bad = BuildKafkaConfig(Sasl(), {"justavalue"});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("justavalue")));
}

// --- ExtractPropertyArgs ---------------------------------------------------

TEST(ExtractPropertyArgsTest, TakesEverySpellingAndKeepsTheRest) {
  PropertyArgs props;
  auto rest = ExtractPropertyArgs(
      {"mirror", "-X", "a=1", "--source-brokers=b:1", "-Xb=2,3", "-X=c=3", "-Y", "d=4",
       "--destination-property=e=5", "--source_property", "f=6", "-Yg=7", "--exit-at-end",
       "--", "-X", "h=8"},
      &props);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(props.source, ElementsAre("a=1", "b=2,3", "c=3", "f=6"));
  EXPECT_THAT(props.destination, ElementsAre("d=4", "e=5", "g=7"));
  EXPECT_THAT(*rest, ElementsAre("mirror", "--source-brokers=b:1", "--exit-at-end", "--",
                                 "-X", "h=8"));
}

TEST(ExtractPropertyArgsTest, MissingValueFails) {
  PropertyArgs props;
  EXPECT_FALSE(ExtractPropertyArgs({"mirror", "-Y"}, &props).ok());
  EXPECT_FALSE(ExtractPropertyArgs({"mirror", "--source-property"}, &props).ok());
}

TEST(BuildKafkaConfigTest, RefusesSecretPropertiesFromTheCommandLine) {
  for (const char* p : {"sasl.password=hunter2", "ssl.key.password=hunter2",
                        "sasl.oauthbearer.config=principal=x"}) {
    auto c = BuildKafkaConfig(Sasl(), {p});
    ASSERT_FALSE(c.ok()) << p;
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(c.status().message()), HasSubstr("environment"));
    EXPECT_THAT(std::string(c.status().message()), Not(HasSubstr("hunter2")));
  }
}

TEST(ResolveClusterTest, FlagsThenEnvironmentInOrderAndPasswordFromFileOnly) {
  setenv("PVT_BROKERS_A", "a:1", 1);
  setenv("PVT_BROKERS_B", "b:1", 1);
  setenv("PVT_USER", "reader", 1);
  setenv("PVT_PASSWORD", "pw-from-env", 1);
  ClusterSource source;
  source.role = "source";
  source.report_prefix = "source_";
  source.brokers_env = {"PVT_UNSET", "PVT_BROKERS_A", "PVT_BROKERS_B"};
  source.sasl_username_env = {"PVT_USER"};
  source.password_env = {"PVT_PASSWORD"};
  ConfigReport report;
  auto s = ResolveCluster(source, &report);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->brokers, "a:1");
  EXPECT_EQ(s->sasl_username, "reader");
  EXPECT_EQ(s->sasl_password, "pw-from-env");
  EXPECT_THAT(report.ToString(), HasSubstr("source_brokers"));
  EXPECT_THAT(report.ToString(), HasSubstr("env PVT_BROKERS_A"));
  EXPECT_THAT(report.ToString(), Not(HasSubstr("pw-from-env")));

  source.flags.brokers = "flag:1";
  source.flags.password_file = "literal-password";
  auto refused = ResolveCluster(source, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr("literal-password")));

  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR")
                                                                    : "/tmp",
                                        "/pvt_password");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("pw-from-file\n", f);
  std::fclose(f);
  source.flags.password_file = "@" + path;
  auto from_file = ResolveCluster(source, nullptr);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ(from_file->brokers, "flag:1");
  EXPECT_EQ(from_file->sasl_password, "pw-from-file");
}

}  // namespace
}  // namespace pv::kafka
