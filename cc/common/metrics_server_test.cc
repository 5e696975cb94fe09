// The metrics server over real HTTP on 127.0.0.1 (ephemeral ports), and the
// health rules with explicit times.
#include "cc/common/metrics_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// GET `path` from 127.0.0.1:`port`; the whole response (status line,
// headers, body), or "" when the connection failed.
std::string HttpGet(int port, const std::string& path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  const std::string request =
      absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  (void)!::write(fd, request.data(), request.size());
  std::string response;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
  ::close(fd);
  return response;
}

TEST(StageHealthTest, BacklogWithoutProgressIsAStallOnlyAfterTheLimit) {
  StageHealth health(absl::Seconds(60));
  const absl::Time t0 = absl::Now();
  health.Progress(t0);
  health.SetBacklog(100, t0);
  EXPECT_TRUE(health.Check(t0 + absl::Seconds(59)).ok());
  const absl::Status stuck = health.Check(t0 + absl::Seconds(61));
  EXPECT_TRUE(absl::IsUnavailable(stuck)) << stuck;
  EXPECT_THAT(stuck.message(), HasSubstr("100 messages waiting"));
  health.Progress(t0 + absl::Seconds(61));
  EXPECT_TRUE(health.Check(t0 + absl::Seconds(62)).ok());
}

TEST(StageHealthTest, IdleWithoutBacklogIsHealthyAndUnknownBacklogNeverStalls) {
  StageHealth health(absl::Seconds(10));
  const absl::Time t0 = absl::Now();
  health.SetBacklog(0, t0);
  EXPECT_TRUE(health.Check(t0 + absl::Hours(1)).ok());
  // Work arrives after an idle hour: not a stall until the limit passes.
  health.SetBacklog(0, t0 + absl::Hours(1));
  health.SetBacklog(5, t0 + absl::Hours(1));
  EXPECT_TRUE(health.Check(t0 + absl::Hours(1) + absl::Seconds(5)).ok());
  EXPECT_FALSE(health.Check(t0 + absl::Hours(1) + absl::Seconds(11)).ok());
  health.SetBacklog(-1, t0);
  EXPECT_TRUE(health.Check(t0 + absl::Hours(5)).ok());
}

TEST(StageHealthTest, FailingUntilCleared) {
  StageHealth health(absl::Seconds(10));
  health.SetFailing("transaction aborted: broker away");
  EXPECT_EQ(health.Check().message(), "transaction aborted: broker away");
  health.ClearFailing();
  EXPECT_TRUE(health.Check().ok());
}

TEST(MetricsServerTest, ServesMetricsAndHealthOverHttp) {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::Counter& counter = prometheus::BuildCounter()
                                     .Name("pv_test_messages_total")
                                     .Help("Test messages")
                                     .Register(*registry)
                                     .Add({{"partition", "0"}});
  counter.Increment(7);
  StageHealth health(absl::Milliseconds(1));
  absl::StatusOr<std::unique_ptr<MetricsServer>> server =
      MetricsServer::Start("127.0.0.1:0", "test", registry, &health);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  EXPECT_EQ((*server)->address(), absl::StrCat("127.0.0.1:", port));

  const std::string metrics = HttpGet(port, "/metrics");
  EXPECT_THAT(metrics, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(metrics, HasSubstr("pv_test_messages_total{partition=\"0\"} 7"));
  EXPECT_THAT(metrics, HasSubstr("pv_test_healthy 1"));
  EXPECT_THAT(metrics, HasSubstr("pv_test_last_progress_timestamp_seconds "));
  const std::string ok = HttpGet(port, "/healthz");
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(ok, HasSubstr("\r\n\r\nok\n"));

  health.SetBacklog(3);
  absl::SleepFor(absl::Milliseconds(20));
  const std::string stuck = HttpGet(port, "/healthz");
  EXPECT_THAT(stuck, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(stuck, HasSubstr("stuck: no progress"));
  EXPECT_THAT(HttpGet(port, "/metrics"), HasSubstr("pv_test_healthy 0"));

  health.SetBacklog(0);
  health.SetFailing("publishing segment: disk full");
  const std::string failing = HttpGet(port, "/healthz");
  EXPECT_THAT(failing, StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(failing, HasSubstr("publishing segment: disk full"));
  health.ClearFailing();
  EXPECT_THAT(HttpGet(port, "/healthz"), StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(HttpGet(port, "/nope"), StartsWith("HTTP/1.1 404"));
}

TEST(MetricsServerTest, APortInUseIsAnErrorNamingTheAddress) {
  auto registry = std::make_shared<prometheus::Registry>();
  StageHealth health(absl::Seconds(10));
  auto first = MetricsServer::Start("127.0.0.1:0", "test", registry, &health);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string taken = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = MetricsServer::Start(taken, "test", registry, &health);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(absl::StrCat("cannot listen on ", taken)));
  // The first one still answers.
  EXPECT_THAT(HttpGet((*first)->port(), "/healthz"), StartsWith("HTTP/1.1 200"));
}

TEST(MetricsServerTest, AnAddressWithoutHostOrPortIsRefused) {
  auto registry = std::make_shared<prometheus::Registry>();
  StageHealth health(absl::Seconds(10));
  for (const char* bad : {"9464", ":9464", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:70000"}) {
    auto server = MetricsServer::Start(bad, "test", registry, &health);
    EXPECT_TRUE(absl::IsInvalidArgument(server.status())) << bad << ": " << server.status();
  }
}

}  // namespace
}  // namespace pv
