// consume and mongo_export against the live services of tools/services:
//  - exactly once into segments while consume is SIGKILLed 20+ times at
//    random moments (and messages keep arriving);
//  - exactly once with three members of one group under distinct host names
//    on one directory, SIGKILLed and restarted while records are produced;
//    no host's startup removes another host's temporary files;
//  - the MongoDB sink ignores a full replay (same count);
//  - mongo_export gives back payloads the EventParser reads as the same
//    events as the Kafka payloads.
// Needs PV_KAFKA_BROKERS, PV_KAFKA_USER, PV_KAFKA_PASSWORD and PV_MONGO_URI
// (eval "$(tools/services/all.sh env)").
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/event/event.h"
#include "cc/kafka/kafka.h"
#include "cc/mongo/mongo.h"
#include "cc/segment/naming.h"
#include "cc/segment/segment.h"
#include "gtest/gtest.h"
#include "tools/datagen/generator.h"

namespace pv::ingest {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

bool HaveServices() {
  for (const char* n : {"PV_KAFKA_BROKERS", "PV_KAFKA_USER", "PV_KAFKA_PASSWORD", "PV_MONGO_URI"}) {
    if (Env(n).empty()) {
      ADD_FAILURE() << n << " is not set: start the services (tools/services/all.sh start) "
                       "and eval \"$(tools/services/all.sh env)\" before bazel test";
      return false;
    }
  }
  return true;
}

std::string Binary(const std::string& name) {
  return absl::StrCat(Env("TEST_SRCDIR"), "/productview/cc/ingest/", name);
}

std::string Unique() {
  return absl::StrCat(::getpid(), "-", absl::ToUnixMillis(absl::Now()));
}

std::string MakeDir(const std::string& name) {
  const std::string dir = absl::StrCat(Env("TEST_TMPDIR"), "/", name);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

// Starts `binary` with `args`; stdout and stderr are appended to `log`.
// The argument vector is built before fork: the child of a process with
// other threads (librdkafka's, a producer's) may only make system calls.
pid_t Spawn(const std::string& binary, const std::vector<std::string>& args,
            const std::string& log) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

std::string Tail(const std::string& path, size_t bytes = 4000) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

// Waits for `pid`; its exit code, or -1 on timeout (the process is killed).
int WaitExit(pid_t pid, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (absl::Now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
}

int RunToEnd(const std::string& binary, const std::vector<std::string>& args,
             const std::string& log) {
  return WaitExit(Spawn(binary, args, log), absl::Minutes(4));
}

class Fixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveServices()) GTEST_SKIP();
    auto config = kafka::KafkaConfig::FromEnv("PV_KAFKA");
    ASSERT_TRUE(config.ok()) << config.status();
    config_ = *config;
    auto admin = kafka::Admin::Create(config_);
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = std::move(*admin);
    auto producer = kafka::Producer::Create(config_, {});
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
    datagen::GeneratorOptions g;
    g.events = 1 << 30;
    generator_ = std::make_unique<datagen::EventGenerator>(g);
  }

  void CreateTopic(const std::string& topic, int partitions = 3) {
    ASSERT_TRUE(admin_->CreateTopic(topic, partitions, 3, absl::Seconds(60),
                                    {{"min.insync.replicas", "2"}})
                    .ok());
  }

  // Produces `n` generator events keyed by their sequence number.
  void Produce(const std::string& topic, int n) {
    for (int i = 0; i < n; ++i) {
      std::string value;
      generator_->AppendNext(&value);
      const std::string key = absl::StrCat(values_.size());
      values_.push_back(value);
      ASSERT_TRUE(producer_->Produce(topic, kafka::kAnyPartition, key, value).ok());
    }
    ASSERT_TRUE(producer_->Flush(absl::Seconds(60)).ok());
  }

  kafka::KafkaConfig config_;
  std::unique_ptr<kafka::Admin> admin_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<datagen::EventGenerator> generator_;
  std::vector<std::string> values_;  // by key
};

struct Coordinate {
  int32_t partition;
  int64_t offset;
  bool operator==(const Coordinate& o) const {
    return partition == o.partition && offset == o.offset;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Coordinate& c) {
    return H::combine(std::move(h), c.partition, c.offset);
  }
};

struct Record {
  std::string key, payload, source_id;
  int32_t partition;
  int64_t offset;
};

