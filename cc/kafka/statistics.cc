#include "cc/kafka/statistics.h"

#include <simdjson.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace pv::kafka {
namespace {

// An integer field of `object`, `fallback` when absent or not a number; the
// "unknown" markers (negative values) become -1.
int64_t Int(simdjson::dom::element object, const char* key, int64_t fallback = 0) {
  int64_t v = 0;
  if (object[key].get_int64().get(v) != simdjson::SUCCESS) return fallback;
  return v < 0 ? -1 : v;
}

}  // namespace

absl::StatusOr<ClientStatistics> ParseClientStatistics(absl::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("librdkafka statistics: ", simdjson::error_message(error)));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError("librdkafka statistics: not a JSON object");
  }
  ClientStatistics out;
  std::string_view type;
  if (root["type"].get_string().get(type) == simdjson::SUCCESS) out.type = std::string(type);
  out.rx_msgs = Int(root, "rxmsgs");
  out.rx_msg_bytes = Int(root, "rxmsg_bytes");
  out.tx_msgs = Int(root, "txmsgs");
  out.tx_msg_bytes = Int(root, "txmsg_bytes");
  out.reply_queue = Int(root, "replyq");

  simdjson::dom::object brokers;
  std::set<int64_t> nodes, up;  // a broker can be listed twice (bootstrap + learned)
  if (root["brokers"].get_object().get(brokers) == simdjson::SUCCESS) {
    for (auto [name, broker] : brokers) {
      out.request_errors += std::max<int64_t>(0, Int(broker, "txerrs")) +
                            std::max<int64_t>(0, Int(broker, "rxerrs")) +
                            std::max<int64_t>(0, Int(broker, "req_timeouts"));
      // Logical brokers (bootstrap, "GroupCoordinator") have nodeid -1.
      const int64_t node = Int(broker, "nodeid", -1);
      if (node < 0) continue;
      nodes.insert(node);
      std::string_view state;
      if (broker["state"].get_string().get(state) == simdjson::SUCCESS && state == "UP") {
        up.insert(node);
      }
    }
  }
  out.brokers = static_cast<int>(nodes.size());
  out.brokers_up = static_cast<int>(up.size());
  simdjson::dom::element cgrp;
  if (root["cgrp"].get(cgrp) == simdjson::SUCCESS && cgrp.is_object()) {
    out.rebalances = std::max<int64_t>(0, Int(cgrp, "rebalance_cnt"));
  }

  simdjson::dom::object topics;
  if (root["topics"].get_object().get(topics) == simdjson::SUCCESS) {
    for (auto [topic_name, topic] : topics) {
      simdjson::dom::object partitions;
      if (topic["partitions"].get_object().get(partitions) != simdjson::SUCCESS) continue;
      for (auto [key, p] : partitions) {
        int32_t id = -1;
        // "-1" is librdkafka's internal unassigned partition.
        if (!absl::SimpleAtoi(absl::string_view(key.data(), key.size()), &id) || id < 0) {
          continue;
        }
        bool desired = false;
        if (p["desired"].get_bool().get(desired) != simdjson::SUCCESS || !desired) continue;
        PartitionStatistics s;
        s.topic = std::string(topic_name);
        s.partition = id;
        s.consumer_lag = Int(p, "consumer_lag", -1);
        s.app_offset = Int(p, "app_offset", -1);
        s.committed_offset = Int(p, "committed_offset", -1);
        s.lo_offset = Int(p, "lo_offset", -1);
        s.hi_offset = Int(p, "hi_offset", -1);
        s.ls_offset = Int(p, "ls_offset", -1);
        s.rx_msgs = std::max<int64_t>(0, Int(p, "rxmsgs"));
        s.rx_bytes = std::max<int64_t>(0, Int(p, "rxbytes"));
        s.tx_msgs = std::max<int64_t>(0, Int(p, "txmsgs"));
        s.tx_bytes = std::max<int64_t>(0, Int(p, "txbytes"));
        out.partitions.push_back(std::move(s));
      }
    }
  }
  std::sort(out.partitions.begin(), out.partitions.end(),
            [](const PartitionStatistics& a, const PartitionStatistics& b) {
              return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
            });
  return out;
}

}  // namespace pv::kafka
