// consume --metrics-address scraped by a real Prometheus (the one of
// tools/services/prometheus.sh), on the live Kafka of tools/services:
//   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
//   bazel test --test_tag_filters=integration //cc/ingest:metrics_integration_test
//
// The test registers consume as a target (a file in
// $PV_PROMETHEUS_TARGETS_DIR), produces records once Prometheus scrapes it,
// and asks Prometheus' HTTP API for pv_consume_partition_lag: one series per
// partition, above 0 while records wait for their segment, 0 once consume
// published and committed them. Also /healthz and a port already in use.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

using ::testing::HasSubstr;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Output of a shell command (curl), "" when it fails.
std::string Run(const std::string& command) {
  FILE* f = ::popen(command.c_str(), "r");
  if (f == nullptr) return "";
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  return ::pclose(f) == 0 ? out : "";
}

// "<status code> <body>" of GET http://127.0.0.1:port/path.
std::string HttpGet(int port, const std::string& path) {
  return Run(absl::StrCat("curl -s --max-time 5 -w ' %{http_code}' http://127.0.0.1:", port, path));
}

// A port nothing listens on now (the kernel's pick for port 0).
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Prometheus instant query: label set of each series -> value.
std::map<std::string, double> Query(const std::string& prometheus, const std::string& promql) {
  std::map<std::string, double> out;
  const std::string body =
      Run(absl::StrCat("curl -fsG --max-time 5 '", prometheus,
                       "/api/v1/query' --data-urlencode 'query=", promql, "'"));
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (body.empty() || parser.parse(body).get(root) != simdjson::SUCCESS) return out;
  simdjson::dom::array result;
  if (root["data"]["result"].get_array().get(result) != simdjson::SUCCESS) return out;
  for (simdjson::dom::element series : result) {
    std::string labels;
    simdjson::dom::object metric;
    if (series["metric"].get_object().get(metric) == simdjson::SUCCESS) {
      for (auto [k, v] : metric) {
        std::string_view value;
        if (v.get_string().get(value) == simdjson::SUCCESS) {
          absl::StrAppend(&labels, std::string(k), "=", std::string(value), ",");
        }
      }
    }
    std::string_view value;
    if (series["value"].at(1).get_string().get(value) == simdjson::SUCCESS) {
      out[labels] = std::strtod(std::string(value).c_str(), nullptr);
    }
  }
  return out;
}

class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      if (std::freopen(log.c_str(), "w", stderr) == nullptr ||
          std::freopen(log.c_str(), "a", stdout) == nullptr) {
        std::_Exit(126);
      }
      std::vector<char*> argv;
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // SIGTERM, then the exit code (-1 when killed by a signal).
  int Stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_ = -1;
};

std::string ConsumeBinary() {
  return absl::StrCat(Env("TEST_SRCDIR"), "/productview/cc/ingest/consume");
}

class MetricsIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    prometheus_ = Env("PV_PROMETHEUS_URL");
    targets_ = Env("PV_PROMETHEUS_TARGETS_DIR");
    ASSERT_FALSE(Env("PV_KAFKA_BROKERS").empty())
        << "PV_KAFKA_BROKERS is not set: tools/services/all.sh start; eval its env";
    ASSERT_FALSE(prometheus_.empty() || targets_.empty())
        << "PV_PROMETHEUS_URL / PV_PROMETHEUS_TARGETS_DIR are not set: "
           "tools/services/prometheus.sh start; eval \"$(tools/services/all.sh env)\"";
    tmp_ = Env("TEST_TMPDIR");
    suffix_ = absl::StrCat(getpid(), "_", absl::ToUnixMillis(absl::Now()));
  }

  std::string prometheus_, targets_, tmp_, suffix_;
};