std::vector<Record> ReadAll(const std::string& dir, const std::string& source) {
  std::vector<Record> out;
  auto paths = segment::ListSegments(dir);
  EXPECT_TRUE(paths.ok()) << paths.status();
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    if ((*reader)->info().source != source) continue;
    segment::Block block;
    for (size_t b = 0; b < (*reader)->block_count(); ++b) {
      EXPECT_TRUE((*reader)->ReadBlock(b, &block).ok());
      for (size_t i = 0; i < block.size(); ++i) {
        const segment::RecordView& r = block.record(i);
        out.push_back({std::string(r.key), std::string(r.payload), std::string(r.source_id),
                       r.partition, r.offset});
      }
    }
  }
  return out;
}

// Every offset of `topic` (its watermarks now) is in exactly one record of
// the segments of `dir`, and every produced record (keyed by its index in
// `values`) exactly once, with its payload. `context` ends failure messages.
void ExpectEveryOffsetOnce(kafka::Admin* admin, const std::vector<std::string>& values,
                           const std::string& dir, const std::string& topic,
                           const std::string& context = "") {
  auto marks = admin->Watermarks(topic, absl::Seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.status();
  absl::flat_hash_map<Coordinate, int> seen;
  std::vector<int> key_seen(values.size(), 0);
  const std::vector<Record> records = ReadAll(dir, topic);
  for (const Record& r : records) {
    ++seen[{r.partition, r.offset}];
    size_t key = 0;
    ASSERT_TRUE(absl::SimpleAtoi(r.key, &key) && key < values.size()) << r.key;
    ++key_seen[key];
    ASSERT_EQ(r.payload, values[key]) << "partition " << r.partition << " offset " << r.offset;
  }
  int64_t expected = 0;
  for (const kafka::PartitionWatermarks& w : *marks) {
    expected += w.high - w.low;
    for (int64_t o = w.low; o < w.high; ++o) {
      auto it = seen.find(Coordinate{w.partition, o});
      ASSERT_TRUE(it != seen.end()) << "partition " << w.partition << " offset " << o
                                    << " missing" << context;
      ASSERT_EQ(it->second, 1) << "partition " << w.partition << " offset " << o
                               << " duplicated" << context;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(records.size()), expected);
  EXPECT_EQ(expected, static_cast<int64_t>(values.size()));
  for (size_t k = 0; k < key_seen.size(); ++k) ASSERT_EQ(key_seen[k], 1) << "key " << k;
}

int CountTempFiles(const std::string& dir) {
  int n = 0;
  DIR* d = ::opendir(dir.c_str());
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.size() > 4 && name[0] == '.' && name.substr(name.size() - 4) == ".tmp") ++n;
  }
  ::closedir(d);
  return n;
}

