// The mirror binary against real clusters: the 1-broker SASL "source" and
// the 3-broker SASL local cluster of tools/services/kafka.sh.
//  - both modes copy every record once, in order, with key, headers and
//    the source's timestamp, and resume where they stopped;
//  - exactly-once through 20+ SIGKILLs while the source is written to
//    (most of them mid-transaction), and again with a local broker SIGKILLed;
//  - a second process with the same identity fences the first (exit 4);
//  - two processes share a topic by partition lists;
//  - at-least-once loses nothing when a local broker stops.
// Fails (never skips) when the clusters' settings are missing:
//   tools/services/all.sh start && eval "$(tools/services/all.sh env)"
//   bazel test --test_tag_filters=integration //cc/ingest:mirror_integration_test
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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

  // SIGKILLs the process; false if it had already exited.
  bool Kill() {
    if (exit_code_ != kRunning || pid_ <= 0) return false;  // never kill(-1, ...)
    const bool killed = kill(pid_, SIGKILL) == 0;
    int status = 0;
    waitpid(pid_, &status, 0);
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
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
  int64_t offset = -1;
  int64_t timestamp_ms = -1;
};
using RecordsByPartition = std::map<int32_t, std::vector<Record>>;

size_t Total(const RecordsByPartition& records) {
  size_t n = 0;
  for (const auto& [p, r] : records) n += r.size();
  return n;
}

// Source record i: partition i % 3, key "key-i", value "value-i", headers
// seq=i, origin=it and a binary one, CreateTime kBaseTimestamp + i: an hour
// before the test, so never the mirror's own clock, and well within the
// local topics' retention (which deletes by record timestamp).
const int64_t kBaseTimestamp = absl::ToUnixMillis(absl::Now() - absl::Hours(1));

