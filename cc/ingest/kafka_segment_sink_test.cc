// KafkaSegmentSink without a broker: a fake consumer stands in for the
// group (assignments, revocations, a lost assignment, commits, watermarks),
// and the segments the sink publishes are read back from disk.
#include "cc/ingest/kafka_segment_sink.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/ingest/raw_store.h"
#include "cc/segment/naming.h"
#include "cc/segment/segment.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr char kTopic[] = "views";

class FakeConsumer : public kafka::ConsumerControl {
 public:
  absl::Status Commit(const std::vector<kafka::TopicPartitionOffset>& offsets) override {
    for (const auto& o : offsets) committed[o.partition] = o.offset;
    return absl::OkStatus();
  }
  bool AssignmentLost() const override { return lost; }
  kafka::PartitionWatermarks CachedWatermarks(absl::string_view, int32_t p) const override {
    auto it = high.find(p);
    return {p, 0, it == high.end() ? -1 : it->second};
  }
  absl::StatusOr<kafka::PartitionWatermarks> QueryWatermarks(absl::string_view, int32_t p,
                                                             absl::Duration) const override {
    auto it = high.find(p);
    return kafka::PartitionWatermarks{p, 0, it == high.end() ? 0 : it->second};
  }
  int64_t Position(absl::string_view, int32_t p) const override {
    auto it = position.find(p);
    return it == position.end() ? -1 : it->second;
  }

  std::map<int32_t, int64_t> committed;
  std::map<int32_t, int64_t> high;
  std::map<int32_t, int64_t> position;  // what Position() reports
  bool lost = false;
};

class RecordingStore : public RawStore {
 public:
  absl::Status Add(absl::string_view, int32_t p, int64_t o, absl::string_view) override {
    if (fail_add) return absl::UnavailableError("raw store down");
    pending.emplace_back(p, o);
    return absl::OkStatus();
  }
  absl::Status Flush() override {
    if (fail_flush) return absl::UnavailableError("raw store down");
    flushed.insert(flushed.end(), pending.begin(), pending.end());
    pending.clear();
    return absl::OkStatus();
  }
  std::vector<std::pair<int32_t, int64_t>> pending, flushed;
  bool fail_add = false, fail_flush = false;
};

std::string MakeTempDir() {
  std::string base = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string templ = absl::StrCat(base, "/sink_test.XXXXXX");
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

// Every (partition, offset) in the published segments of `dir`, with how
// many times it occurs.
std::map<std::pair<int32_t, int64_t>, int> PublishedOffsets(const std::string& dir) {
  std::map<std::pair<int32_t, int64_t>, int> out;
  auto paths = segment::ListSegments(dir);
  EXPECT_TRUE(paths.ok());
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    segment::Block block;
    for (size_t b = 0; b < (*reader)->block_count(); ++b) {
      EXPECT_TRUE((*reader)->ReadBlock(b, &block).ok());
      for (size_t i = 0; i < block.size(); ++i) {
        ++out[{block.record(i).partition, block.record(i).offset}];
      }
    }
  }
  return out;
}

class KafkaSegmentSinkTest : public ::testing::Test {
 protected:
  KafkaSegmentSinkOptions Options() {
    KafkaSegmentSinkOptions o;
    o.dir = dir_;
    o.topic = kTopic;
    o.roll_bytes = 1 << 20;
    o.roll_age = absl::Hours(1);
    return o;
  }

  // Assigns `partitions` and returns the start offsets the sink chose.
  std::map<int32_t, int64_t> Assign(KafkaSegmentSink& sink, std::vector<int32_t> partitions) {
    std::vector<kafka::TopicPartitionOffset> list;
    for (int32_t p : partitions) list.push_back({kTopic, p, kafka::kOffsetStored});
    EXPECT_TRUE(sink.OnAssign(&list).ok());
    std::map<int32_t, int64_t> start;
    for (const auto& tp : list) start[tp.partition] = tp.offset;
    return start;
  }

