// The mirror binary against real clusters: the 1-broker SASL "source" and
// the 3-broker SASL local cluster of tools/services/kafka.sh. Fails (never
// skips) when their settings are missing:
//   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
//   bazel test --test_tag_filters=integration //cc/ingest:mirror_integration_test
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kOpTimeout = absl::Seconds(30);
// Only a guard against a hung binary: a healthy run takes seconds.
constexpr absl::Duration kHangGuard = absl::Minutes(4);

std::string Unique(absl::string_view what) {
  return absl::StrCat("pv-it-mirror-", what, "-", getpid(), "-",
                      absl::ToUnixMicros(absl::Now()));
}

std::string MirrorBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/productview/cc/ingest/mirror");
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A mirror process with its stdout+stderr in a file.
class MirrorProcess {
 public:
  // `env` entries ("NAME=value") are added to (or replace in) the test's
  // environment.
  MirrorProcess(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    static int counter = 0;
    const char* tmp = std::getenv("TEST_TMPDIR");
    log_ = absl::StrCat(tmp ? tmp : "/tmp", "/mirror-", getpid(), "-", ++counter, ".log");
    std::vector<std::string> argv = {MirrorBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> envv;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      bool replaced = false;
      for (const std::string& o : env) {
        if (entry.substr(0, entry.find('=') + 1) == o.substr(0, o.find('=') + 1)) replaced = true;
      }
      if (!replaced) envv.push_back(entry);
    }
    envv.insert(envv.end(), env.begin(), env.end());
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      std::vector<char*> a, e;
      for (std::string& s : argv) a.push_back(s.data());
      for (std::string& s : envv) e.push_back(s.data());
      a.push_back(nullptr);
      e.push_back(nullptr);
      execve(a[0], a.data(), e.data());
      _exit(127);
    }
  }
  ~MirrorProcess() {
    if (pid_ > 0 && exit_code_ == kRunning) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for the exit (killing the process after kHangGuard); returns the
  // exit code, 128+signal when killed.
  int Wait() {
    if (exit_code_ != kRunning) return exit_code_;
    const absl::Time deadline = absl::Now() + kHangGuard;
    int status = 0;
    for (;;) {
      const pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) break;
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "mirror did not exit within " << kHangGuard << "; output:\n" << output();
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }

  std::string output() const { return ReadFile(log_); }

 private:
  static constexpr int kRunning = -1000;
  pid_t pid_ = -1;
  int exit_code_ = kRunning;
  std::string log_;
};

struct Record {
  std::string key;
  std::string value;
  std::vector<kafka::Header> headers;
};

class MirrorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"PV_KAFKA_BROKERS", "PV_KAFKA_USER", "PV_KAFKA_PASSWORD",
                             "PV_KAFKA_SOURCE_BROKERS", "PV_KAFKA_SOURCE_USER",
                             "PV_KAFKA_SOURCE_PASSWORD"}) {
      const char* v = std::getenv(name);
      ASSERT_TRUE(v != nullptr && *v != '\0')
          << name << " is not set: run tools/services/all.sh start, eval \"$(tools/services/"
          << "all.sh env)\", and pass it to bazel test (see .bazelrc --test_env)";
    }
    auto local = kafka::KafkaConfig::FromEnv("PV_KAFKA");
    ASSERT_TRUE(local.ok()) << local.status();
    local_ = *local;
    auto source = kafka::KafkaConfig::FromEnv("PV_KAFKA_SOURCE");
    ASSERT_TRUE(source.ok()) << source.status();
    source_ = *source;
    ASSERT_EQ(access(MirrorBinary().c_str(), X_OK), 0) << MirrorBinary() << " is missing";
  }

  // A source topic with 3 partitions (the source cluster has one broker).
  std::string NewSourceTopic(absl::string_view what) {
    const std::string topic = Unique(what);
    auto admin = kafka::Admin::Create(source_);
    EXPECT_TRUE(admin.ok()) << admin.status();
    if (!admin.ok()) return topic;
    const absl::Status s = (*admin)->CreateTopic(topic, 3, 1, kOpTimeout);
    EXPECT_TRUE(s.ok()) << s;
    return topic;
  }

  // Produces records [begin, end) into partition i % 3 of `topic`: key
  // "key-i", value "value-i", headers seq=i and origin=it (and a binary one).
  void ProduceSource(const std::string& topic, int begin, int end) {
    auto producer = kafka::Producer::Create(source_, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = begin; i < end; ++i) {
      const absl::Status s = (*producer)->Produce(
          topic, i % 3, absl::StrCat("key-", i), absl::StrCat("value-", i),
          {{"seq", absl::StrCat(i)}, {"origin", "it"}, {"bin", std::string("\0\xff", 2)}});
      ASSERT_TRUE(s.ok()) << s;
    }
    const absl::Status s = (*producer)->Flush(absl::Seconds(60));
    ASSERT_TRUE(s.ok()) << s;
  }

  int64_t LocalCount(const std::string& topic) {
    auto admin = kafka::Admin::Create(local_);
    if (!admin.ok()) return -1;
    auto marks = (*admin)->Watermarks(topic, kOpTimeout);
    if (!marks.ok()) return -1;
    int64_t n = 0;
    for (const kafka::PartitionWatermarks& w : *marks) n += w.high - w.low;
    return n;
  }

  // Every record of the local `topic`, by partition, in offset order. Reads
  // until `expected` arrived and then 3 s more (to catch duplicates), or 60 s
  // without a message.
  std::map<int32_t, std::vector<Record>> ReadLocal(const std::string& topic, size_t expected) {
    std::map<int32_t, std::vector<Record>> out;
    kafka::ConsumerOptions options;
    options.group_id = Unique("reader");
    auto consumer = kafka::Consumer::Create(local_, options);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return out;
    EXPECT_TRUE((*consumer)->Subscribe({topic}).ok());
    size_t n = 0;
    absl::Time idle_deadline = absl::Now() + absl::Seconds(60);
    absl::Time done_deadline = absl::InfiniteFuture();
    while (absl::Now() < idle_deadline && absl::Now() < done_deadline) {
      auto m = (*consumer)->Poll(absl::Milliseconds(200));
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) break;
      if (m->empty()) continue;
      idle_deadline = absl::Now() + absl::Seconds(60);
      out[m->partition()].push_back(
          {std::string(m->key()), std::string(m->value()), m->headers()});
      if (++n == expected) done_deadline = absl::Now() + absl::Seconds(3);
    }
    return out;
  }

  // The source records of partition p, in order, for ProduceSource(0, n).
  static std::vector<int> SourceOrder(int n, int32_t p) {
    std::vector<int> out;
    for (int i = p; i < n; i += 3) out.push_back(i);
    return out;
  }

  kafka::KafkaConfig local_;
  kafka::KafkaConfig source_;
};

TEST_F(MirrorIntegrationTest, EveryMessageExactlyOnceInOrderWithKeysAndHeaders) {
  constexpr int kMessages = 20000;
  constexpr int kFirstRun = 5000;
  const std::string source_topic = NewSourceTopic("src");
  const std::string local_topic = Unique("dst");
  const std::string group = Unique("group");
  ProduceSource(source_topic, 0, kMessages);

  const std::vector<std::string> common = {
      absl::StrCat("--source-topic=", source_topic),
      absl::StrCat("--destination-topic=", local_topic), absl::StrCat("--group=", group),
      "--commit-interval=1s"};

  // --max-messages stops after exactly that many...
  std::vector<std::string> first = common;
  first.push_back(absl::StrCat("--max-messages=", kFirstRun));
  MirrorProcess run1(first);
  ASSERT_EQ(run1.Wait(), 0) << run1.output();
  EXPECT_EQ(LocalCount(local_topic), kFirstRun) << run1.output();
  EXPECT_THAT(run1.output(), HasSubstr("reached --max-messages"));

  // ...and commits exactly what it sent: the next run goes on from there.
  std::vector<std::string> second = common;
  second.push_back("--exit-at-end");
  MirrorProcess run2(second);
  ASSERT_EQ(run2.Wait(), 0) << run2.output();
  EXPECT_EQ(LocalCount(local_topic), kMessages) << run2.output();

  const auto local = ReadLocal(local_topic, kMessages);
  ASSERT_EQ(local.size(), 3u);
  for (int32_t p = 0; p < 3; ++p) {
    const std::vector<int> want = SourceOrder(kMessages, p);
    const std::vector<Record>& got = local.at(p);
    ASSERT_EQ(got.size(), want.size()) << "partition " << p;
    for (size_t j = 0; j < got.size(); ++j) {
      const int i = want[j];
      ASSERT_EQ(got[j].value, absl::StrCat("value-", i)) << "partition " << p << " index " << j;
      ASSERT_EQ(got[j].key, absl::StrCat("key-", i));
      ASSERT_EQ(got[j].headers.size(), 3u);
      EXPECT_EQ(got[j].headers[0].name, "seq");
      EXPECT_EQ(got[j].headers[0].value, absl::StrCat(i));
      EXPECT_EQ(got[j].headers[1].name, "origin");
      EXPECT_EQ(got[j].headers[1].value, "it");
      EXPECT_EQ(got[j].headers[2].value, std::string("\0\xff", 2));
    }
  }

  // Nothing new: a third run copies nothing.
  MirrorProcess run3(second);
  ASSERT_EQ(run3.Wait(), 0) << run3.output();
  EXPECT_EQ(LocalCount(local_topic), kMessages) << run3.output();
}