// Runs tools/services/kafka.sh with `args`; returns its exit status.
int KafkaScript(absl::string_view args) {
  const char* root = std::getenv("PV_REPO_ROOT");
  if (root == nullptr || *root == '\0') return -1;
  const std::string cmd = absl::StrCat("'", root, "/tools/services/kafka.sh' ", args);
  return std::system(cmd.c_str());
}

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

  // Produces source records [begin, end) of `topic`.
  void ProduceSource(const std::string& topic, int begin, int end) {
    auto producer = kafka::Producer::Create(source_, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    for (int i = begin; i < end; ++i) ASSERT_TRUE(ProduceOne(**producer, topic, i).ok());
    const absl::Status s = (*producer)->Flush(absl::Seconds(60));
    ASSERT_TRUE(s.ok()) << s;
  }

  static absl::Status ProduceOne(kafka::Producer& producer, const std::string& topic, int i) {
    return producer.Produce(
        topic, i % 3, absl::StrCat("key-", i), absl::StrCat("value-", i),
        {{"seq", absl::StrCat(i)}, {"origin", "it"}, {"bin", std::string("\0\xff", 2)}}, 0,
        kBaseTimestamp + i);
  }

  // Produces source records 0, 1, ... at about `per_second` on a thread
  // until Stop(), which returns how many.
  class SourceWriter {
   public:
    SourceWriter(MirrorIntegrationTest* test, const std::string& topic, int per_second)
        : thread_([this, test, topic, per_second] {
            auto producer = kafka::Producer::Create(test->source_, {});
            if (!producer.ok()) {
              error_ = producer.status();
              return;
            }
            const absl::Time start = absl::Now();
            while (!stop_.load()) {
              const int due = static_cast<int>(absl::ToDoubleSeconds(absl::Now() - start) *
                                               per_second);
              for (; produced_ < due && error_.ok(); ++produced_) {
                error_ = ProduceOne(**producer, topic, produced_);
              }
              if (!error_.ok()) return;
              (*producer)->Poll(absl::Milliseconds(5));
            }
            error_ = (*producer)->Flush(absl::Seconds(60));
          }) {}
    ~SourceWriter() {
      if (thread_.joinable()) Stop();
    }
    int Stop() {
      stop_.store(true);
      thread_.join();
      EXPECT_TRUE(error_.ok()) << error_;
      return produced_;
    }

   private:
    std::atomic<bool> stop_{false};
    int produced_ = 0;
    absl::Status error_;
    std::thread thread_;
  };

  // Every record of the local `topic` as a consumer with `isolation` sees
  // it, by partition, in offset order: each partition read to its end (the
  // last stable offset for read_committed, the high watermark otherwise).
  // A topic that does not exist (yet) reads as empty.
  RecordsByPartition ReadLocal(const std::string& topic,
                               const std::string& isolation = "read_committed") {
    RecordsByPartition out;
    auto admin = kafka::Admin::Create(local_);
    EXPECT_TRUE(admin.ok()) << admin.status();
    if (!admin.ok()) return out;
    auto partitions = (*admin)->PartitionCount(topic, kOpTimeout);
    if (absl::IsNotFound(partitions.status())) return out;
    EXPECT_TRUE(partitions.ok()) << partitions.status();
    if (!partitions.ok()) return out;
    kafka::ConsumerOptions options;
    options.assign_only = true;
    options.isolation_level = isolation;
    auto consumer = kafka::Consumer::Create(local_, options);
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) return out;
    std::vector<kafka::TopicPartitionOffset> all;
    std::map<int32_t, int64_t> end;
    for (int32_t p = 0; p < *partitions; ++p) {
      all.push_back({topic, p, kafka::kOffsetBeginning});
      // A topic created a moment ago (or a broker just restarted) may not be
      // known to the broker asked yet: ask again for a while.
      auto w = (*consumer)->QueryWatermarks(topic, p, kOpTimeout);
      for (int i = 0; i < 40 && absl::IsNotFound(w.status()); ++i) {
        absl::SleepFor(absl::Milliseconds(250));
        w = (*consumer)->QueryWatermarks(topic, p, kOpTimeout);
      }
      EXPECT_TRUE(w.ok()) << w.status();
      if (!w.ok()) return out;
      if (w->high > w->low) end[p] = w->high;
    }
    EXPECT_TRUE((*consumer)->Assign(all).ok());
    const absl::Time deadline = absl::Now() + absl::Minutes(2);
    while (!end.empty()) {
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "reading " << topic << " did not reach its end";
        break;
      }
      auto m = (*consumer)->Poll(absl::Milliseconds(200));
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) break;
      if (!m->empty()) {
        out[m->partition()].push_back({std::string(m->key()), std::string(m->value()),
                                       m->headers(), m->offset(), m->timestamp_ms()});
      }
      for (auto it = end.begin(); it != end.end();) {
        const int32_t p = it->first;
        int64_t at = (*consumer)->Position(topic, p);
        if (out.count(p) && !out[p].empty()) at = std::max(at, out[p].back().offset + 1);
        it = at >= it->second ? end.erase(it) : std::next(it);
      }
    }
    return out;
  }

  // Sum over the source partitions of the next offset the checkpoints in
  // `checkpoint_topic` give for `source_topic` (committed transactions only).
  int64_t CheckpointTotal(const std::string& checkpoint_topic, const std::string& source_topic) {
    std::map<std::string, int64_t> latest;
    for (const auto& [p, records] : ReadLocal(checkpoint_topic)) {
      for (const Record& r : records) {
        if (!absl::StrContains(r.key, absl::StrCat("/", source_topic, "/"))) continue;
        int64_t next = -1;
        EXPECT_TRUE(absl::StartsWith(r.value, "next=")) << r.value;
        const std::string number = r.value.substr(5, r.value.find(' ') - 5);
        EXPECT_TRUE(absl::SimpleAtoi(number, &next)) << r.value;
        latest[r.key] = next;
      }
    }
    int64_t total = 0;
    for (const auto& [key, next] : latest) total += next;
    return total;
  }

  // Whether a partition of the local `topic` has records of a transaction
  // nobody committed or aborted yet (its last stable offset is behind the
  // high watermark): what a mirror killed mid-transaction leaves.
  bool OpenTransactionLeft(const std::string& topic) {
    // A watermark query answers with the asking client's isolation level.
    kafka::ConsumerOptions committed_options, uncommitted_options;
    committed_options.assign_only = uncommitted_options.assign_only = true;
    uncommitted_options.isolation_level = "read_uncommitted";
    auto committed = kafka::Consumer::Create(local_, committed_options);
    auto uncommitted = kafka::Consumer::Create(local_, uncommitted_options);
    EXPECT_TRUE(committed.ok() && uncommitted.ok());
    if (!committed.ok() || !uncommitted.ok()) return false;
    // Right after a broker was killed, the one asked may no longer lead the
    // partition (NOT_LEADER_FOR_PARTITION) until metadata catches up: ask
    // again for a while.
    auto query = [&](kafka::Consumer* c, int32_t p) {
      auto w = c->QueryWatermarks(topic, p, kOpTimeout);
      for (int i = 0; i < 40 && (absl::IsUnavailable(w.status()) || absl::IsNotFound(w.status()));
           ++i) {
        absl::SleepFor(absl::Milliseconds(250));
        w = c->QueryWatermarks(topic, p, kOpTimeout);
      }
      return w;
    };
    for (int32_t p = 0; p < 3; ++p) {
      auto stable = query(committed->get(), p);
      auto high = query(uncommitted->get(), p);
      EXPECT_TRUE(stable.ok()) << stable.status();
      EXPECT_TRUE(high.ok()) << high.status();
      if (stable.ok() && high.ok() && stable->high < high->high) return true;
    }
    return false;
  }

  // The local topic holds source records [0, n) exactly once: partition p
  // the records i = p, p + 3, ... in order, with key, value, headers and
  // source timestamp.
  static void ExpectExactlyTheSource(const RecordsByPartition& local, int n,
                                     const std::string& context) {
    ASSERT_EQ(Total(local), static_cast<size_t>(n)) << context;
    for (int32_t p = 0; p < 3; ++p) {
      std::vector<int> want;
      for (int i = p; i < n; i += 3) want.push_back(i);
      if (want.empty()) continue;
      ASSERT_EQ(local.count(p), 1u) << "partition " << p << " is empty\n" << context;
      const std::vector<Record>& got = local.at(p);
      ASSERT_EQ(got.size(), want.size()) << "partition " << p << "\n" << context;
      for (size_t j = 0; j < got.size(); ++j) {
        const int i = want[j];
        ASSERT_EQ(got[j].value, absl::StrCat("value-", i))
            << "partition " << p << " index " << j << "\n" << context;
        ASSERT_EQ(got[j].key, absl::StrCat("key-", i));
        ASSERT_EQ(got[j].timestamp_ms, kBaseTimestamp + i) << "value-" << i;
        ASSERT_EQ(got[j].headers.size(), 3u);
        EXPECT_EQ(got[j].headers[0].name, "seq");
        EXPECT_EQ(got[j].headers[0].value, absl::StrCat(i));
        EXPECT_EQ(got[j].headers[1].name, "origin");
        EXPECT_EQ(got[j].headers[1].value, "it");
        EXPECT_EQ(got[j].headers[2].value, std::string("\0\xff", 2));
      }
    }
  }

  // Mirrors `source_topic` while a writer produces to it, SIGKILLing the
  // mirror `kills` times, each time after its run committed something new
  // and a random moment more; with `broker_kill_round` >= 0, local broker 2
  // is SIGKILLed at that round and started again `kills / 2` rounds later.
  // Then a last run goes to the end; the local topic must hold every source
  // record exactly once.
  void MirrorThroughKills(int kills, int broker_kill_round) {
    const std::string source_topic = NewSourceTopic("kill-src");
    const std::string local_topic = Unique("kill-dst");
    const std::string checkpoints = Unique("kill-ckpt");
    const std::vector<std::string> args = {
        absl::StrCat("--source-topic=", source_topic),
        absl::StrCat("--destination-topic=", local_topic),
        absl::StrCat("--checkpoint-topic=", checkpoints),
        absl::StrCat("--group=", Unique("kill-group")),
        // Commits take a while on a loaded machine; longer transactions
        // keep most of the time "mid-transaction".
        "--transaction-interval=1s"};
    struct BrokerBack {
      bool down = false;
      ~BrokerBack() {
        if (down) {
          EXPECT_EQ(KafkaScript("start-broker 2"), 0);
        }
      }
    } broker;

    SourceWriter writer(this, source_topic, 1500);
    std::mt19937 random(20261201);
    std::uniform_int_distribution<int> extra_ms(0, 1500);
    int killed = 0, mid_transaction = 0;
    int64_t checkpoint = 0;
    std::string logs;
    for (int round = 0; round < kills; ++round) {
      if (round == broker_kill_round) {
        ASSERT_EQ(KafkaScript("kill-broker 2"), 0);
        broker.down = true;
      }
      if (broker.down && round == broker_kill_round + kills / 2) {
        ASSERT_EQ(KafkaScript("start-broker 2"), 0);
        broker.down = false;
      }
      MirrorProcess run(args);
      // Progress first: this run committed a transaction of its own. Its
      // start-up fenced the previous run, completing a commit that run had
      // begun; what the checkpoints hold then is the baseline.
      const absl::Time deadline = absl::Now() + absl::Seconds(90);
      while (!absl::StrContains(run.output(), "I mirror: mirroring ") && absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      checkpoint = CheckpointTotal(checkpoints, source_topic);
      int64_t now_at = checkpoint;
      while ((now_at = CheckpointTotal(checkpoints, source_topic)) <= checkpoint &&
             absl::Now() < deadline) {
        absl::SleepFor(absl::Milliseconds(100));
      }
      ASSERT_GT(now_at, checkpoint) << "round " << round << " made no progress:\n"
                                    << run.output();
      checkpoint = now_at;
      absl::SleepFor(absl::Milliseconds(extra_ms(random)));
      ASSERT_TRUE(run.Kill()) << "round " << round << " exited by itself:\n" << run.output();
      ++killed;
      if (OpenTransactionLeft(local_topic)) ++mid_transaction;
      logs = run.output();
    }
    const int produced = writer.Stop();
    if (broker.down) {
      ASSERT_EQ(KafkaScript("start-broker 2"), 0);
      broker.down = false;
    }
    std::vector<std::string> last = args;
    last.push_back("--exit-at-end");
    MirrorProcess run(last);
    ASSERT_EQ(run.Wait(), 0) << run.output();
    EXPECT_THAT(run.output(), HasSubstr("(checkpoint)"));
    EXPECT_THAT(run.output(), HasSubstr("guarantee    exactly-once"));

    EXPECT_GE(killed, 20);
    // Most kills came while a transaction was open (its records written,
    // neither committed nor aborted).
    EXPECT_GT(mid_transaction, killed / 2) << mid_transaction << " of " << killed;
    const RecordsByPartition committed = ReadLocal(local_topic);
    ExpectExactlyTheSource(committed, produced, run.output());
    // What the killed transactions wrote is in the log, aborted: a
    // read_uncommitted reader sees it, a read_committed one does not.
    const size_t written = Total(ReadLocal(local_topic, "read_uncommitted"));
    EXPECT_GT(written, Total(committed));
    std::printf("%d source records; %d SIGKILLs, %d mid-transaction; %zu records written, "
                "%zu committed\n",
                produced, killed, mid_transaction, written, Total(committed));
  }

  kafka::KafkaConfig local_;
  kafka::KafkaConfig source_;
};