  absl::Status Append(KafkaSegmentSink& sink, int32_t p, int64_t o) {
    const std::string value = absl::StrCat("{\"p\":", p, ",\"o\":", o, "}");
    kafka::ConsumedRecord r;
    r.partition = p;
    r.offset = o;
    r.timestamp_ms = 1000 + o;
    r.value = value;
    return sink.Append(r);
  }

  std::string dir_ = MakeTempDir();
  FakeConsumer consumer_;
};

TEST_F(KafkaSegmentSinkTest, StartsAtTheBeginningThenResumesAfterThePublishedFooters) {
  {
    KafkaSegmentSink sink(Options(), nullptr);
    ASSERT_TRUE(sink.Init().ok());
    sink.set_consumer(&consumer_);
    EXPECT_THAT(Assign(sink, {0, 1}),
                ElementsAre(Pair(0, kafka::kOffsetBeginning), Pair(1, kafka::kOffsetBeginning)));
    for (int64_t o = 0; o < 5; ++o) ASSERT_TRUE(Append(sink, 0, o).ok());
    ASSERT_TRUE(Append(sink, 1, 7).ok());
    ASSERT_TRUE(sink.PublishOpen().ok());
    EXPECT_EQ(sink.totals().segments, 1u);
    // Offsets are committed for lag tools: the next offset of each partition.
    EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 5), Pair(1, 8)));
  }
  KafkaSegmentSink restarted(Options(), nullptr);
  ASSERT_TRUE(restarted.Init().ok());
  EXPECT_EQ(restarted.published_at_start(), 1u);
  restarted.set_consumer(&consumer_);
  EXPECT_THAT(Assign(restarted, {0, 1, 2}),
              ElementsAre(Pair(0, 5), Pair(1, 8), Pair(2, kafka::kOffsetBeginning)));
}

TEST_F(KafkaSegmentSinkTest, RedeliveredAndForeignRecordsAreDroppedNotDuplicated) {
  KafkaSegmentSink sink(Options(), nullptr);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0});
  for (int64_t o : {0, 1, 2, 1, 2, 3}) ASSERT_TRUE(Append(sink, 0, o).ok());  // 1, 2 again
  ASSERT_TRUE(Append(sink, 5, 0).ok());  // a partition not assigned here
  ASSERT_TRUE(sink.PublishOpen().ok());
  EXPECT_EQ(sink.totals().messages, 4u);
  EXPECT_EQ(sink.totals().duplicates_dropped, 3u);
  auto published = PublishedOffsets(dir_);
  ASSERT_EQ(published.size(), 4u);
  for (const auto& [coordinate, count] : published) {
    EXPECT_EQ(coordinate.first, 0);
    EXPECT_EQ(count, 1) << coordinate.second;
  }
}

TEST_F(KafkaSegmentSinkTest, AGapIsCountedAndTheRecordKept) {
  KafkaSegmentSink sink(Options(), nullptr);
  ASSERT_TRUE(sink.Init().ok());
  Assign(sink, {0});
  ASSERT_TRUE(Append(sink, 0, 0).ok());
  ASSERT_TRUE(Append(sink, 0, 2).ok());  // offset 1 was a transaction marker, say
  ASSERT_TRUE(sink.PublishOpen().ok());
  EXPECT_EQ(sink.totals().gaps, 1u);
  EXPECT_EQ(sink.totals().offsets_skipped, 1u);
  EXPECT_EQ(PublishedOffsets(dir_).size(), 2u);
}

