#include "cc/common/config.h"

#include <stdlib.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

TEST(FlagOrEnvTest, FlagWinsOverEnvAndDefault) {
  setenv("PV_TEST_BROKERS", "env-host:9092", 1);
  std::string source;
  EXPECT_EQ(FlagOrEnv("flag-host:9092", {"PV_TEST_BROKERS"}, "default:9092",
                      &source),
            "flag-host:9092");
  EXPECT_EQ(source, "flag");
  unsetenv("PV_TEST_BROKERS");
}

TEST(FlagOrEnvTest, FirstSetNonEmptyEnvWinsOverDefault) {
  unsetenv("PV_TEST_A");
  setenv("PV_TEST_B", "", 1);  // set but empty: skipped
  setenv("PV_TEST_C", "from-c", 1);
  setenv("PV_TEST_D", "from-d", 1);
  std::string source;
  EXPECT_EQ(FlagOrEnv("", {"PV_TEST_A", "PV_TEST_B", "PV_TEST_C", "PV_TEST_D"},
                      "dflt", &source),
            "from-c");
  EXPECT_EQ(source, "env PV_TEST_C");
  unsetenv("PV_TEST_B");
  unsetenv("PV_TEST_C");
  unsetenv("PV_TEST_D");
}

TEST(FlagOrEnvTest, DefaultWhenNothingSet) {
  unsetenv("PV_TEST_UNSET");
  std::string source;
  EXPECT_EQ(FlagOrEnv("", {"PV_TEST_UNSET"}, "dflt", &source), "dflt");
  EXPECT_EQ(source, "default");
  EXPECT_EQ(FlagOrEnv("", {}, "", nullptr), "");
}

TEST(ReadSecretTest, LiteralValue) {
  EXPECT_EQ(ReadSecret("s3cr3t", "pg_password").value(), "s3cr3t");
  EXPECT_EQ(ReadSecret("", "pg_password").value(), "");
  EXPECT_EQ(ReadSecret("@@starts-with-at", "pg_password").value(),
            "@starts-with-at");
}

TEST(ReadSecretTest, FromFileStripsTrailingNewlines) {
  const std::string path = TempPath("pw_file");
  WriteFile(path, "hunter2 with space\r\n");
  absl::StatusOr<std::string> pw = ReadSecret("@" + path, "pg_password");
  ASSERT_TRUE(pw.ok()) << pw.status();
  EXPECT_EQ(*pw, "hunter2 with space");
}

