// The pipeline end to end on the live services of tools/services: generated
// events produced to the source cluster, mirror (exactly-once) into the
// local cluster, consume into segment files, the batch into PostgreSQL.
// mirror and consume are both SIGKILLed again and again while events keep
// arriving; the warehouse must still count every valid event exactly once:
// sum(view_count) equals the valid events generated (those with a
// product), and the quarantine holds each invalid one once.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/etl/batch_test_support.h"
#include "cc/event/event.h"
#include "cc/kafka/kafka.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/datagen/generator.h"

namespace pv {
namespace {

using etl::testing::ReadFile;
using etl::testing::RunProgram;
using etl::testing::RunResult;
using etl::testing::Runfile;
using etl::testing::TempDir;
using etl::testing::TestDatabase;

std::string Unique(absl::string_view what) {
  return absl::StrCat("pv-e2e-", what, "-", getpid(), "-", absl::ToUnixMillis(absl::Now()));
}

// A binary of the runfiles in the background, output appended to `log`.
class Process {
 public:
  Process(const std::string& binary, const std::vector<std::string>& args,
          const std::string& log) {
    const std::string path = Runfile(binary);
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      std::vector<char*> argv = {const_cast<char*>(path.c_str())};
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(path.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0) Kill();
  }
  // SIGKILL; true if it was still running.
  bool Kill() {
    if (pid_ <= 0) return false;  // never kill(-1, ...): that is every process
    const bool running = waitpid(pid_, nullptr, WNOHANG) == 0;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return running;
  }
  // The exit code; -1 after `timeout` (then killed).
  int Wait(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) != pid_) {
      if (absl::Now() > deadline) {
        Kill();
        return -1;
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

// Generated events into a source topic at about `per_second`, on a thread,
// until Stop(); counts the valid and invalid ones, and the valid ones with
// a product (the facts' events: a valid event without a product_id is
// counted by the batch but belongs to no fact).
class EventWriter {
 public:
  EventWriter(const kafka::KafkaConfig& source, const std::string& topic, int per_second)
      : thread_([this, source, topic, per_second] {
          datagen::GeneratorOptions g;
          g.events = 1 << 30;
          g.days = 3;
          // More invalid records than the default, all of them below the
          // batch's 1 % gate together.
          g.rate_not_json = 0.002;
          g.rate_bad_time = 0.002;
          datagen::EventGenerator generator(g);
          event::EventParser parser;
          event::Event parsed;
          auto producer = kafka::Producer::Create(source, {});
          if (!producer.ok()) {
            error_ = producer.status();
            return;
          }
          const absl::Time start = absl::Now();
          std::string value;
          while (!stop_.load() && error_.ok()) {
            const int64_t due =
                static_cast<int64_t>(absl::ToDoubleSeconds(absl::Now() - start) * per_second);
            for (; produced_ < due && error_.ok(); ++produced_) {
              value.clear();
              const datagen::RecordKind kind = generator.AppendNext(&value);
              const bool valid =
                  kind == datagen::RecordKind::kClean || kind == datagen::RecordKind::kMessy;
              ++(valid ? valid_ : invalid_);
              const bool parsed_valid = parser.Parse(value, &parsed) == event::Invalid::kOk;
              if (parsed_valid != valid) {
                error_ = absl::InternalError(absl::StrCat("generator and parser disagree on ",
                                                          value));
              }
              if (valid && !parsed.product_id.empty()) ++with_product_;
              error_ = (*producer)->Produce(topic, kafka::kAnyPartition,
                                            absl::StrCat(produced_), value);
            }
            (*producer)->Poll(absl::Milliseconds(5));
          }
          if (error_.ok()) error_ = (*producer)->Flush(absl::Seconds(60));
        }) {}
  ~EventWriter() {
    if (thread_.joinable()) Stop();
  }
  void Stop() {
    stop_.store(true);
    thread_.join();
    EXPECT_TRUE(error_.ok()) << error_;
  }
  int64_t valid() const { return valid_; }
  int64_t invalid() const { return invalid_; }
  int64_t with_product() const { return with_product_; }

 private:
  std::atomic<bool> stop_{false};
  int64_t produced_ = 0, valid_ = 0, invalid_ = 0, with_product_ = 0;
  absl::Status error_;
  std::thread thread_;
};

// Records of the local `topic` a read_committed consumer sees.
int64_t CommittedRecords(const std::string& topic) {
  auto local = kafka::KafkaConfig::FromEnv("PV_KAFKA");
  if (!local.ok()) return -1;
  kafka::ConsumerOptions options;
  options.assign_only = true;
  auto consumer = kafka::Consumer::Create(*local, options);
  if (!consumer.ok()) return -1;
  std::vector<kafka::TopicPartitionOffset> all;
  std::vector<int64_t> end;
  for (int32_t p = 0; p < 3; ++p) {
    all.push_back({topic, p, kafka::kOffsetBeginning});
    auto w = (*consumer)->QueryWatermarks(topic, p, absl::Seconds(30));  // the LSO
    if (!w.ok()) return -1;
    end.push_back(w->high);
  }
  if (!(*consumer)->Assign(all).ok()) return -1;
  int64_t n = 0;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  for (;;) {
    auto m = (*consumer)->Poll(absl::Milliseconds(200));
    if (!m.ok() || absl::Now() > deadline) return -1;
    if (!m->empty()) ++n;
    bool done = true;
    for (int32_t p = 0; p < 3; ++p) done &= (*consumer)->Position(topic, p) >= end[p] || end[p] == 0;
    if (done) return n;
  }
}

int PublishedSegments(const std::string& dir) {
  FILE* f = popen(absl::StrCat("ls '", dir, "' | grep -c '\\.pvseg$'").c_str(), "r");
  int n = -1;
  if (f != nullptr && std::fscanf(f, "%d", &n) != 1) n = -1;
  if (f != nullptr) pclose(f);
  return n;
}

TEST(PipelineIntegration, EveryValidEventCountedOnceThroughMirrorAndConsumeKills) {
  for (const char* name : {"PV_KAFKA_BROKERS", "PV_KAFKA_SOURCE_BROKERS", "PV_PG_CONNINFO"}) {
    ASSERT_NE(std::getenv(name), nullptr)
        << name << " is not set: tools/services/all.sh start; eval \"$(tools/services/all.sh "
        << "env)\"";
  }
  auto source = kafka::KafkaConfig::FromEnv("PV_KAFKA_SOURCE");
  ASSERT_TRUE(source.ok()) << source.status();
  auto admin = kafka::Admin::Create(*source);
  ASSERT_TRUE(admin.ok()) << admin.status();
  const std::string source_topic = Unique("src");
  ASSERT_TRUE((*admin)->CreateTopic(source_topic, 3, 1, absl::Seconds(30)).ok());
  const std::string local_topic = Unique("views");
  const std::string segments = TempDir("e2e-segments");
  const std::string log = absl::StrCat(TempDir("e2e-logs"), "/stages.log");
  const std::string group = Unique("consume");

  const std::vector<std::string> mirror_args = {
      absl::StrCat("--source-topic=", source_topic),
      absl::StrCat("--destination-topic=", local_topic),
      absl::StrCat("--checkpoint-topic=", Unique("ckpt")),
      absl::StrCat("--group=", Unique("mirror"))};
  // Static membership: a restarted consume takes its partitions back at
  // once instead of waiting for the killed member's session to time out.
  const std::vector<std::string> consume_args = {
      absl::StrCat("--topic=", local_topic), absl::StrCat("--segments=", segments),
      absl::StrCat("--group=", group), "--segment-mb=1", "--segment-seconds=1",
      "-X", absl::StrCat("group.instance.id=", group), "-X", "session.timeout.ms=10000"};

  EventWriter writer(*source, source_topic, 1500);
  std::mt19937 random(4242);
  std::uniform_int_distribution<int> ms(500, 4000);
  int mirror_kills = 0, consume_kills = 0;
  for (int round = 0; round < 12; ++round) {
    Process mirror("cc/ingest/mirror", mirror_args, log);
    Process consume("cc/ingest/consume", consume_args, log);
    // Each is killed at its own random moment.
    const int mirror_ms = ms(random), consume_ms = ms(random);
    absl::SleepFor(absl::Milliseconds(std::min(mirror_ms, consume_ms)));
    if (mirror_ms <= consume_ms) {
      mirror_kills += mirror.Kill();
    } else {
      consume_kills += consume.Kill();
    }
    absl::SleepFor(absl::Milliseconds(std::abs(mirror_ms - consume_ms)));
    mirror_kills += mirror.Kill();
    consume_kills += consume.Kill();
  }
  writer.Stop();
  EXPECT_GE(mirror_kills, 10);
  EXPECT_GE(consume_kills, 10);
  // The killed runs did work: the mirror committed records, consume
  // published segments.
  const int64_t mirrored = CommittedRecords(local_topic);
  const int published = PublishedSegments(segments);
  EXPECT_GT(mirrored, writer.valid() / 4);
  EXPECT_GT(published, 10);

  // Then both to the end, the mirror first.
  std::vector<std::string> args = mirror_args;
  args.push_back("--exit-at-end");
  ASSERT_EQ(Process("cc/ingest/mirror", args, log).Wait(absl::Minutes(4)), 0) << ReadFile(log);
  args = consume_args;
  args.push_back("--exit-at-end");
  ASSERT_EQ(Process("cc/ingest/consume", args, log).Wait(absl::Minutes(4)), 0) << ReadFile(log);

  TestDatabase db;
  const std::string quarantine = TempDir("e2e-quarantine");
  RunResult batch = RunProgram("cc/etl/batch", {"--segments=" + segments,
                                                "--pg=" + db.conninfo(), "--threads=2",
                                                "--quarantine=" + quarantine});
  ASSERT_EQ(batch.exit_code, 0) << batch.output;
  EXPECT_EQ(db.Scalar("SELECT sum(view_count) FROM fact_product_views"),
            absl::StrCat(writer.with_product()))
      << batch.output;
  // Every invalid record once in the quarantine (one NDJSON line each).
  FILE* lines = popen(absl::StrCat("cat '", quarantine, "'/* | wc -l").c_str(), "r");
  ASSERT_NE(lines, nullptr);
  long long quarantined = -1;
  ASSERT_EQ(std::fscanf(lines, "%lld", &quarantined), 1);
  pclose(lines);
  EXPECT_EQ(quarantined, writer.invalid()) << batch.output;
  std::printf("%lld valid events (%lld with a product) and %lld invalid ones; %d mirror "
              "and %d consume SIGKILLs, after which %lld records were mirrored and %d "
              "segments published\n",
              static_cast<long long>(writer.valid()),
              static_cast<long long>(writer.with_product()),
              static_cast<long long>(writer.invalid()), mirror_kills, consume_kills,
              static_cast<long long>(mirrored), published);
}

}  // namespace
}  // namespace pv