// Offsets taken by transaction markers: the consumer's position runs past the
// last record; the segment's end position says so, the next segment starts
// there, and a restart resumes there.
TEST_F(KafkaSegmentSinkTest, SegmentsRecordTheConsumerPositionsAndMeetExactly) {
  {
    KafkaSegmentSink sink(Options(), nullptr);
    ASSERT_TRUE(sink.Init().ok());
    sink.set_consumer(&consumer_);
    Assign(sink, {0});
    ASSERT_TRUE(Append(sink, 0, 0).ok());
    ASSERT_TRUE(Append(sink, 0, 1).ok());
    consumer_.position[0] = 3;  // offset 2 is a commit marker
    ASSERT_TRUE(sink.PublishOpen().ok());
    ASSERT_TRUE(Append(sink, 0, 3).ok());
    consumer_.position[0] = 4;
    ASSERT_TRUE(sink.PublishOpen().ok());
    EXPECT_EQ(sink.totals().gaps, 0u);  // 2 was expected to be absent
  }
  auto paths = segment::ListSegments(dir_);
  ASSERT_TRUE(paths.ok());
  ASSERT_EQ(paths->size(), 2u);
  std::vector<segment::PartitionRange> ranges;
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    ASSERT_TRUE(reader.ok());
    ranges.push_back((*reader)->info().ranges.at(0));
  }
  EXPECT_EQ(ranges[0].start_position, 0);
  EXPECT_EQ(ranges[0].end_position, 3);
  EXPECT_EQ(ranges[1].start_position, 3);
  EXPECT_EQ(ranges[1].first_offset, 3);
  EXPECT_EQ(ranges[1].end_position, 4);
  EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 4)));
  KafkaSegmentSink restarted(Options(), nullptr);
  ASSERT_TRUE(restarted.Init().ok());
  EXPECT_THAT(Assign(restarted, {0}), ElementsAre(Pair(0, 4)));
}

// A partition whose published records are followed only by a transaction
// marker: its position is committed once idle, so the committed lag reaches
// 0; a partition with records in the open segment, or any after a lost
// assignment, is not.
TEST_F(KafkaSegmentSinkTest, IdlePositionsPastMarkersAreCommittedForLagTools) {
  KafkaSegmentSink sink(Options(), nullptr);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0, 1});
  ASSERT_TRUE(Append(sink, 0, 0).ok());
  ASSERT_TRUE(Append(sink, 0, 1).ok());
  consumer_.position[0] = 2;
  ASSERT_TRUE(sink.PublishOpen().ok());
  EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 2)));
  sink.CommitIdlePositions();  // nothing moved
  EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 2)));

  consumer_.position[0] = 3;  // the marker at offset 2, read after the publish
  ASSERT_TRUE(Append(sink, 1, 0).ok());
  consumer_.position[1] = 1;
  sink.CommitIdlePositions();
  EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 3)));  // not 1: its record is open

  consumer_.position[0] = 5;
  consumer_.lost = true;
  sink.CommitIdlePositions();
  EXPECT_THAT(consumer_.committed, ElementsAre(Pair(0, 3)));
}

TEST_F(KafkaSegmentSinkTest, ARevocationPublishesWhatWasAppended) {
  RecordingStore store;
  KafkaSegmentSink sink(Options(), &store);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0, 1});
  for (int64_t o = 0; o < 3; ++o) {
    ASSERT_TRUE(Append(sink, 0, o).ok());
    ASSERT_TRUE(Append(sink, 1, o).ok());
  }
  ASSERT_TRUE(sink.OnRevoke({{kTopic, 0, 0}, {kTopic, 1, 0}}, /*lost=*/false).ok());
  EXPECT_EQ(PublishedOffsets(dir_).size(), 6u);
  // The raw store was flushed before the segment was published.
  EXPECT_EQ(store.flushed.size(), 6u);
  EXPECT_TRUE(store.pending.empty());
  // After the revocation the partitions are not ours: late records are dropped.
  ASSERT_TRUE(Append(sink, 0, 3).ok());
  EXPECT_EQ(sink.totals().duplicates_dropped, 1u);
}