TEST_F(MetricsIntegrationTest, PrometheusSeesPerPartitionLagFallToZero) {
  absl::StatusOr<pv::kafka::KafkaConfig> config = pv::kafka::KafkaConfig::FromEnv("PV_KAFKA");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string topic = absl::StrCat("pv_it_metrics_", suffix_);
  auto admin = pv::kafka::Admin::Create(*config);
  ASSERT_TRUE(admin.ok()) << admin.status();
  ASSERT_TRUE((*admin)->CreateTopic(topic, 3, 3, absl::Seconds(30)).ok());

  const int port = FreePort();
  const std::string log = absl::StrCat(tmp_, "/consume.log");
  Child consume({ConsumeBinary(), absl::StrCat("--topic=", topic),
                 absl::StrCat("--group=pv-it-metrics-", suffix_),
                 absl::StrCat("--segments=", tmp_, "/segments"), "--segment-seconds=4",
                 absl::StrCat("--metrics-address=127.0.0.1:", port), "-X",
                 "statistics.interval.ms=500"},
                log);

  // /healthz answers before anything was consumed (nothing waiting).
  std::string health;
  for (absl::Time until = absl::Now() + absl::Seconds(30);
       absl::Now() < until && !absl::StrContains(health, "ok");
       absl::SleepFor(absl::Milliseconds(200))) {
    health = HttpGet(port, "/healthz");
  }
  ASSERT_THAT(health, HasSubstr("ok\n 200")) << ReadFile(log);

  // Register the target; wait until Prometheus scrapes it.
  const std::string job = absl::StrCat("consume-it-", suffix_);
  const std::string target_file = absl::StrCat(targets_, "/", job, ".json");
  {
    std::ofstream out(target_file + ".tmp");
    out << "[{\"targets\": [\"127.0.0.1:" << port << "\"], \"labels\": {\"job\": \"" << job
        << "\"}}]\n";
  }
  ASSERT_EQ(std::rename((target_file + ".tmp").c_str(), target_file.c_str()), 0);
  const std::string sel = absl::StrCat("{job=\"", job, "\"}");
  bool up = false;
  for (absl::Time until = absl::Now() + absl::Seconds(40); absl::Now() < until && !up;
       absl::SleepFor(absl::Milliseconds(500))) {
    auto r = Query(prometheus_, absl::StrCat("up", sel));
    up = !r.empty() && r.begin()->second == 1;
  }
  ASSERT_TRUE(up) << "Prometheus at " << prometheus_ << " never scraped 127.0.0.1:" << port;

  // Records on every partition.
  constexpr int kPerPartition = 2000;
  {
    auto producer = pv::kafka::Producer::Create(*config, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int p = 0; p < 3; ++p) {
      for (int i = 0; i < kPerPartition; ++i) {
        ASSERT_TRUE((*producer)->Produce(topic, p, "", absl::StrCat("{\"n\":", i, "}")).ok());
      }
    }
    ASSERT_TRUE((*producer)->Flush(absl::Seconds(30)).ok());
  }

  // Lag per partition: seen above 0 (records waiting for their segment),
  // then 0 on all three once consume published and committed.
  // (Before the records, an empty partition's lag is 0 too, and the lag
  // comes from librdkafka's statistics, which may lag the in-process
  // counters: wait until Prometheus saw every record consumed and the
  // statistics saw the commits.)
  const std::string lag = absl::StrCat("pv_consume_partition_lag", sel);
  const std::string committed_sum =
      absl::StrCat("sum(pv_consume_partition_committed_offset", sel, ")");
  std::map<std::string, double> now;
  bool caught_up = false;
  for (absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until && !caught_up;
       absl::SleepFor(absl::Seconds(1))) {
    const auto consumed = Query(prometheus_, absl::StrCat("pv_consume_messages_total", sel));
    if (consumed.empty() || consumed.begin()->second < 3 * kPerPartition) continue;
    const auto committed = Query(prometheus_, committed_sum);
    if (committed.empty() || committed.begin()->second < 3 * kPerPartition) continue;
    now = Query(prometheus_, lag);
    caught_up = now.size() == 3;
    for (const auto& [labels, v] : now) caught_up = caught_up && v == 0;
  }
  std::string seen;
  for (const auto& [labels, v] : now) absl::StrAppend(&seen, labels, " ", v, "\n");
  ASSERT_TRUE(caught_up) << "lag series now:\n" << seen << ReadFile(log);
  for (int p = 0; p < 3; ++p) {
    EXPECT_THAT(seen, HasSubstr(absl::StrCat("partition=", p, ",")));
    EXPECT_THAT(seen, HasSubstr(absl::StrCat("topic=", topic, ",")));
  }
  const auto peak = Query(prometheus_, absl::StrCat("max(max_over_time(", lag, "[5m]))"));
  ASSERT_EQ(peak.size(), 1u);
  EXPECT_GT(peak.begin()->second, 0) << "the lag never showed the records waiting";
  EXPECT_LE(peak.begin()->second, kPerPartition);

  const auto messages = Query(prometheus_, absl::StrCat("pv_consume_messages_total", sel));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages.begin()->second, 3 * kPerPartition);
  const auto committed = Query(prometheus_, committed_sum);
  ASSERT_EQ(committed.size(), 1u);
  EXPECT_EQ(committed.begin()->second, 3 * kPerPartition);
  const auto healthy = Query(prometheus_, absl::StrCat("pv_consume_healthy", sel));
  ASSERT_EQ(healthy.size(), 1u);
  EXPECT_EQ(healthy.begin()->second, 1);
  EXPECT_THAT(HttpGet(port, "/healthz"), HasSubstr("ok\n 200"));
  const std::string metrics = HttpGet(port, "/metrics");
  EXPECT_THAT(metrics, HasSubstr("pv_consume_segments_published_total"));
  EXPECT_THAT(metrics, HasSubstr("pv_consume_last_segment_timestamp_seconds"));

  EXPECT_EQ(consume.Stop(), 0) << ReadFile(log);
  std::remove(target_file.c_str());
  (void)(*admin)->DeleteTopic(topic, absl::Seconds(30));
}

TEST_F(MetricsIntegrationTest, APortInUseStopsConsumeNamingTheAddress) {
  // Something already listens there.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string address = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  const std::string log = absl::StrCat(tmp_, "/consume-port.log");
  Child consume({ConsumeBinary(), "--topic=pv_it_metrics_unused",
                 absl::StrCat("--segments=", tmp_, "/segments-port"),
                 absl::StrCat("--metrics-address=", address)},
                log);
  EXPECT_EQ(consume.Wait(), 1);
  EXPECT_THAT(ReadFile(log), HasSubstr(absl::StrCat("cannot listen on ", address)));
  ::close(fd);
}

}  // namespace