class MirrorDeliveryTest : public MirrorIntegrationTest,
                           public ::testing::WithParamInterface<std::string> {};

TEST_P(MirrorDeliveryTest, EveryMessageOnceInOrderWithKeysHeadersAndTimestamps) {
  constexpr int kMessages = 20000;
  constexpr int kFirstRun = 5000;
  const std::string source_topic = NewSourceTopic("src");
  const std::string local_topic = Unique("dst");
  ProduceSource(source_topic, 0, kMessages);

  const std::vector<std::string> common = {
      absl::StrCat("--delivery=", GetParam()), absl::StrCat("--source-topic=", source_topic),
      absl::StrCat("--destination-topic=", local_topic),
      absl::StrCat("--group=", Unique("group")),
      absl::StrCat("--checkpoint-topic=", Unique("ckpt")), "--commit-interval=1s"};

  // --max-messages stops after exactly that many...
  std::vector<std::string> first = common;
  first.push_back(absl::StrCat("--max-messages=", kFirstRun));
  MirrorProcess run1(first);
  ASSERT_EQ(run1.Wait(), 0) << run1.output();
  EXPECT_EQ(Total(ReadLocal(local_topic)), kFirstRun) << run1.output();
  EXPECT_THAT(run1.output(), HasSubstr("reached --max-messages"));
  EXPECT_THAT(run1.output(), HasSubstr(absl::StrCat("guarantee    ", GetParam())));

  // ...and records exactly where it stopped: the next run goes on from there.
  std::vector<std::string> second = common;
  second.push_back("--exit-at-end");
  MirrorProcess run2(second);
  ASSERT_EQ(run2.Wait(), 0) << run2.output();
  ExpectExactlyTheSource(ReadLocal(local_topic), kMessages, run2.output());

  // Nothing new: a third run copies nothing.
  MirrorProcess run3(second);
  ASSERT_EQ(run3.Wait(), 0) << run3.output();
  EXPECT_EQ(Total(ReadLocal(local_topic)), kMessages) << run3.output();
}

