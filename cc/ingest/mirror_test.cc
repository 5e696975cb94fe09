#include <string>
#include <utility>
#include <vector>

#include "cc/ingest/mirror.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

// --- OffsetTracker ---------------------------------------------------------

TEST(OffsetTrackerTest, CommitsOnlyUpToTheFirstUnacknowledgedMessage) {
  OffsetTracker t;
  const uint64_t a = t.Track(0, 10);
  const uint64_t b = t.Track(0, 11);
  const uint64_t c = t.Track(0, 12);
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
  t.Acknowledge(b);
  t.Acknowledge(c);
  // 10 is still in flight: committing 12 or 13 would lose it in a crash.
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
  EXPECT_EQ(t.in_flight(), 3);
  t.Acknowledge(a);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 13)));
  EXPECT_EQ(t.in_flight(), 0);
  // Nothing new since: nothing to commit again.
  EXPECT_THAT(t.TakeCommittable(), IsEmpty());
}

TEST(OffsetTrackerTest, PartitionsAreIndependent) {
  OffsetTracker t;
  const uint64_t p0 = t.Track(0, 100);
  const uint64_t p1 = t.Track(1, 5);
  const uint64_t p7 = t.Track(7, 0);
  t.Acknowledge(p1);
  t.Acknowledge(p7);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(1, 6), Pair(7, 1)));
  t.Acknowledge(p0);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 101)));
}

TEST(OffsetTrackerTest, GapsInSourceOffsetsAreFine) {
  // Compacted topics and transaction markers leave holes in the offsets.
  OffsetTracker t;
  const uint64_t a = t.Track(2, 3);
  const uint64_t b = t.Track(2, 9);
  t.Acknowledge(a);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(2, 4)));
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(2, 10)));
}

TEST(OffsetTrackerTest, RereadAfterReassignmentMovesTheCommitBack) {
  // A partition revoked and assigned again is read from its committed
  // offset: what is acknowledged afterwards is the truth to commit.
  OffsetTracker t;
  const uint64_t a = t.Track(0, 50);
  const uint64_t b = t.Track(0, 40);
  t.Acknowledge(a);
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 41)));
}

TEST(OffsetTrackerTest, UnknownAndRepeatedAcknowledgementsAreIgnored) {
  OffsetTracker t;
  const uint64_t a = t.Track(0, 1);
  const uint64_t b = t.Track(0, 2);
  t.Acknowledge(a);
  t.Acknowledge(a);
  t.Acknowledge(a + 1000);   // never tracked
  t.Acknowledge((uint64_t{3} << 44) | 0);  // partition never seen
  EXPECT_EQ(t.in_flight(), 1);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 2)));
  t.Acknowledge(b);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 3)));
}

TEST(OffsetTrackerTest, LookupNamesTheSourceMessage) {
  OffsetTracker t;
  t.Track(4, 77);
  const uint64_t tag = t.Track(4, 78);
  auto where = t.Lookup(tag);
  ASSERT_TRUE(where.ok()) << where.status();
  EXPECT_EQ(where->first, 4);
  EXPECT_EQ(where->second, 78);
  t.Acknowledge(t.Track(5, 1));
  EXPECT_FALSE(t.Lookup(tag + 5).ok());
}

TEST(OffsetTrackerTest, UntakeMakesAFailedCommitRetry) {
  OffsetTracker t;
  t.Acknowledge(t.Track(0, 1));
  auto taken = t.TakeCommittable();
  ASSERT_THAT(taken, ElementsAre(Pair(0, 2)));
  t.Untake(taken);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 2)));
}

TEST(OffsetTrackerTest, LargePartitionNumbersKeepTheirOwnSequence) {
  OffsetTracker t;
  const uint64_t hi = t.Track(OffsetTracker::kMaxPartition, 9);
  const uint64_t lo = t.Track(0, 9);
  t.Acknowledge(hi);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(OffsetTracker::kMaxPartition, 10)));
  t.Acknowledge(lo);
  EXPECT_THAT(t.TakeCommittable(), ElementsAre(Pair(0, 10)));
}

// --- DestinationPartition -------------------------------------------------

TEST(DestinationPartitionTest, SameNumberWhenTheDestinationIsLargeEnough) {
  EXPECT_EQ(DestinationPartition(0, 3), 0);
  EXPECT_EQ(DestinationPartition(2, 3), 2);
  EXPECT_EQ(DestinationPartition(2, 12), 2);
}

TEST(DestinationPartitionTest, ModuloWhenTheDestinationHasFewerPartitions) {
  EXPECT_EQ(DestinationPartition(3, 3), 0);
  EXPECT_EQ(DestinationPartition(7, 3), 1);
}

TEST(CheckpointTest, KeyNamesClusterTopicPartitionAndDestination) {
  EXPECT_EQ(CheckpointKey("AbC-12", "product_view", 7, "product_views"),
            "AbC-12/product_view/7/product_views");
}

TEST(CheckpointTest, ValueRoundTrips) {
  auto c = ParseCheckpoint(EncodeCheckpoint(123456789012, "pv-mirror.product_view.p0-2"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->next_offset, 123456789012);
  EXPECT_EQ(c->mirror_id, "pv-mirror.product_view.p0-2");
  c = ParseCheckpoint(EncodeCheckpoint(0, "a b"));  // an id with a space
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->next_offset, 0);
  EXPECT_EQ(c->mirror_id, "a b");
}

TEST(CheckpointTest, MalformedValuesAreRefusedWithTheReason) {
  for (const char* bad : {"", "next=", "next=12", "next=-1 mirror=x", "next=1x mirror=x",
                          "next=1 mirror=", "offset=1 mirror=x", "next=1 id=x",
                          "next=99999999999999999999 mirror=x"}) {
    absl::StatusOr<Checkpoint> c = ParseCheckpoint(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << "'" << bad << "'";
    EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("checkpoint value"));
  }
}

TEST(DefaultTransactionalIdTest, NamesGroupTopicAndSortedPartitions) {
  MirrorOptions options;
  options.group_id = "pv-mirror";
  options.source_topic = "product_view";
  EXPECT_EQ(DefaultTransactionalId(options), "pv-mirror.product_view");
  options.source_partitions = {2, 0};
  EXPECT_EQ(DefaultTransactionalId(options), "pv-mirror.product_view.p0-2");
}

}  // namespace
}  // namespace pv::ingest
