// The nightly mode's decisions on hand-made records: no files, no database.
#include "cc/etl/nightly.h"

#include "cc/etl/retention.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using warehouse::AppliedSegment;
using warehouse::WarehouseRecord;

// A Kafka segment of topic "t", partition 0, covering [start, end), with
// valid events on `days` (day -> count) of which `unloaded` lack facts.
AppliedSegment Kafka(const std::string& name, int64_t start, int64_t end,
                     std::map<int32_t, uint64_t> days = {}, std::vector<int32_t> unloaded = {}) {
  AppliedSegment a;
  a.name = name;
  a.file_bytes = 1000 + start;
  a.footer_crc = static_cast<uint32_t>(start * 7 + end);
  a.records = static_cast<uint64_t>(end - start);
  a.source_kind = "kafka";
  a.source = "t";
  a.ranges.push_back({0, start, end - 1, start, end, static_cast<uint64_t>(end - start)});
  a.day_events = std::move(days);
  a.unloaded_days = std::move(unloaded);
  return a;
}

SegmentFile File(const AppliedSegment& a) { return {a.name, "/d/" + a.name, a.file_bytes}; }

TEST(ReconcileTest, ContiguousSegmentsHaveNoIssue) {
  EXPECT_THAT(Reconcile({Kafka("a", 0, 10), Kafka("b", 10, 25), Kafka("c", 25, 26)}), IsEmpty());
}

TEST(ReconcileTest, AMissingSegmentIsAHoleNamingThePartitionAndOffsets) {
  auto issues = Reconcile({Kafka("a", 0, 10), Kafka("c", 25, 30)});
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_FALSE(issues[0].overlap);
  EXPECT_EQ(issues[0].partition, 0);
  EXPECT_EQ(issues[0].from, 10);
  EXPECT_EQ(issues[0].to, 25);
  EXPECT_THAT(issues[0].Describe(),
              HasSubstr("hole: topic t partition 0 offsets 10..24 missing between a and c"));
}

TEST(ReconcileTest, ACopyUnderAnotherNameIsAnOverlap) {
  AppliedSegment copy = Kafka("b", 10, 20);
  copy.name = "b-copy";
  auto issues = Reconcile({Kafka("a", 0, 10), Kafka("b", 10, 20), copy});
  ASSERT_EQ(issues.size(), 1u);
  EXPECT_TRUE(issues[0].overlap);
  EXPECT_EQ(issues[0].from, 10);
  EXPECT_EQ(issues[0].to, 20);
  EXPECT_THAT(issues[0].Describe(), HasSubstr("claimed by both b and b-copy"));
  // Non-Kafka segments: by identity.
  AppliedSegment f = Kafka("f1", 1, 4);
  f.source_kind = "file";
  AppliedSegment g = f;
  g.name = "f2";
  ASSERT_EQ(Reconcile({f, g}).size(), 1u);
  EXPECT_TRUE(Reconcile({f, g})[0].overlap);
}

TEST(TriageTest, NewAppliedMissingAndAChangedFile) {
  WarehouseRecord record;
  record.segments = {Kafka("a", 0, 10), Kafka("b", 10, 20), Kafka("gone", 20, 30)};
  record.segments[2].pruned = false;
  const AppliedSegment c = Kafka("c", 30, 40);
  auto t = TriageSegments({File(record.segments[0]), File(record.segments[1]), File(c)}, record);
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->new_segments.size(), 1u);
  EXPECT_EQ(t->new_segments[0].name, "c");
  EXPECT_EQ(t->applied_present.size(), 2u);
  EXPECT_THAT(t->applied_missing, ElementsAre("gone"));
  SegmentFile changed = File(record.segments[1]);
  changed.file_bytes += 1;
  auto refused = TriageSegments({changed}, record);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("/d/b"));
}

