// Statistics in, exposition text out: the lag rules, partitions that go
// away, counters fed with totals, and the health they report.
#include "cc/ingest/stage_metrics.h"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string Text(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

// A consumer's statistics with partition 0 committed (lag 5), partition 1
// consumed but never committed, partition 2 not read at all.
std::string Stats(bool with_partition_2, int rebalances) {
  return absl::StrCat(R"({"type": "consumer", "brokers": {
      "a/1": {"nodeid": 1, "state": "UP", "txerrs": 2, "rxerrs": 0, "req_timeouts": 1}},
    "cgrp": {"rebalance_cnt": )", rebalances, R"(},
    "topics": {"views": {"partitions": {
      "0": {"desired": true, "consumer_lag": 5, "app_offset": 95, "committed_offset": 90,
            "lo_offset": 0, "hi_offset": 95, "ls_offset": 95},
      "1": {"desired": true, "consumer_lag": -1, "app_offset": 40, "committed_offset": -1001,
            "lo_offset": 0, "hi_offset": 50, "ls_offset": 50})",
                      with_partition_2 ? R"(,
      "2": {"desired": true, "consumer_lag": -1, "app_offset": -1001, "committed_offset": -1001,
            "lo_offset": 10, "hi_offset": 30, "ls_offset": 30})"
                                       : "",
                      "}}}}");
}

TEST(StageMetricsTest, ConsumerPartitionsFromStatistics) {
  prometheus::Registry registry;
  StageHealth health(absl::Minutes(1));
  ConsumeMetrics metrics(registry, &health);
  metrics.OnStatistics(Stats(/*with_partition_2=*/true, 2));
  std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr(R"(pv_consume_partition_lag{partition="0",topic="views"} 5)"));
  // Consumed but nothing committed (no segment published): all of it.
  EXPECT_THAT(text, HasSubstr(R"(pv_consume_partition_lag{partition="1",topic="views"} 50)"));
  // Nothing consumed yet: the whole partition.
  EXPECT_THAT(text, HasSubstr(R"(pv_consume_partition_lag{partition="2",topic="views"} 20)"));
  EXPECT_THAT(text,
              HasSubstr(R"(pv_consume_partition_committed_offset{partition="0",topic="views"} 90)"));
  EXPECT_THAT(text,
              HasSubstr(R"(pv_consume_partition_consumed_offset{partition="1",topic="views"} 40)"));
  EXPECT_THAT(text,
              HasSubstr(R"(pv_consume_partition_high_watermark{partition="2",topic="views"} 30)"));
  EXPECT_THAT(text, HasSubstr("pv_consume_kafka_request_errors_total 3"));
  EXPECT_THAT(text, HasSubstr("pv_consume_kafka_brokers_up 1"));
  EXPECT_THAT(text, HasSubstr("pv_consume_rebalances_total 2"));

  // Partition 2 revoked: its series go; counters only grow.
  metrics.OnStatistics(Stats(/*with_partition_2=*/false, 3));
  text = Text(registry);
  EXPECT_THAT(text, Not(HasSubstr(R"(partition="2")")));
  EXPECT_THAT(text, HasSubstr(R"(pv_consume_partition_lag{partition="0",topic="views"} 5)"));
  EXPECT_THAT(text, HasSubstr("pv_consume_rebalances_total 3"));
}

TEST(StageMetricsTest, ConsumeTotalsBecomeCountersAndProgress) {
  prometheus::Registry registry;
  StageHealth health(absl::Seconds(30));
  ConsumeMetrics metrics(registry, &health);
  const absl::Time t0 = absl::Now();
  ConsumeFigures f;
  f.messages = 100;
  f.bytes = 4000;
  f.segments = 1;
  f.last_segment = absl::FromUnixSeconds(1800000000);
  f.mongo_inserted = 100;
  f.kafka_errors = 2;
  f.backlog = 50;
  metrics.Update(f, t0);
  f.messages = 150;
  metrics.Update(f, t0 + absl::Seconds(1));
  const std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr("pv_consume_messages_total 150"));
  EXPECT_THAT(text, HasSubstr("pv_consume_bytes_total 4000"));
  EXPECT_THAT(text, HasSubstr("pv_consume_segments_published_total 1"));
  EXPECT_THAT(text, HasSubstr("pv_consume_last_segment_timestamp_seconds 1800000000"));
  EXPECT_THAT(text, HasSubstr("pv_consume_mongo_inserted_total 100"));
  EXPECT_THAT(text, HasSubstr("pv_consume_kafka_errors_total 2"));
  // Backlog and no new messages for longer than the limit: stuck.
  metrics.Update(f, t0 + absl::Seconds(20));
  EXPECT_TRUE(health.Check(t0 + absl::Seconds(20)).ok());
  EXPECT_FALSE(health.Check(t0 + absl::Seconds(40)).ok());
}

TEST(StageMetricsTest, MirrorTransactionsAndCheckpoints) {
  prometheus::Registry registry;
  StageHealth health(absl::Minutes(1));
  MirrorMetrics metrics(registry, &health);
  metrics.OnRead(10);
  metrics.OnRead(20);
  metrics.OnTransaction(true);
  metrics.OnTransaction(false, "broker away");
  EXPECT_EQ(health.Check().message(), "transaction aborted: broker away");
  metrics.OnCommitted("src", 0, 42);
  metrics.OnSourceStatistics(R"({"type": "consumer", "topics": {"src": {"partitions": {
      "0": {"desired": true, "consumer_lag": -1, "app_offset": 45, "lo_offset": 0,
            "hi_offset": 50, "ls_offset": 50}}}}})");
  metrics.OnTransaction(true);
  EXPECT_TRUE(health.Check().ok());
  metrics.Update(/*acknowledged=*/2, /*failed=*/0, /*source_errors=*/1, /*destination_errors=*/0,
                 /*backlog=*/0);
  const std::string text = Text(registry);
  EXPECT_THAT(text, HasSubstr("pv_mirror_messages_read_total 2"));
  EXPECT_THAT(text, HasSubstr("pv_mirror_bytes_read_total 30"));
  EXPECT_THAT(text, HasSubstr("pv_mirror_messages_written_total 2"));
  EXPECT_THAT(text, HasSubstr(R"(pv_mirror_transactions_total{outcome="committed"} 2)"));
  EXPECT_THAT(text, HasSubstr(R"(pv_mirror_transactions_total{outcome="aborted"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(R"(pv_mirror_partition_committed_offset{client="source",partition="0",topic="src"} 42)"));
  EXPECT_THAT(text, HasSubstr(R"(pv_mirror_kafka_errors_total{client="source"} 1)"));
  // After the checkpoint, not after what was read.
  EXPECT_THAT(text,
              HasSubstr(R"(pv_mirror_partition_lag{client="source",partition="0",topic="src"} 8)"));
}

}  // namespace
}  // namespace pv::ingest
