// The Prometheus metrics of the long-running ingestion stages, consume and
// mirror, which cc/common/metrics_server.h serves on /metrics. Names are
// pv_<stage>_..., like the batch's pv_batch_... textfile; the README's
// "Monitoring" section lists them all.
//
// Where librdkafka already measures something (per-partition lag and
// offsets, broker request errors, rebalances, bytes produced), the figures
// come from its statistics JSON (statistics.interval.ms, see
// cc/kafka/statistics.h), handed to On*Statistics from the client's stats
// callback; the rest from what the stage counts anyway.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   StageHealth health(absl::Minutes(2));
//   ConsumeMetrics metrics(*registry, &health);
//   consumer_options.on_statistics = [&](absl::string_view json) {
//     metrics.OnStatistics(json);
//   };
//   ... loop: metrics.Update(figures);
//
// Threading: each method may be called from any thread (prometheus-cpp's
// metrics are atomic), but the methods of one object are meant to be called
// from the stage's one thread (librdkafka's stats callback runs there too,
// inside Poll), never concurrently. The registry and the StageHealth are
// borrowed and must outlive the object.
#ifndef PV_INGEST_STAGE_METRICS_H_
#define PV_INGEST_STAGE_METRICS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/metrics_server.h"
#include "cc/kafka/statistics.h"

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
class Registry;
}  // namespace prometheus

namespace pv::ingest {

// A prometheus Counter fed with running totals (which librdkafka and the
// stages keep): Set(total) adds what the total grew by since the last call.
class TotalCounter {
 public:
  TotalCounter() = default;
  explicit TotalCounter(prometheus::Counter* counter) : counter_(counter) {}
  void Set(double total);

 private:
  prometheus::Counter* counter_ = nullptr;
  double last_ = 0;
};

// One Kafka client's statistics as metrics named <prefix>_...:
//   <prefix>_partition_lag{topic,partition}
//   <prefix>_partition_consumed_offset, _committed_offset, _high_watermark
//   <prefix>_kafka_request_errors_total, <prefix>_kafka_brokers_up,
//   <prefix>_rebalances_total (consumers in a group),
//   <prefix>_kafka_errors_total (from SetErrors: librdkafka's error callback)
// all labelled client=<client> when `client` is not empty. Partitions the
// client no longer works on (revoked) lose their series.
class KafkaClientMetrics {
 public:
  enum class Kind {
    kGroupConsumer,      // committed offsets are the group's, in the statistics
    kOwnOffsetConsumer,  // the stage keeps its own (SetCommitted)
    kProducer,           // no partition series
  };
  KafkaClientMetrics(prometheus::Registry& registry, const std::string& prefix,
                     const std::string& client, Kind kind);

  // Applies one statistics JSON and returns it parsed. Lag per partition:
  // end minus the committed offset (librdkafka's consumer_lag for a group
  // consumer; SetCommitted's offset for kOwnOffsetConsumer, which falls back
  // to the offset consumed), or the whole partition (end minus the low
  // watermark) while nothing is committed. "End" is the last stable offset
  // (read_committed) or the high watermark. -1 while unknown.
  absl::StatusOr<kafka::ClientStatistics> Apply(absl::string_view json);
  // Total errors of the client's error callback (kafka::Consumer::errors()).
  void SetErrors(int64_t total);
  // The stage's own committed offset of a partition (next offset to read).
  void SetCommitted(const std::string& topic, int32_t partition, int64_t offset);

 private:
  struct Partition {
    prometheus::Gauge* lag = nullptr;
    prometheus::Gauge* consumed = nullptr;
    prometheus::Gauge* committed = nullptr;
    prometheus::Gauge* high = nullptr;
    int64_t own_committed = -1;  // kOwnOffsetConsumer: from SetCommitted
  };
  Partition& PartitionSeries(const std::string& topic, int32_t partition);
  void RemovePartition(Partition& p);

  const std::string client_;
  const Kind kind_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& consumed_;
  prometheus::Family<prometheus::Gauge>& committed_;
  prometheus::Family<prometheus::Gauge>& high_;
  prometheus::Gauge& brokers_up_;
  TotalCounter request_errors_, rebalances_, errors_;
  std::map<std::pair<std::string, int32_t>, Partition> partitions_;
};

// What consume did so far (running totals), for ConsumeMetrics::Update.
struct ConsumeFigures {
  uint64_t messages = 0, bytes = 0;         // appended to segments
  uint64_t segments = 0, segment_bytes = 0;  // published
  absl::Time last_segment = absl::InfinitePast();  // when the last was published
  int64_t mongo_inserted = 0, mongo_duplicates = 0, mongo_errors = 0;
  int64_t kafka_errors = 0;  // kafka::Consumer::errors()
  // Messages not yet read from the assigned partitions; -1 unknown.
  int64_t backlog = -1;
};

// consume's metrics (pv_consume_...): messages_total, bytes_total,
// segments_published_total, segment_bytes_total,
// last_segment_timestamp_seconds, mongo_inserted_total,
// mongo_duplicates_total, mongo_errors_total, and KafkaClientMetrics'.
// Reports progress and backlog to `health`.
class ConsumeMetrics {
 public:
  ConsumeMetrics(prometheus::Registry& registry, StageHealth* health);
  // The consumer's statistics callback.
  void OnStatistics(absl::string_view json);
  void Update(const ConsumeFigures& figures, absl::Time now = absl::Now());

 private:
  StageHealth* const health_;
  KafkaClientMetrics kafka_;
  TotalCounter messages_, bytes_, segments_, segment_bytes_;
  TotalCounter mongo_inserted_, mongo_duplicates_, mongo_errors_;
  prometheus::Gauge& last_segment_;
  uint64_t seen_messages_ = 0, seen_segments_ = 0;
};

// mirror's metrics (pv_mirror_...): messages_read_total, bytes_read_total,
// messages_written_total (acknowledged by the destination),
// messages_failed_total, bytes_written_total, transactions_total{outcome},
// the source consumer's KafkaClientMetrics (client="source"; committed
// offsets are the mirror's checkpoints or group commits) and the
// destination producer's errors (client="destination").
class MirrorMetrics {
 public:
  MirrorMetrics(prometheus::Registry& registry, StageHealth* health);

  void OnSourceStatistics(absl::string_view json);
  void OnDestinationStatistics(absl::string_view json);
  // One message read from the source (key + value bytes).
  void OnRead(uint64_t bytes, absl::Time now = absl::Now());
  // A transaction committed, or aborted (why); the health fails while the
  // last one aborted.
  void OnTransaction(bool committed, absl::string_view why = "");
  // Source offsets committed (at-least-once) failed or worked again.
  void OnCommitFailed(absl::string_view why);
  void OnCommitted(const std::string& topic, int32_t partition, int64_t next_offset);
  // Periodic: the destination's acknowledged/failed totals, the clients'
  // error totals, and the messages left in the source (-1 unknown).
  void Update(int64_t acknowledged, int64_t failed, int64_t source_errors,
              int64_t destination_errors, int64_t backlog, absl::Time now = absl::Now());

 private:
  StageHealth* const health_;
  KafkaClientMetrics source_;
  KafkaClientMetrics destination_;
  prometheus::Counter& read_;
  prometheus::Counter& read_bytes_;
  TotalCounter written_, failed_, written_bytes_;
  prometheus::Counter& committed_;
  prometheus::Counter& aborted_;
  absl::Time next_progress_ = absl::InfinitePast();
};

}  // namespace pv::ingest

#endif  // PV_INGEST_STAGE_METRICS_H_
