// librdkafka's statistics (the JSON its stats callback delivers every
// statistics.interval.ms; see librdkafka's STATISTICS.md), reduced to what
// the stages export as metrics. No librdkafka needed: the text is parsed
// with simdjson, so this is tested on JSON alone.
//
//   absl::StatusOr<ClientStatistics> s = ParseClientStatistics(json);
//   for (const PartitionStatistics& p : s->partitions) ... p.consumer_lag ...
//
// librdkafka's "unknown" (-1001 for offsets, -1 for lags) reads -1 here.
#ifndef PV_KAFKA_STATISTICS_H_
#define PV_KAFKA_STATISTICS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::kafka {

// One partition the client works on (librdkafka's "desired" partitions:
// assigned to a consumer, or produced to); -1 where unknown.
struct PartitionStatistics {
  std::string topic;
  int32_t partition = 0;
  // Consumers: end (the last stable offset with read_committed, else the
  // high watermark) minus the committed offset.
  int64_t consumer_lag = -1;
  int64_t app_offset = -1;        // one past the last message handed to the app
  int64_t committed_offset = -1;  // last committed offset
  int64_t lo_offset = -1;         // low watermark
  int64_t hi_offset = -1;         // high watermark
  int64_t ls_offset = -1;         // last stable offset
  int64_t rx_msgs = 0, rx_bytes = 0;  // consumed (fetched) messages/bytes
  int64_t tx_msgs = 0, tx_bytes = 0;  // produced messages/bytes
};

struct ClientStatistics {
  std::string type;  // "consumer", "producer"
  // Totals since the client started (librdkafka's counters).
  int64_t rx_msgs = 0, rx_msg_bytes = 0;  // messages/bytes consumed
  int64_t tx_msgs = 0, tx_msg_bytes = 0;  // messages/bytes produced
  // Failed requests over all brokers: txerrs + rxerrs + req_timeouts.
  int64_t request_errors = 0;
  // Brokers the client knows and how many of them are connected ("UP").
  int brokers = 0, brokers_up = 0;
  // Consumer group rebalances (cgrp.rebalance_cnt); -1 without a group.
  int64_t rebalances = -1;
  // Operations waiting for the application to poll.
  int64_t reply_queue = 0;
  std::vector<PartitionStatistics> partitions;  // sorted by topic, partition
};

// kInvalidArgument for text that is not librdkafka's statistics object.
absl::StatusOr<ClientStatistics> ParseClientStatistics(absl::string_view json);

}  // namespace pv::kafka

#endif  // PV_KAFKA_STATISTICS_H_