TEST_F(KafkaSegmentSinkTest, ALostAssignmentDiscardsTheOpenSegment) {
  KafkaSegmentSink sink(Options(), nullptr);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0});
  ASSERT_TRUE(Append(sink, 0, 0).ok());
  ASSERT_TRUE(sink.OnRevoke({{kTopic, 0, 0}}, /*lost=*/true).ok());
  EXPECT_TRUE(PublishedOffsets(dir_).empty());
  EXPECT_EQ(sink.totals().abandoned, 1u);

  // Also when the loss is only noticed at publish time.
  Assign(sink, {0});
  ASSERT_TRUE(Append(sink, 0, 0).ok());
  consumer_.lost = true;
  ASSERT_TRUE(sink.PublishOpen().ok());
  EXPECT_TRUE(PublishedOffsets(dir_).empty());
  EXPECT_EQ(sink.totals().abandoned, 2u);
  EXPECT_TRUE(consumer_.committed.empty());
  // Nothing is left behind, not even the temporary file (the writer lock's
  // file stays).
  std::string cmd = absl::StrCat("test -z \"$(ls -A ", dir_, " | grep -v '^.pv-writer-')\"");
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(KafkaSegmentSinkTest, ASecondSinkOfTheTopicOnTheDirectoryFailsAtInit) {
  KafkaSegmentSink first(Options(), nullptr);
  ASSERT_TRUE(first.Init().ok());
  KafkaSegmentSink second(Options(), nullptr);
  const absl::Status s = second.Init();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("consume pid"), std::string::npos) << s;
}

TEST_F(KafkaSegmentSinkTest, RollsBySizeAndAtEndComparesWithTheWatermarks) {
  KafkaSegmentSinkOptions o = Options();
  o.roll_bytes = 26;  // two 13-byte payloads per segment
  KafkaSegmentSink sink(o, nullptr);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  auto none = sink.AtEnd();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);  // nothing assigned yet
  Assign(sink, {0});
  consumer_.high[0] = 6;
  for (int64_t off = 0; off < 6; ++off) {
    ASSERT_TRUE(Append(sink, 0, off).ok());
    ASSERT_TRUE(sink.PublishIfDue().ok());
  }
  EXPECT_EQ(sink.totals().segments, 3u);
  auto at_end = sink.AtEnd();
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(*at_end);
  consumer_.high[0] = 7;
  EXPECT_FALSE(*sink.AtEnd());
  int64_t lag = 0;
  EXPECT_EQ(sink.LagText(&lag), "p0=1");
  EXPECT_EQ(lag, 1);
  ASSERT_TRUE(sink.PublishOpen().ok());
  auto published = PublishedOffsets(dir_);
  EXPECT_EQ(published.size(), 6u);
}

// Crash and restart at every point of a run: whatever was published is never
// consumed again, whatever was not is; every offset ends up exactly once.
TEST_F(KafkaSegmentSinkTest, RestartsAtAnyPointGiveEveryOffsetExactlyOnce) {
  const int64_t kOffsets = 40;
  // Segments hold 2 records (13-byte payloads, rolled at 20 bytes), so a run
  // that appends 3 or more publishes something and the loop progresses.
  for (int64_t crash_after = 3; crash_after < kOffsets; crash_after += 7) {
    SCOPED_TRACE(crash_after);
    dir_ = MakeTempDir();
    int64_t next = 0;
    while (next < kOffsets) {
      KafkaSegmentSinkOptions o = Options();
      o.roll_bytes = 20;
      KafkaSegmentSink sink(o, nullptr);
      ASSERT_TRUE(sink.Init().ok());
      auto start = Assign(sink, {0});
      next = start[0] == kafka::kOffsetBeginning ? 0 : start[0];
      // The broker redelivers from the start offset; the process "dies"
      // (the sink is destroyed without publishing) after crash_after records.
      for (int64_t i = 0; i < crash_after && next < kOffsets; ++i, ++next) {
        ASSERT_TRUE(Append(sink, 0, next).ok());
        ASSERT_TRUE(sink.PublishIfDue().ok());
      }
      if (next >= kOffsets) {
        ASSERT_TRUE(sink.PublishOpen().ok());
      }
    }
    auto published = PublishedOffsets(dir_);
    ASSERT_EQ(published.size(), static_cast<size_t>(kOffsets));
    for (const auto& [coordinate, count] : published) EXPECT_EQ(count, 1) << coordinate.second;
  }
}