TEST(ReadSecretTest, MissingFileErrorNamesFileAndSecretButNoValue) {
  const std::string path = TempPath("no_such_dir/pw_file");
  absl::StatusOr<std::string> pw = ReadSecret("@" + path, "pg_password");
  ASSERT_FALSE(pw.ok());
  EXPECT_EQ(pw.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(pw.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(pw.status().message()), HasSubstr("pg_password"));
}

TEST(ReadSecretTest, EmptyFileIsAnErrorThatDoesNotLeakContent) {
  const std::string path = TempPath("pw_newline_only");
  WriteFile(path, "\n");
  absl::StatusOr<std::string> pw = ReadSecret("@" + path, "kafka_password");
  ASSERT_FALSE(pw.ok());
  EXPECT_EQ(pw.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(pw.status().message()), HasSubstr("empty"));
}

TEST(ReadSecretTest, OversizedFileErrorDoesNotContainContent) {
  const std::string path = TempPath("pw_huge");
  WriteFile(path, std::string(100 * 1024, 'Z') + "TOPSECRET");
  absl::StatusOr<std::string> pw = ReadSecret("@" + path, "kafka_password");
  ASSERT_FALSE(pw.ok());
  EXPECT_THAT(std::string(pw.status().message()), Not(HasSubstr("ZZZ")));
  EXPECT_THAT(std::string(pw.status().message()), Not(HasSubstr("TOPSECRET")));
  EXPECT_THAT(std::string(pw.status().message()), HasSubstr(path));
}

TEST(IsSecretKeyTest, MatchesSecretNamesIgnoringCase) {
  for (const char* key :
       {"password", "PV_KAFKA_PASSWORD", "passwd", "PGPWD", "client_secret",
        "api.token", "sasl.password", "sasl.jaas.config", "ssl.key.password",
        "GOOGLE_APPLICATION_CREDENTIALS", "sasl.oauthbearer.config", "ssl.key.pem",
        "ssl_key"}) {
    EXPECT_TRUE(IsSecretKey(key)) << key;
  }
  for (const char* key : {"user", "host", "bootstrap.servers", "sasl.username",
                          "sasl.mechanism", "dbname"}) {
    EXPECT_FALSE(IsSecretKey(key)) << key;
  }
}

TEST(RedactSecretsTest, LibpqConninfo) {
  EXPECT_EQ(RedactSecrets("host=db user=etl password=xyz dbname=dw"),
            "host=db user=etl password=*** dbname=dw");
  EXPECT_EQ(RedactSecrets("host=db password='a b\\' c' dbname=dw"),
            "host=db password='***' dbname=dw");
  EXPECT_EQ(RedactSecrets("password = xyz port=5432"),
            "password = *** port=5432");
}

TEST(RedactSecretsTest, Uris) {
  EXPECT_EQ(RedactSecrets("postgres://etl:pw@db:5432/dw"),
            "postgres://etl:***@db:5432/dw");
  EXPECT_EQ(RedactSecrets("postgresql://etl:p%40ss@db/dw?sslmode=require"),
            "postgresql://etl:***@db/dw?sslmode=require");
  EXPECT_EQ(RedactSecrets("connecting to mongodb://root:example@mongo:27017/ "
                          "and mongodb+srv://a:b@c/d"),
            "connecting to mongodb://root:***@mongo:27017/ and "
            "mongodb+srv://a:***@c/d");
  // No password: unchanged.
  EXPECT_EQ(RedactSecrets("mongodb://mongo:27017/db postgres://etl@db/dw"),
            "mongodb://mongo:27017/db postgres://etl@db/dw");
  // An unescaped '/' in the password must not leak its tail.
  EXPECT_THAT(RedactSecrets("postgres://etl:a/b@db/dw"), Not(HasSubstr("a/b")));
}

TEST(RedactSecretsTest, MongoUrisHideOnlyThePassword) {
  EXPECT_EQ(RedactSecrets("mongodb://user:s3cret@h:27017/db?x=1"),
            "mongodb://user:***@h:27017/db?x=1");
  EXPECT_EQ(RedactSecrets("mongodb://u:p%40ss@h1,h2/"), "mongodb://u:***@h1,h2/");
  EXPECT_EQ(RedactSecrets("mongodb://h:1/"), "mongodb://h:1/");
  EXPECT_EQ(RedactSecrets("mongodb://onlyuser@h/"), "mongodb://onlyuser@h/");
  EXPECT_EQ(RedactSecrets("not a uri"), "not a uri");
}

TEST(RedactSecretsTest, KeyValueProperties) {
  EXPECT_EQ(RedactSecrets("sasl.username=app sasl.password=kafka-pw"),
            "sasl.username=app sasl.password=***");
  EXPECT_EQ(RedactSecrets("ssl.key.password=k1\nsecurity.protocol=SASL_SSL"),
            "ssl.key.password=***\nsecurity.protocol=SASL_SSL");
}

TEST(RedactSecretsTest, Jaas) {
  const std::string jaas =
      "org.apache.kafka.common.security.plain.PlainLoginModule required "
      "username=\"app\" password=\"p a\\\"ss\";";
  EXPECT_EQ(RedactSecrets(jaas),
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            "username=\"app\" password=\"***\";");
  std::string with_key = RedactSecrets("sasl.jaas.config=" + jaas);
  EXPECT_THAT(with_key, Not(HasSubstr("p a")));
  EXPECT_THAT(with_key, Not(HasSubstr("ss\"")));
}

TEST(RedactSecretsTest, TextWithoutSecretsUnchanged) {
  for (const char* text : {"", "a=b c=d", "x=", "=y", "password=",
                           "ratio 3=3 ok", "https://example.com/a?b=c"}) {
    EXPECT_EQ(RedactSecrets(text), text);
  }
}

TEST(ConfigReportTest, PasswordsPrintAsStars) {
  ConfigReport report;
  report.Add("kafka_brokers", "localhost:9092", "env KAFKA_BROKERS");
  report.Add("pg_password", "hunter2", "flag");
  report.Add("api_key", "k-123", "env API_KEY", /*secret=*/true);
  report.Add("pg_conninfo", "host=db user=etl password=hunter3", "default");
  report.Add("mongo_uri", "mongodb://root:hunter4@mongo:27017/");
  report.Add("empty_token", "");
  const std::string text = report.ToString();
  EXPECT_EQ(text,
            "kafka_brokers = localhost:9092                   (env KAFKA_BROKERS)\n"
            "pg_password   = ***                              (flag)\n"
            "api_key       = ***                              (env API_KEY)\n"
            "pg_conninfo   = host=db user=etl password=***    (default)\n"
            "mongo_uri     = mongodb://root:***@mongo:27017/\n"
            "empty_token   = (not set)\n");
  for (const char* secret : {"hunter", "k-123"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret)));
  }
}

}  // namespace
}  // namespace pv