TEST(RefuseOverlapsTest, NewSegmentsThatWouldLoadOffsetsTwiceAreRefused) {
  WarehouseRecord record;
  record.segments = {Kafka("a", 0, 10), Kafka("b", 10, 20)};
  AppliedSegment copy_of_b = Kafka("b", 10, 20);
  copy_of_b.name = "b2";
  const AppliedSegment next = Kafka("c", 20, 30);
  AppliedSegment copy_of_c = next;
  copy_of_c.name = "d";
  Refusals r = RefuseOverlaps(record, {copy_of_b, next, copy_of_c});
  EXPECT_THAT(r.refused, ElementsAre("b2", "d"));
  ASSERT_EQ(r.issues.size(), 2u);
  EXPECT_EQ(r.issues[0].issue.before, "b");
  EXPECT_EQ(r.issues[0].issue.after, "b2");
  // Whichever side of the overlap it sorts on, the refused one is named.
  EXPECT_EQ(r.issues[0].segment, "b2");
  EXPECT_EQ(r.issues[1].segment, "d");
}

TEST(PlanReloadTest, NightlyReloadsStaleDaysWithinTheHorizonAndRereadsOnlyTheirSegments) {
  WarehouseRecord record;
  // Days 100..103 loaded; day 90 stale long ago (beyond any horizon).
  record.segments = {Kafka("s1", 0, 10, {{90, 1}, {100, 5}}, {90}),
                     Kafka("s2", 10, 20, {{101, 5}}), Kafka("s3", 20, 30, {{102, 5}}),
                     Kafka("s4", 30, 40, {{103, 5}})};
  // The new night: events of day 104, and late ones of 102.
  const AppliedSegment night = Kafka("s5", 40, 50, {{102, 2}, {104, 8}});
  SegmentTriage t;
  for (const AppliedSegment& a : record.segments) t.applied_present.push_back(File(a));
  t.new_segments = {File(night)};
  ReloadPlan plan = PlanReload(record, {night}, t, RunMode::kNightly, {}, 7);
  EXPECT_EQ(plan.newest, 104);
  EXPECT_THAT(plan.reload, ElementsAre(102, 104));
  EXPECT_THAT(plan.reread, ElementsAre("s3"));  // only the applied segment of day 102
  EXPECT_THAT(plan.stale_left, ElementsAre(90));
  EXPECT_THAT(plan.missing, IsEmpty());

  // A horizon of 1 day from 104 leaves 102 stale as well.
  plan = PlanReload(record, {night}, t, RunMode::kNightly, {}, 1);
  EXPECT_THAT(plan.reload, ElementsAre(104));
  EXPECT_THAT(plan.stale_left, ElementsAre(90, 102));
  EXPECT_THAT(plan.reread, IsEmpty());
}

TEST(PlanReloadTest, TheHorizonCountsFromTheDataNotTheClock) {
  // A replay of old data: days of 1970 behave like a live night.
  WarehouseRecord record;
  record.segments = {Kafka("s1", 0, 10, {{3, 5}})};
  const AppliedSegment late = Kafka("s2", 10, 20, {{3, 1}, {4, 9}});
  SegmentTriage t;
  t.applied_present = {File(record.segments[0])};
  ReloadPlan plan = PlanReload(record, {late}, t, RunMode::kNightly, {}, 7);
  EXPECT_THAT(plan.reload, ElementsAre(3, 4));
}

