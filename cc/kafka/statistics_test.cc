// ParseClientStatistics on statistics shaped as librdkafka 2.0.2 emits them
// (field names and the -1001/-1 markers from a real dump, trimmed).
#include "cc/kafka/statistics.h"

#include "gtest/gtest.h"

namespace pv::kafka {
namespace {

constexpr char kConsumerStats[] = R"({
  "name": "rdkafka#consumer-2", "client_id": "rdkafka", "type": "consumer",
  "ts": 1620015297, "time": 1796115690, "replyq": 3,
  "tx": 20, "tx_bytes": 1094, "rx": 20, "rx_bytes": 2303,
  "txmsgs": 0, "txmsg_bytes": 0, "rxmsgs": 100, "rxmsg_bytes": 1000,
  "brokers": {
    "127.0.0.1:36825/1": {"name": "127.0.0.1:36825/1", "nodeid": 1, "state": "UP",
                          "txerrs": 1, "rxerrs": 2, "req_timeouts": 3, "toppars": {}},
    "127.0.0.1:36826/2": {"name": "127.0.0.1:36826/2", "nodeid": 2, "state": "DOWN",
                          "txerrs": 0, "rxerrs": 0, "req_timeouts": 4},
    "GroupCoordinator": {"name": "GroupCoordinator", "nodeid": -1, "state": "UP",
                         "txerrs": 10, "rxerrs": 0, "req_timeouts": 0}
  },
  "topics": {
    "t1": {"topic": "t1", "partitions": {
      "1": {"partition": 1, "desired": true, "fetch_state": "active", "app_offset": 40,
            "stored_offset": 40, "committed_offset": 30, "commited_offset": 30,
            "lo_offset": 0, "hi_offset": 50, "ls_offset": 50, "consumer_lag": 20,
            "consumer_lag_stored": 10, "rxmsgs": 50, "rxbytes": 500, "txmsgs": 0, "txbytes": 0},
      "0": {"partition": 0, "desired": true, "fetch_state": "active", "app_offset": -1001,
            "committed_offset": -1001, "lo_offset": 0, "hi_offset": 50, "ls_offset": 50,
            "consumer_lag": -1, "rxmsgs": 50, "rxbytes": 500},
      "2": {"partition": 2, "desired": false, "fetch_state": "none", "app_offset": -1001,
            "committed_offset": -1001, "hi_offset": 7, "consumer_lag": -1},
      "-1": {"partition": -1, "desired": false, "app_offset": -1001, "consumer_lag": -1}
    }}
  },
  "cgrp": {"state": "up", "join_state": "steady", "rebalance_cnt": 4, "assignment_size": 2}
})";

TEST(StatisticsTest, ReadsTheFieldsOfAConsumer) {
  absl::StatusOr<ClientStatistics> s = ParseClientStatistics(kConsumerStats);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, "consumer");
  EXPECT_EQ(s->rx_msgs, 100);
  EXPECT_EQ(s->rx_msg_bytes, 1000);
  EXPECT_EQ(s->reply_queue, 3);
  EXPECT_EQ(s->request_errors, 1 + 2 + 3 + 4 + 10);  // logical brokers' too
  EXPECT_EQ(s->brokers, 2);
  EXPECT_EQ(s->brokers_up, 1);
  EXPECT_EQ(s->rebalances, 4);
  // Only the desired (assigned) partitions, sorted; unknown markers are -1.
  ASSERT_EQ(s->partitions.size(), 2u);
  const PartitionStatistics& p0 = s->partitions[0];
  EXPECT_EQ(p0.topic, "t1");
  EXPECT_EQ(p0.partition, 0);
  EXPECT_EQ(p0.consumer_lag, -1);
  EXPECT_EQ(p0.app_offset, -1);
  EXPECT_EQ(p0.committed_offset, -1);
  EXPECT_EQ(p0.hi_offset, 50);
  const PartitionStatistics& p1 = s->partitions[1];
  EXPECT_EQ(p1.partition, 1);
  EXPECT_EQ(p1.consumer_lag, 20);
  EXPECT_EQ(p1.app_offset, 40);
  EXPECT_EQ(p1.committed_offset, 30);
  EXPECT_EQ(p1.lo_offset, 0);
  EXPECT_EQ(p1.ls_offset, 50);
  EXPECT_EQ(p1.rx_msgs, 50);
  EXPECT_EQ(p1.rx_bytes, 500);
}

TEST(StatisticsTest, AProducerHasNoGroup) {
  absl::StatusOr<ClientStatistics> s = ParseClientStatistics(
      R"({"type": "producer", "txmsgs": 9, "txmsg_bytes": 90, "brokers": {},
          "topics": {"out": {"partitions": {"0": {"desired": true, "txmsgs": 9, "txbytes": 90}}}}})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->type, "producer");
  EXPECT_EQ(s->tx_msgs, 9);
  EXPECT_EQ(s->rebalances, -1);
  ASSERT_EQ(s->partitions.size(), 1u);
  EXPECT_EQ(s->partitions[0].tx_msgs, 9);
  EXPECT_EQ(s->partitions[0].consumer_lag, -1);
}

TEST(StatisticsTest, NotStatisticsIsAnError) {
  EXPECT_TRUE(absl::IsInvalidArgument(ParseClientStatistics("{\"type\": ").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseClientStatistics("[1, 2]").status()));
}

}  // namespace
}  // namespace pv::kafka