// consume started before its topic exists (the mirror creates it) waits
// for it. A member that joined the group without the topic would get an
// empty assignment, and its restart (a static member, group.instance.id,
// within its session) is handed that assignment again without a
// rebalance until the leader's next metadata refresh, minutes later: the
// end-to-end pipeline test once hung on it.
TEST_F(Fixture, ConsumeStartedBeforeItsTopicExistsWaitsForIt) {
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-late-", suffix);
  const std::string dir = MakeDir("late_topic_segments");
  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_late_topic.log");
  std::vector<std::string> args = {
      absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
      absl::StrCat("--group=pvc-late-", suffix), "--segment-mb=1", "--segment-seconds=1",
      "-X", absl::StrCat("group.instance.id=pvc-late-", suffix), "-X", "session.timeout.ms=10000"};
  const pid_t first = Spawn(Binary("consume"), args, log);
  absl::SleepFor(absl::Seconds(3));
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  WaitExit(first, absl::Seconds(10));
  args.push_back("--exit-at-end");
  const pid_t second = Spawn(Binary("consume"), args, log);  // within the session
  absl::SleepFor(absl::Seconds(1));
  CreateTopic(topic);
  Produce(topic, 3000);
  EXPECT_EQ(WaitExit(second, absl::Seconds(90)), 0) << Tail(log);
  EXPECT_NE(Tail(log, 1 << 20).find("does not exist yet"), std::string::npos) << Tail(log);
  // What the second run left (it may have reached the end before all was
  // produced), a third finishes: every record once.
  ASSERT_EQ(RunToEnd(Binary("consume"), args, log), 0) << Tail(log);
  ExpectEveryOffsetOnce(admin_.get(), values_, dir, topic);
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

TEST_F(Fixture, ExactlyOnceIntoSegmentsUnderRepeatedSigkill) {
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-eo-", suffix);
  CreateTopic(topic);
  Produce(topic, 30000);
  const std::string dir = MakeDir("eo_segments");
  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_eo.log");
  // Static membership: a restarted instance takes over its predecessor's
  // partitions at once instead of waiting for its session to time out.
  const std::vector<std::string> args = {
      absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
      absl::StrCat("--group=pvc-eo-", suffix), "--segment-mb=1", "--segment-seconds=1",
      "-X", absl::StrCat("group.instance.id=pvc-eo-", suffix), "-X", "session.timeout.ms=10000"};
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> sleep_ms(0, 1500);
  auto published = [&] {
    auto paths = segment::ListSegments(dir);
    return paths.ok() ? paths->size() : 0;
  };
  int kills = 0;
  for (int round = 0; round < 22; ++round) {
    const size_t before = published();
    if (round >= 2) Produce(topic, 1200);  // each round has something to publish
    pid_t pid = Spawn(Binary("consume"), args, log);
    if (round % 3 == 1) Produce(topic, 1500);  // while it runs
    // Each round does work: it publishes a segment of its own, then dies at
    // a random moment after.
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (published() == before && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_GT(published(), before) << "round " << round << " published nothing\n" << Tail(log);
    absl::SleepFor(absl::Milliseconds(sleep_ms(random)));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++kills;
    if (round % 5 == 4) Produce(topic, 1000);  // between runs
  }
  EXPECT_GE(kills, 20) << Tail(log);
  // And inside the publish window, where a random kill rarely lands: after
  // the temporary file's fsync and before its rename, and after the rename
  // before the directory's fsync (crash points, cc/common/crash_point.h).
  int window_kills = 0;
  for (int round = 0; round < 8; ++round) {
    const std::string at = absl::StrCat(
        round % 2 == 0 ? "segment.before_rename:" : "segment.after_rename:", 1 + round / 2 % 2);
    Produce(topic, 2500);  // > 2 MB: at least two 1 MB segments to publish
    setenv("PV_CRASH_AT", at.c_str(), 1);
    pid_t pid = Spawn(Binary("consume"), args, log);
    unsetenv("PV_CRASH_AT");
    const int code = WaitExit(pid, absl::Seconds(60));
    EXPECT_EQ(code, 128 + SIGKILL) << at << ": the run did not die at its crash point\n"
                                   << Tail(log);
    window_kills += code == 128 + SIGKILL;
  }
  EXPECT_EQ(window_kills, 8);
  std::vector<std::string> final_args = args;
  final_args.push_back("--exit-at-end");
  ASSERT_EQ(RunToEnd(Binary("consume"), final_args, log), 0) << Tail(log);

  ExpectEveryOffsetOnce(admin_.get(), values_, dir, topic);
  if (HasFatalFailure()) return;
  // The last run removed the temporary files its killed predecessors left.
  EXPECT_EQ(CountTempFiles(dir), 0);
  auto paths = segment::ListSegments(dir);
  ASSERT_TRUE(paths.ok());
  EXPECT_GT(paths->size(), 3u);
  std::printf("exactly-once: %zu records, %zu segments, %d SIGKILLs at random moments, %d in "
              "the publish window\n",
              values_.size(), paths->size(), kills, window_kills);
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

// Runs tools/services/kafka.sh with `args`; returns its exit status.
int KafkaScript(absl::string_view args) {
  const std::string root = Env("PV_REPO_ROOT");
  if (root.empty()) return -1;
  return std::system(absl::StrCat("'", root, "/tools/services/kafka.sh' ", args).c_str());
}

// The segments' filesystem fills up (a 4 MB tmpfs, mounted for the test:
// needs root): consume stops with an error naming the file and the cause,
// leaves only complete segments, and once there is room again resumes with
// every offset exactly once.
TEST_F(Fixture, AFullDiskStopsConsumeCleanlyAndItResumesExactlyOnce) {
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-full-", suffix);
  CreateTopic(topic);
  Produce(topic, 12000);  // about 12 MB of payload
  const std::string dir = MakeDir("full_segments");
  if (std::system(absl::StrCat("mount -t tmpfs -o size=4m pv-enospc '", dir, "' 2>/dev/null")
                      .c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN)";
  }
  struct Unmount {
    std::string dir;
    ~Unmount() {
      if (std::system(absl::StrCat("umount '", dir, "'").c_str()) != 0) {
        ADD_FAILURE() << "cannot unmount " << dir;
      }
    }
  } unmount{dir};
  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_full.log");
  const std::vector<std::string> args = {
      absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
      absl::StrCat("--group=pvc-full-", suffix), "--segment-mb=1", "--codec=none",
      "--exit-at-end"};
  const int code = RunToEnd(Binary("consume"), args, log);
  EXPECT_EQ(code, 1) << Tail(log);
  EXPECT_NE(Tail(log).find("No space left on device"), std::string::npos) << Tail(log);
  // What is visible is whole: every published segment opens and verifies,
  // and no temporary file is left.
  EXPECT_EQ(CountTempFiles(dir), 0);
  auto paths = segment::ListSegments(dir);
  ASSERT_TRUE(paths.ok());
  EXPECT_GT(paths->size(), 0u);
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    ASSERT_TRUE(reader.ok()) << path << ": " << reader.status();
    for (size_t b = 0; b < (*reader)->block_count(); ++b) {
      segment::Block block;
      absl::Status read = (*reader)->ReadBlock(b, &block);
      EXPECT_TRUE(read.ok()) << read;
    }
  }
  const size_t before = ReadAll(dir, topic).size();
  EXPECT_LT(before, 12000u);

  ASSERT_EQ(std::system(absl::StrCat("mount -o remount,size=64m '", dir, "'").c_str()), 0);
  ASSERT_EQ(RunToEnd(Binary("consume"), args, log), 0) << Tail(log);
  absl::flat_hash_map<Coordinate, int> seen;
  for (const Record& r : ReadAll(dir, topic)) ++seen[{r.partition, r.offset}];
  auto marks = admin_->Watermarks(topic, absl::Seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.status();
  for (const kafka::PartitionWatermarks& w : *marks) {
    for (int64_t o = w.low; o < w.high; ++o) {
      auto it = seen.find(Coordinate{w.partition, o});
      ASSERT_TRUE(it != seen.end()) << "partition " << w.partition << " offset " << o << " missing";
      ASSERT_EQ(it->second, 1) << "partition " << w.partition << " offset " << o << " duplicated";
    }
  }
  EXPECT_EQ(seen.size(), 12000u);
  std::printf("full disk: %zu records published before ENOSPC, all 12000 after\n", before);
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

// One of the three brokers stopped in the middle of a consume run, while
// more is produced (acks=all, min ISR 2): the run goes on, and after the
// broker is back every offset is in the segments exactly once.
TEST_F(Fixture, BrokerLossMidRunLosesNothing) {
  ASSERT_FALSE(Env("PV_REPO_ROOT").empty())
      << "PV_REPO_ROOT must name the repository (forward it with --test_env)";
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-loss-", suffix);
  CreateTopic(topic);
  Produce(topic, 10000);
  const std::string dir = MakeDir("loss_segments");
  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_loss.log");
  const std::vector<std::string> args = {absl::StrCat("--topic=", topic),
                                         absl::StrCat("--segments=", dir),
                                         absl::StrCat("--group=pvc-loss-", suffix),
                                         "--segment-mb=1", "--segment-seconds=1"};
  pid_t pid = Spawn(Binary("consume"), args, log);
  absl::SleepFor(absl::Seconds(1));
  ASSERT_EQ(KafkaScript("stop-broker 2"), 0);
  struct Restart {
    bool pending = true;
    ~Restart() {
      if (pending) {
        EXPECT_EQ(KafkaScript("start-broker 2"), 0);
      }
    }
  } restart;
  Produce(topic, 10000);
  // consume goes on with the broker away: everything produced so far,
  // including what was produced while it was down, reaches published
  // segments before the broker comes back.
  const absl::Time deadline = absl::Now() + absl::Seconds(90);
  size_t published = 0;
  while ((published = ReadAll(dir, topic).size()) < 20000 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
  }
  ASSERT_EQ(published, 20000u) << "consume did not keep up while broker 2 was down\n"
                               << Tail(log);
  ASSERT_EQ(KafkaScript("start-broker 2"), 0);
  restart.pending = false;
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid, absl::Minutes(2)), 0) << Tail(log);
  std::vector<std::string> final_args = args;
  final_args.push_back("--exit-at-end");
  ASSERT_EQ(RunToEnd(Binary("consume"), final_args, log), 0) << Tail(log);

  absl::flat_hash_map<Coordinate, int> seen;
  for (const Record& r : ReadAll(dir, topic)) ++seen[{r.partition, r.offset}];
  auto marks = admin_->Watermarks(topic, absl::Seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.status();
  int64_t expected = 0;
  for (const kafka::PartitionWatermarks& w : *marks) {
    expected += w.high - w.low;
    for (int64_t o = w.low; o < w.high; ++o) {
      auto it = seen.find(Coordinate{w.partition, o});
      ASSERT_TRUE(it != seen.end()) << "partition " << w.partition << " offset " << o << " missing";
      ASSERT_EQ(it->second, 1) << "partition " << w.partition << " offset " << o << " duplicated";
    }
  }
  EXPECT_EQ(expected, 20000);
  EXPECT_EQ(static_cast<int64_t>(seen.size()), expected);
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

// Several members of one group sharing one directory: joins, a clean leave
// (SIGTERM: revoke publishes first) and a SIGKILLed member whose partitions
// move after its session times out. Still every offset exactly once.
TEST_F(Fixture, ExactlyOnceAcrossGroupRebalances) {
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-rb-", suffix);
  CreateTopic(topic);
  Produce(topic, 20000);
  const std::string dir = MakeDir("rebalance_segments");
  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_rebalance.log");
  const std::vector<std::string> args = {
      absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
      absl::StrCat("--group=pvc-rb-", suffix), "--segment-mb=1", "--segment-seconds=1",
      "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500",
      // librdkafka fetches ahead; keep the batches small so the members
      // are mid-stream when the group changes.
      "-X", "max.partition.fetch.bytes=100000", "-X", "queued.max.messages.kbytes=200"};
  // Each member under its own host name (as on separate machines sharing
  // the directory): the writer lock admits one writer per host, and the
  // segment names say who wrote what.
  auto as_host = [&](const std::string& host) {
    std::vector<std::string> a = args;
    a.push_back("--host=" + host);
    return a;
  };
  pid_t a = Spawn(Binary("consume"), as_host("hosta"), log);
  absl::SleepFor(absl::Milliseconds(700));
  pid_t b = Spawn(Binary("consume"), as_host("hostb"), log);
  Produce(topic, 3000);
  absl::SleepFor(absl::Seconds(2));
  ASSERT_EQ(::kill(a, SIGKILL), 0);
  ::waitpid(a, nullptr, 0);
  pid_t c = Spawn(Binary("consume"), as_host("hostc"), log);
  Produce(topic, 3000);
  absl::SleepFor(absl::Seconds(8));  // a's session expires; b and c share
  ASSERT_EQ(::kill(b, SIGTERM), 0);
  EXPECT_EQ(WaitExit(b, absl::Seconds(60)), 0) << Tail(log);
  Produce(topic, 2000);
  absl::SleepFor(absl::Seconds(2));
  ASSERT_EQ(::kill(c, SIGTERM), 0);
  EXPECT_EQ(WaitExit(c, absl::Seconds(60)), 0) << Tail(log);
  // The group did change hands mid-stream: some partition has segments
  // written by two of the members (before the final run, which is alone).
  std::map<int32_t, std::set<std::string>> writers;
  auto before_final = segment::ListSegments(dir);
  ASSERT_TRUE(before_final.ok()) << before_final.status();
  for (const std::string& path : *before_final) {
    auto reader = segment::SegmentReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    const std::string host = path.substr(path.rfind('-') + 1);
    for (const segment::PartitionRange& r : (*reader)->info().ranges) {
      writers[r.partition].insert(host);
    }
  }
  bool moved = false;
  for (const auto& [partition, hosts] : writers) moved |= hosts.size() >= 2;
  EXPECT_TRUE(moved) << "no partition changed owner: no rebalance was tested";

  std::vector<std::string> final_args = as_host("hostfinal");
  final_args.push_back("--exit-at-end");
  ASSERT_EQ(RunToEnd(Binary("consume"), final_args, log), 0) << Tail(log);

  auto marks = admin_->Watermarks(topic, absl::Seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.status();
  absl::flat_hash_map<Coordinate, int> seen;
  const std::vector<Record> records = ReadAll(dir, topic);
  for (const Record& r : records) ++seen[{r.partition, r.offset}];
  int64_t expected = 0;
  for (const kafka::PartitionWatermarks& w : *marks) {
    expected += w.high - w.low;
    for (int64_t o = w.low; o < w.high; ++o) {
      auto it = seen.find(Coordinate{w.partition, o});
      ASSERT_TRUE(it != seen.end()) << "partition " << w.partition << " offset " << o;
      ASSERT_EQ(it->second, 1) << "partition " << w.partition << " offset " << o;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(records.size()), expected);
  EXPECT_EQ(expected, static_cast<int64_t>(values_.size()));
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// A temporary file as a writer of `topic` with `pid` on `host` leaves it.
std::string PlantTempFile(const std::string& dir, const std::string& topic, int64_t pid,
                          const std::string& host) {
  const std::string path = absl::StrCat(
      dir, "/.", segment::MakeSegmentName(topic, absl::ToUnixMillis(absl::Now()), 1, pid, host),
      ".pvseg.tmp");
  std::ofstream(path) << "an open segment";
  return path;
}

// A pid no process on this machine has (a child that exited and was reaped).
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) _exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// Waits until `log` contains `text`.
bool WaitForLog(const std::string& log, const std::string& text, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Tail(log, 1 << 20).find(text) == std::string::npos) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

// Records in the published segments of `topic`, from their footers.
uint64_t PublishedRecords(const std::string& dir, const std::string& topic) {
  uint64_t n = 0;
  auto paths = segment::ListSegments(dir);
  if (!paths.ok()) return 0;
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    if (reader.ok() && (*reader)->info().source == topic) n += (*reader)->info().records;
  }
  return n;
}

// Issue #16: three members of one group, each under its own host name (as
// on three machines), publish into one shared directory; they are SIGKILLed
// at random moments while records are produced and restarted under the same
// names, so partitions keep moving between them. Every offset of the six
// partitions is in the segments exactly once and every record is there.
// And each start removes only its own host name's dead writers' temporary
// files: a file of host b whose pid does not exist here stands for a live
// writer on machine b (its pid means nothing on this one), and survives
// host a's and host c's starts.
TEST_F(Fixture, ThreeHostsOnOneDirectoryExactlyOnceUnderSigkills) {
  const absl::Time began = absl::Now();
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-hosts-", suffix);
  CreateTopic(topic, 6);
  Produce(topic, 8000);
  const std::string dir = MakeDir("hosts_segments");
  const std::vector<std::string> hosts = {"hosta", "hostb", "hostc"};
  auto log_of = [&](const std::string& host) {
    return absl::StrCat(Env("TEST_TMPDIR"), "/consume_", host, ".log");
  };
  auto tails = [&] {
    std::string all;
    for (const std::string& h : hosts) absl::StrAppend(&all, "--- ", h, "\n", Tail(log_of(h)));
    return all;
  };
  auto args_of = [&](const std::string& host) {
    return std::vector<std::string>{
        absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
        absl::StrCat("--group=pvc-hosts-", suffix), "--segment-mb=1", "--segment-seconds=1",
        absl::StrCat("--host=", host), "-X", "session.timeout.ms=6000", "-X",
        "heartbeat.interval.ms=500",
        // Small fetches: the members are mid-stream when the group changes.
        "-X", "max.partition.fetch.bytes=100000", "-X", "queued.max.messages.kbytes=200"};
  };
  const pid_t dead = DeadPid();
  const std::string dead_a = PlantTempFile(dir, topic, dead, "hosta");
  const std::string elsewhere_b = PlantTempFile(dir, topic, dead, "hostb");
  const std::string live_b = PlantTempFile(dir, topic, ::getpid(), "hostb");
  const std::string started = "published segments in";

  std::map<std::string, pid_t> pid;
  pid["hosta"] = Spawn(Binary("consume"), args_of("hosta"), log_of("hosta"));
  ASSERT_TRUE(WaitForLog(log_of("hosta"), started, absl::Seconds(30))) << tails();
  EXPECT_FALSE(Exists(dead_a)) << "host a's start left its dead predecessor's file";
  EXPECT_TRUE(Exists(elsewhere_b)) << "host a's start removed host b's temporary file";
  EXPECT_TRUE(Exists(live_b));
  pid["hostc"] = Spawn(Binary("consume"), args_of("hostc"), log_of("hostc"));
  ASSERT_TRUE(WaitForLog(log_of("hostc"), started, absl::Seconds(30))) << tails();
  EXPECT_TRUE(Exists(elsewhere_b)) << "host c's start removed host b's temporary file";
  pid["hostb"] = Spawn(Binary("consume"), args_of("hostb"), log_of("hostb"));
  ASSERT_TRUE(WaitForLog(log_of("hostb"), started, absl::Seconds(30))) << tails();
  // Host b's own start: the pid is dead on the machine host b names.
  EXPECT_FALSE(Exists(elsewhere_b));
  EXPECT_TRUE(Exists(live_b)) << "host b's start removed a live writer's file";

  // Records keep arriving while members die: 200 every 200 ms.
  std::atomic<bool> producing{true};
  std::thread producer([&] {
    while (producing.load()) {
      Produce(topic, 200);
      absl::SleepFor(absl::Milliseconds(200));
    }
  });
  std::mt19937 random(16);
  std::uniform_int_distribution<int> pause_ms(1500, 4500), restart_ms(0, 1000);
  std::uniform_int_distribution<size_t> victim(0, hosts.size() - 1);
  int kills = 0;
  for (int round = 0; round < 8; ++round) {
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    const std::string& host = hosts[victim(random)];
    ASSERT_EQ(::kill(pid[host], SIGKILL), 0);
    int status = 0;
    ::waitpid(pid[host], &status, 0);
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++kills;
    absl::SleepFor(absl::Milliseconds(restart_ms(random)));
    pid[host] = Spawn(Binary("consume"), args_of(host), log_of(host));
  }
  producing = false;
  producer.join();
  EXPECT_EQ(kills, 8) << tails();

  // Let them finish: everything produced is published, then a clean stop.
  const uint64_t produced = values_.size();
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (PublishedRecords(dir, topic) < produced && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(250));
  }
  for (const std::string& h : hosts) ASSERT_EQ(::kill(pid[h], SIGTERM), 0);
  for (const std::string& h : hosts) {
    EXPECT_EQ(WaitExit(pid[h], absl::Seconds(60)), 0) << h << "\n" << tails();
  }

  ExpectEveryOffsetOnce(admin_.get(), values_, dir, topic, "\n" + tails());
  if (HasFatalFailure()) return;
  auto marks = admin_->Watermarks(topic, absl::Seconds(30));
  ASSERT_TRUE(marks.ok()) << marks.status();
  EXPECT_EQ(marks->size(), 6u);
  EXPECT_EQ(values_.size(), produced);

  // Partitions did move between the hosts.
  std::map<int32_t, std::set<std::string>> writers;
  auto paths = segment::ListSegments(dir);
  ASSERT_TRUE(paths.ok()) << paths.status();
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    const std::string host = path.substr(path.rfind('-') + 1);
    for (const segment::PartitionRange& r : (*reader)->info().ranges) {
      writers[r.partition].insert(host);
    }
  }
  int moved = 0;
  for (const auto& [partition, by] : writers) moved += by.size() >= 2;
  EXPECT_GT(moved, 0) << "no partition changed hosts: no rebalance was tested";
  // Every killed member's file was removed by its successor; the live
  // writer's stays.
  EXPECT_TRUE(Exists(live_b));
  EXPECT_EQ(CountTempFiles(dir), 1);
  ::unlink(live_b.c_str());
  std::printf("three hosts: %zu records in %zu segments, %d SIGKILLs, %d of 6 partitions "
              "written by several hosts, %.0f s\n",
              values_.size(), paths->size(), kills, moved,
              absl::ToDoubleSeconds(absl::Now() - began));
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

struct Fields {
  event::Invalid reason;
  std::string id, product_id, store_id, referrer_url, device_id, current_url, user_agent;
  int64_t local_time = 0, time_stamp = 0;
  std::string Describe() const {
    return absl::StrCat(event::InvalidName(reason), " id=", id, " product=", product_id,
                        " store=", store_id, " ref=", referrer_url, " device=", device_id,
                        " url=", current_url, " ua=", user_agent, " t=", local_time,
                        " ts=", time_stamp);
  }
};

Fields Parse(event::EventParser& parser, const std::string& payload) {
  std::string padded = payload;
  padded.append(event::kPadding, '\0');
  event::Event e;
  Fields f;
  f.reason = parser.Parse(absl::string_view(padded.data(), payload.size()), &e);
  if (f.reason == event::Invalid::kOk) {
    f.id = std::string(e.id);
    f.product_id = std::string(e.product_id);
    f.store_id = std::string(e.store_id);
    f.referrer_url = std::string(e.referrer_url);
    f.device_id = std::string(e.device_id);
    f.current_url = std::string(e.current_url);
    f.user_agent = std::string(e.user_agent);
    f.local_time = e.local_time;
    f.time_stamp = e.has_time_stamp ? e.time_stamp : -1;
  }
  return f;
}

TEST_F(Fixture, MongoSinkIgnoresReplayAndMongoExportGivesTheSameEvents) {
  const std::string suffix = Unique();
  const std::string topic = absl::StrCat("pvc-mongo-", suffix);
  const std::string db = "pv_consume_test";
  const std::string coll = absl::StrCat("views_", ::getpid(), "_", absl::ToUnixMillis(absl::Now()));
  constexpr int kEvents = 5000;
  CreateTopic(topic);
  Produce(topic, kEvents);
  auto client = mongo::MongoClient::Connect(Env("PV_MONGO_URI"));
  ASSERT_TRUE(client.ok()) << client.status();
  mongo::Collection collection = (*client)->GetCollection(db, coll);
  ASSERT_TRUE(collection.Drop().ok());

  const std::string log = absl::StrCat(Env("TEST_TMPDIR"), "/consume_mongo.log");
  auto args = [&](const std::string& dir, const std::string& group) {
    return std::vector<std::string>{
        absl::StrCat("--topic=", topic), absl::StrCat("--segments=", dir),
        absl::StrCat("--group=", group), "--exit-at-end", "--mongo",
        absl::StrCat("--mongo-uri=", Env("PV_MONGO_URI")), absl::StrCat("--mongo-db=", db),
        absl::StrCat("--mongo-collection=", coll), "--mongo-batch=500"};
  };
  const std::string first = MakeDir("mongo_first");
  ASSERT_EQ(RunToEnd(Binary("consume"), args(first, "pvc-m1-" + suffix), log), 0) << Tail(log);
  auto count = collection.Count();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, kEvents);

  // From the beginning again: every insert is a duplicate key.
  const std::string second = MakeDir("mongo_second");
  ASSERT_EQ(RunToEnd(Binary("consume"), args(second, "pvc-m2-" + suffix), log), 0) << Tail(log);
  count = collection.Count();
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, kEvents);
  EXPECT_EQ(ReadAll(second, topic).size(), static_cast<size_t>(kEvents));

  // mongo_export -> the same events as the Kafka payloads, coordinate by coordinate.
  const std::string exported = MakeDir("mongo_export");
  const std::string export_log = absl::StrCat(Env("TEST_TMPDIR"), "/mongo_export.log");
  const std::vector<std::string> export_args = {
      absl::StrCat("--mongo-uri=", Env("PV_MONGO_URI")), absl::StrCat("--mongo-db=", db),
      absl::StrCat("--mongo-collection=", coll), absl::StrCat("--segments=", exported),
      "--batch-size=300", "--max-documents=2000"};
  // Two runs: the second resumes after the first's last _id.
  ASSERT_EQ(RunToEnd(Binary("mongo_export"), export_args, export_log), 0) << Tail(export_log);
  std::vector<std::string> rest_args = export_args;
  rest_args.back() = "--max-documents=0";
  ASSERT_EQ(RunToEnd(Binary("mongo_export"), rest_args, export_log), 0) << Tail(export_log);
  // A third run finds nothing new.
  ASSERT_EQ(RunToEnd(Binary("mongo_export"), rest_args, export_log), 0) << Tail(export_log);

  absl::flat_hash_map<std::string, std::string> kafka_payload;  // "topic:p:o" -> payload
  for (const Record& r : ReadAll(first, topic)) {
    kafka_payload[absl::StrCat(topic, ":", r.partition, ":", r.offset)] = r.payload;
  }
  ASSERT_EQ(kafka_payload.size(), static_cast<size_t>(kEvents));
  const std::vector<Record> mongo_records = ReadAll(exported, absl::StrCat(db, ".", coll));
  ASSERT_EQ(mongo_records.size(), static_cast<size_t>(kEvents));
  event::EventParser parser;
  absl::flat_hash_map<std::string, int> seen;
  int valid = 0;
  for (const Record& r : mongo_records) {
    ASSERT_EQ(++seen[r.source_id], 1) << r.source_id << " exported twice";
    auto it = kafka_payload.find(r.source_id);
    ASSERT_TRUE(it != kafka_payload.end()) << r.source_id;
    const Fields want = Parse(parser, it->second);
    const Fields got = Parse(parser, r.payload);
    EXPECT_EQ(want.Describe(), got.Describe())
        << r.source_id << "\nkafka: " << it->second << "\nmongo: " << r.payload;
    if (want.reason == event::Invalid::kOk) ++valid;
  }
  EXPECT_GT(valid, kEvents * 9 / 10);
  std::printf("mongo: %d events, %d valid, replay kept the count\n", kEvents, valid);
  EXPECT_TRUE(collection.Drop().ok());
  EXPECT_TRUE(admin_->DeleteTopic(topic, absl::Seconds(30)).ok());
}

}  // namespace
}  // namespace pv::ingest