TEST(PlanReloadTest, ExplicitDaysAndGoneSegments) {
  WarehouseRecord record;
  record.segments = {Kafka("s1", 0, 10, {{100, 5}}), Kafka("s2", 10, 20, {{100, 1}, {101, 5}})};
  record.segments[0].pruned = true;
  SegmentTriage t;
  t.applied_present = {File(record.segments[1])};
  ReloadPlan plan = PlanReload(record, {}, t, RunMode::kDays, {100, 105}, 7);
  EXPECT_THAT(plan.reload, ElementsAre(100, 105));  // 105: no events, emptied
  EXPECT_THAT(plan.reread, ElementsAre("s2"));
  ASSERT_EQ(plan.missing.size(), 1u);
  EXPECT_THAT(plan.missing.at(100), ElementsAre("s1"));
  // --full reloads what it can and leaves the day that lost a segment.
  plan = PlanReload(record, {}, t, RunMode::kFull, {}, 7);
  EXPECT_THAT(plan.reload, ElementsAre(101));
  EXPECT_THAT(plan.reread, ElementsAre("s2"));
  // Restored from the archive, the pruned segment is read again.
  t.applied_present.push_back(File(record.segments[0]));
  plan = PlanReload(record, {}, t, RunMode::kDays, {100}, 7);
  EXPECT_THAT(plan.reload, ElementsAre(100));
  EXPECT_THAT(plan.reread, ElementsAre("s1", "s2"));
  EXPECT_THAT(plan.missing, IsEmpty());
}

TEST(StaleDaysTest, ADayIsStaleWhileAnySegmentOfItIsNotLoaded) {
  WarehouseRecord record;
  record.segments = {Kafka("a", 0, 1, {{5, 1}, {6, 1}}, {6}), Kafka("b", 1, 2, {{6, 1}, {7, 1}})};
  EXPECT_THAT(StaleDays(record), ElementsAre(6));
}

TEST(RetentionTest, OnlyAppliedOldAndFreshSegmentsGo) {
  WarehouseRecord record;
  record.segments = {Kafka("old", 0, 10, {{100, 1}, {101, 1}}),
                     Kafka("old-stale", 10, 20, {{102, 1}}, {102}),
                     Kafka("recent", 20, 30, {{101, 1}, {110, 1}}),
                     Kafka("newest", 30, 40, {{140, 1}}),
                     Kafka("gone", 40, 50, {{99, 1}})};
  std::vector<SegmentFile> present;
  for (int i = 0; i < 4; ++i) present.push_back(File(record.segments[i]));
  present.push_back({"not-applied", "/d/not-applied", 5});
  RetentionPlan plan = PlanRetention(record, present, 30);
  EXPECT_EQ(plan.newest, 140);
  EXPECT_EQ(plan.keep_from, 110);
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0].name, "old");  // old-stale: a stale day; recent: day 110
  EXPECT_THAT(plan.already_gone, ElementsAre("gone"));
}

TEST(RetentionTest, ThePartitionsNewestSegmentStaysForConsumesResume) {
  WarehouseRecord record;
  AppliedSegment quiet = Kafka("quiet-p1", 0, 5, {{100, 1}});
  quiet.ranges[0].partition = 1;  // nothing newer arrived on partition 1
  AppliedSegment two_partitions = Kafka("p0-p2", 0, 10, {{100, 1}});
  two_partitions.ranges.push_back({2, 0, 9, 0, 12, 10});  // and partition 2's newest
  record.segments = {quiet, two_partitions, Kafka("newer-p0", 10, 20, {{140, 1}})};
  std::vector<SegmentFile> present;
  for (const AppliedSegment& a : record.segments) present.push_back(File(a));
  RetentionPlan plan = PlanRetention(record, present, 30);
  EXPECT_THAT(plan.remove, IsEmpty());
  EXPECT_THAT(plan.resume_points, ElementsAre("quiet-p1", "p0-p2"));
  // A newer segment of partition 1 on disk lets the old one go.
  AppliedSegment newer_p1 = Kafka("newer-p1", 5, 8, {{140, 1}});
  newer_p1.ranges[0].partition = 1;
  record.segments.push_back(newer_p1);
  present.push_back(File(newer_p1));
  plan = PlanRetention(record, present, 30);
  ASSERT_EQ(plan.remove.size(), 1u);
  EXPECT_EQ(plan.remove[0].name, "quiet-p1");
}

}  // namespace
}  // namespace pv::etl