INSTANTIATE_TEST_SUITE_P(Modes, MirrorDeliveryTest,
                         ::testing::Values("exactly-once", "at-least-once"));

TEST_F(MirrorIntegrationTest, ExactlyOnceThroughTwentySigkills) { MirrorThroughKills(21, -1); }

TEST_F(MirrorIntegrationTest, ExactlyOnceThroughSigkillsAndADestinationBrokerSigkilled) {
  ASSERT_NE(std::getenv("PV_REPO_ROOT"), nullptr)
      << "PV_REPO_ROOT must name the repository (forward it with --test_env)";
  MirrorThroughKills(20, 3);
}

// A second process with the same identity fences the first, which stops
// with exit code 4 without having committed anything twice.
TEST_F(MirrorIntegrationTest, ASecondMirrorWithTheSameIdentityFencesTheFirst) {
  const std::string source_topic = NewSourceTopic("fence-src");
  const std::string local_topic = Unique("fence-dst");
  const std::string checkpoints = Unique("fence-ckpt");
  const std::vector<std::string> args = {absl::StrCat("--source-topic=", source_topic),
                                         absl::StrCat("--destination-topic=", local_topic),
                                         absl::StrCat("--checkpoint-topic=", checkpoints),
                                         absl::StrCat("--group=", Unique("fence-group"))};
  SourceWriter writer(this, source_topic, 2000);
  MirrorProcess older(args);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (CheckpointTotal(checkpoints, source_topic) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GT(CheckpointTotal(checkpoints, source_topic), 0) << older.output();

  MirrorProcess newer(args);
  EXPECT_EQ(older.Wait(), 4) << older.output();
  EXPECT_THAT(older.output(), HasSubstr("fenced"));
  EXPECT_THAT(older.output(), HasSubstr("another producer with this transactional.id"));
  absl::SleepFor(absl::Seconds(2));  // the newer one mirrors on meanwhile
  const int produced = writer.Stop();
  ASSERT_TRUE(newer.Kill()) << newer.output();  // may have been mid-transaction too

  std::vector<std::string> last = args;
  last.push_back("--exit-at-end");
  MirrorProcess run(last);
  ASSERT_EQ(run.Wait(), 0) << run.output();
  ExpectExactlyTheSource(ReadLocal(local_topic), produced,
                         absl::StrCat(older.output(), "\n", newer.output()));
}

// Two processes, each with its own list of the source's partitions (and
// so its own identity), mirror one topic together exactly once.
TEST_F(MirrorIntegrationTest, TwoProcessesShareATopicByPartitionLists) {
  constexpr int kMessages = 30000;
  const std::string source_topic = NewSourceTopic("share-src");
  const std::string local_topic = Unique("share-dst");
  const std::string checkpoints = Unique("share-ckpt");
  ProduceSource(source_topic, 0, kMessages);
  const std::vector<std::string> args = {
      absl::StrCat("--source-topic=", source_topic),
      absl::StrCat("--destination-topic=", local_topic),
      absl::StrCat("--checkpoint-topic=", checkpoints),
      absl::StrCat("--group=", Unique("share-group")), "--exit-at-end"};
  std::vector<std::string> a = args, b = args;
  a.push_back("--source-partitions=0");
  b.push_back("--source-partitions=2,1");
  MirrorProcess first(a), second(b);
  ASSERT_EQ(first.Wait(), 0) << first.output();
  ASSERT_EQ(second.Wait(), 0) << second.output();
  EXPECT_THAT(first.output(), HasSubstr(".p0 "));
  EXPECT_THAT(second.output(), HasSubstr(".p1-2 "));
  ExpectExactlyTheSource(ReadLocal(local_topic), kMessages,
                         absl::StrCat(first.output(), "\n", second.output()));
  // Run again on all partitions (another identity): the checkpoints are
  // per partition, so it finds nothing left to copy.
  std::vector<std::string> all = args;
  MirrorProcess third(all);
  ASSERT_EQ(third.Wait(), 0) << third.output();
  EXPECT_EQ(Total(ReadLocal(local_topic)), kMessages) << third.output();
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

// Switching an at-least-once mirror to exactly-once: with
// --resume-from-group the first run starts where the group committed.
TEST_F(MirrorIntegrationTest, SwitchingFromAtLeastOnceResumesWhereTheGroupStopped) {
  constexpr int kMessages = 12000;
  const std::string source_topic = NewSourceTopic("switch-src");
  const std::string local_topic = Unique("switch-dst");
  ProduceSource(source_topic, 0, kMessages);
  const std::vector<std::string> common = {absl::StrCat("--source-topic=", source_topic),
                                           absl::StrCat("--destination-topic=", local_topic),
                                           absl::StrCat("--group=", Unique("switch-group"))};
  std::vector<std::string> before = common;
  before.insert(before.end(), {"--delivery=at-least-once", "--max-messages=5000"});
  MirrorProcess run1(before);
  ASSERT_EQ(run1.Wait(), 0) << run1.output();
  std::vector<std::string> after = common;
  after.insert(after.end(), {absl::StrCat("--checkpoint-topic=", Unique("switch-ckpt")),
                             "--resume-from-group", "--exit-at-end"});
  MirrorProcess run2(after);
  ASSERT_EQ(run2.Wait(), 0) << run2.output();
  EXPECT_THAT(run2.output(), HasSubstr("(group)"));
  ExpectExactlyTheSource(ReadLocal(local_topic), kMessages, run2.output());
}

// At-least-once: one of the three local brokers stopped in the middle of
// a run, while more is produced: nothing is lost.
TEST_F(MirrorIntegrationTest, AtLeastOnceLosesNothingWhenALocalBrokerStops) {
  ASSERT_NE(std::getenv("PV_REPO_ROOT"), nullptr)
      << "PV_REPO_ROOT must name the repository (forward it with --test_env)";
  constexpr int kMessages = 40000;
  const std::string source_topic = NewSourceTopic("loss-src");
  const std::string local_topic = Unique("loss-dst");
  ProduceSource(source_topic, 0, kMessages / 2);

  // --max-messages keeps the run going until the second half, produced
  // while broker 2 is down, is mirrored too.
  MirrorProcess run({"--delivery=at-least-once", absl::StrCat("--source-topic=", source_topic),
                     absl::StrCat("--destination-topic=", local_topic),
                     absl::StrCat("--group=", Unique("loss-group")), "--commit-interval=1s",
                     absl::StrCat("--max-messages=", kMessages)});
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (Total(ReadLocal(local_topic)) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GT(Total(ReadLocal(local_topic)), 0u) << run.output();

  ASSERT_EQ(KafkaScript("stop-broker 2"), 0);
  struct Restart {
    ~Restart() { EXPECT_EQ(KafkaScript("start-broker 2"), 0); }
  } restart;
  ProduceSource(source_topic, kMessages / 2, kMessages);

  ASSERT_EQ(run.Wait(), 0) << run.output();
  // Within one producer session the idempotent producer also removes the
  // retries' duplicates.
  ExpectExactlyTheSource(ReadLocal(local_topic), kMessages, run.output());
}

}  // namespace
}  // namespace pv::ingest