TEST_F(MirrorIntegrationTest, WrongSourcePasswordFailsFastWithoutShowingIt) {
  const std::string wrong = absl::StrCat("Wr0ng-", getpid(), "-pw");
  MirrorProcess run({"--source-topic=pv-it-mirror-never", "--destination-topic=pv-it-mirror-auth",
                     "--group=pv-it-mirror-auth", "--exit-at-end"},
                    {absl::StrCat("PV_KAFKA_SOURCE_PASSWORD=", wrong)});
  const int code = run.Wait();
  const std::string out = run.output();
  EXPECT_EQ(code, 3) << out;  // 3: credentials rejected
  EXPECT_THAT(absl::AsciiStrToLower(out), HasSubstr("authentication failed")) << out;
  EXPECT_THAT(out, Not(HasSubstr(wrong)));
}

// Runs tools/services/kafka.sh with `args`; returns its exit status.
int KafkaScript(absl::string_view args) {
  const char* root = std::getenv("PV_REPO_ROOT");
  if (root == nullptr || *root == '\0') return -1;
  const std::string cmd = absl::StrCat("'", root, "/tools/services/kafka.sh' ", args);
  return std::system(cmd.c_str());
}

TEST_F(MirrorIntegrationTest, LocalBrokerLossMidRunLosesNothing) {
  ASSERT_NE(std::getenv("PV_REPO_ROOT"), nullptr)
      << "PV_REPO_ROOT must name the repository (forward it with --test_env)";
  constexpr int kMessages = 40000;
  const std::string source_topic = NewSourceTopic("loss-src");
  const std::string local_topic = Unique("loss-dst");
  ProduceSource(source_topic, 0, kMessages / 2);

  // --max-messages keeps the run going until the second half, produced
  // while broker 2 is down, is mirrored too.
  MirrorProcess run({absl::StrCat("--source-topic=", source_topic),
                     absl::StrCat("--destination-topic=", local_topic),
                     absl::StrCat("--group=", Unique("loss-group")), "--commit-interval=1s",
                     absl::StrCat("--max-messages=", kMessages)});
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (LocalCount(local_topic) <= 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GT(LocalCount(local_topic), 0) << run.output();

  ASSERT_EQ(KafkaScript("stop-broker 2"), 0);
  struct Restart {
    ~Restart() { EXPECT_EQ(KafkaScript("start-broker 2"), 0); }
  } restart;
  ProduceSource(source_topic, kMessages / 2, kMessages);

  ASSERT_EQ(run.Wait(), 0) << run.output();
  const auto local = ReadLocal(local_topic, kMessages);
  std::set<std::string> seen;
  size_t total = 0;
  for (const auto& [p, records] : local) {
    for (const Record& r : records) {
      seen.insert(r.value);
      ++total;
    }
  }
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(seen.count(absl::StrCat("value-", i))) << "lost value-" << i << "\n"
                                                       << run.output();
  }
  // Within one producer session the idempotent producer also removes the
  // retries' duplicates.
  EXPECT_EQ(total, static_cast<size_t>(kMessages));
}

}  // namespace
}  // namespace pv::ingest