// --- several hosts, one directory (members of one group on several machines)

KafkaSegmentSinkOptions OnHost(KafkaSegmentSinkOptions o, const std::string& host) {
  o.host = host;
  return o;
}

// A partition resumes after the newest segment of the directory, whichever
// host wrote it, and moves back and forth without a gap or a duplicate.
TEST_F(KafkaSegmentSinkTest, PartitionsResumeAfterEveryHostsSegments) {
  KafkaSegmentSink a(OnHost(Options(), "hosta"), nullptr);
  KafkaSegmentSink b(OnHost(Options(), "hostb"), nullptr);
  ASSERT_TRUE(a.Init().ok());
  ASSERT_TRUE(b.Init().ok());  // each host has its own writer lock
  EXPECT_THAT(Assign(a, {0, 1}),
              ElementsAre(Pair(0, kafka::kOffsetBeginning), Pair(1, kafka::kOffsetBeginning)));
  for (int64_t o = 0; o < 3; ++o) {
    ASSERT_TRUE(Append(a, 0, o).ok());
    ASSERT_TRUE(Append(a, 1, o).ok());
  }
  ASSERT_TRUE(a.OnRevoke({{kTopic, 0, 0}, {kTopic, 1, 0}}, /*lost=*/false).ok());
  EXPECT_THAT(Assign(b, {0, 1}), ElementsAre(Pair(0, 3), Pair(1, 3)));
  for (int64_t o = 3; o < 6; ++o) ASSERT_TRUE(Append(b, 0, o).ok());
  ASSERT_TRUE(b.OnRevoke({{kTopic, 0, 0}, {kTopic, 1, 0}}, /*lost=*/false).ok());
  EXPECT_THAT(Assign(a, {0, 1}), ElementsAre(Pair(0, 6), Pair(1, 3)));
  ASSERT_TRUE(Append(a, 0, 6).ok());
  ASSERT_TRUE(a.PublishOpen().ok());
  auto published = PublishedOffsets(dir_);
  EXPECT_EQ(published.size(), 10u);
  for (const auto& [coordinate, count] : published) EXPECT_EQ(count, 1);
}

// A member that lost a partition without hearing of it (paused past its
// session) must not publish it once its new owner has: its open segment is
// discarded and the publish fails.
TEST_F(KafkaSegmentSinkTest, AZombieDoesNotPublishAPartitionAnotherHostPublished) {
  KafkaSegmentSink zombie(OnHost(Options(), "hosta"), nullptr);
  KafkaSegmentSink owner(OnHost(Options(), "hostb"), nullptr);
  ASSERT_TRUE(zombie.Init().ok());
  ASSERT_TRUE(owner.Init().ok());
  zombie.set_consumer(&consumer_);
  Assign(zombie, {0, 1});
  for (int64_t o = 0; o < 3; ++o) {
    ASSERT_TRUE(Append(zombie, 0, o).ok());
    ASSERT_TRUE(Append(zombie, 1, o).ok());
  }
  EXPECT_THAT(Assign(owner, {0}), ElementsAre(Pair(0, kafka::kOffsetBeginning)));
  for (int64_t o = 0; o < 5; ++o) ASSERT_TRUE(Append(owner, 0, o).ok());
  ASSERT_TRUE(owner.PublishOpen().ok());

  const absl::Status s = zombie.PublishOpen();
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_NE(s.message().find("partition 0 was published up to position 5"), std::string::npos)
      << s;
  EXPECT_NE(s.message().find("-hostb.pvseg"), std::string::npos) << s;
  EXPECT_EQ(zombie.totals().abandoned, 1u);
  EXPECT_TRUE(consumer_.committed.empty());
  // Nothing more of the discarded partitions until they are assigned again.
  ASSERT_TRUE(Append(zombie, 1, 3).ok());
  ASSERT_TRUE(zombie.PublishOpen().ok());
  auto published = PublishedOffsets(dir_);
  ASSERT_EQ(published.size(), 5u);
  for (const auto& [coordinate, count] : published) {
    EXPECT_EQ(coordinate.first, 0);
    EXPECT_EQ(count, 1);
  }
}

// When the publish before a revocation fails, the records of the revoked
// partitions are discarded, never published later (the new owner reads them).
TEST_F(KafkaSegmentSinkTest, ARevocationWhosePublishFailsDiscardsTheOpenSegment) {
  RecordingStore store;
  KafkaSegmentSink sink(Options(), &store);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0});
  for (int64_t o = 0; o < 3; ++o) ASSERT_TRUE(Append(sink, 0, o).ok());
  store.fail_flush = true;
  EXPECT_FALSE(sink.OnRevoke({{kTopic, 0, 0}}, /*lost=*/false).ok());
  store.fail_flush = false;
  ASSERT_TRUE(sink.PublishOpen().ok());  // what consume does on its way out
  EXPECT_TRUE(PublishedOffsets(dir_).empty());
  EXPECT_EQ(sink.totals().abandoned, 1u);
  EXPECT_THAT(Assign(sink, {0}), ElementsAre(Pair(0, kafka::kOffsetBeginning)));
}

// A failed append (here: the raw store's) discards the open segment: the
// consumer's position is past the record, so an end position taken from it
// would skip the record for good.
TEST_F(KafkaSegmentSinkTest, AFailedAppendDiscardsTheOpenSegment) {
  RecordingStore store;
  KafkaSegmentSink sink(Options(), &store);
  ASSERT_TRUE(sink.Init().ok());
  sink.set_consumer(&consumer_);
  Assign(sink, {0});
  ASSERT_TRUE(Append(sink, 0, 0).ok());
  ASSERT_TRUE(Append(sink, 0, 1).ok());
  store.fail_add = true;
  consumer_.position[0] = 3;
  const absl::Status s = Append(sink, 0, 2);
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_NE(s.message().find("partition 0 offset 2"), std::string::npos) << s;
  ASSERT_TRUE(sink.PublishOpen().ok());
  EXPECT_TRUE(PublishedOffsets(dir_).empty());
  EXPECT_EQ(sink.totals().abandoned, 1u);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string PlantTempFile(const std::string& dir, int64_t pid, const std::string& host) {
  const std::string path = absl::StrCat(
      dir, "/.", segment::MakeSegmentName(kTopic, 1700000000000, 1, pid, host), ".pvseg.tmp");
  std::ofstream(path) << "half a segment";
  return path;
}

// Init removes the temporary files of dead writers under its own host name,
// and nothing of another host name, dead or alive, nor of a live process.
TEST_F(KafkaSegmentSinkTest, InitRemovesOnlyDeadWritersTempFilesOfItsOwnHost) {
  const pid_t dead = ::fork();
  if (dead == 0) _exit(0);
  ASSERT_GT(dead, 0);
  ASSERT_EQ(::waitpid(dead, nullptr, 0), dead);
  const std::string dead_a = PlantTempFile(dir_, dead, "hosta");
  const std::string live_a = PlantTempFile(dir_, ::getpid(), "hosta");
  const std::string dead_b = PlantTempFile(dir_, dead, "hostb");
  const std::string live_b = PlantTempFile(dir_, ::getpid(), "hostb");
  KafkaSegmentSink sink(OnHost(Options(), "hosta"), nullptr);
  ASSERT_TRUE(sink.Init().ok());
  EXPECT_EQ(sink.temp_files_removed_at_start(), 1);
  EXPECT_FALSE(Exists(dead_a));
  EXPECT_TRUE(Exists(live_a));
  EXPECT_TRUE(Exists(dead_b));  // host b's own start removes it
  EXPECT_TRUE(Exists(live_b));
  KafkaSegmentSink b(OnHost(Options(), "hostb"), nullptr);
  ASSERT_TRUE(b.Init().ok());
  EXPECT_FALSE(Exists(dead_b));
  EXPECT_TRUE(Exists(live_b));
  EXPECT_TRUE(Exists(live_a));
}

}  // namespace
}  // namespace pv::ingest
