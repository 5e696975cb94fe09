#include "cc/ingest/stage_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "cc/common/logging.h"

namespace pv::ingest {
namespace {

prometheus::Labels ClientLabels(const std::string& client) {
  if (client.empty()) return {};
  return {{"client", client}};
}

prometheus::Family<prometheus::Gauge>& GaugeFamily(prometheus::Registry& registry,
                                                   const std::string& name,
                                                   const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
}

prometheus::Counter& CounterOf(prometheus::Registry& registry, const std::string& name,
                               const std::string& help, const prometheus::Labels& labels = {}) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry).Add(labels);
}

double UnixSeconds(absl::Time t) { return absl::ToDoubleSeconds(t - absl::UnixEpoch()); }

}  // namespace

void TotalCounter::Set(double total) {
  if (counter_ == nullptr || total <= last_) return;
  counter_->Increment(total - last_);
  last_ = total;
}

// ---------------------------------------------------------------------------
// KafkaClientMetrics

KafkaClientMetrics::KafkaClientMetrics(prometheus::Registry& registry, const std::string& prefix,
                                       const std::string& client, Kind kind)
    : client_(client),
      kind_(kind),
      lag_(GaugeFamily(registry, prefix + "_partition_lag",
                       "Messages of the partition after the committed offset (or, where "
                       "nothing is committed to Kafka, after the last one consumed)")),
      consumed_(GaugeFamily(registry, prefix + "_partition_consumed_offset",
                            "One past the last message consumed from the partition")),
      committed_(GaugeFamily(registry, prefix + "_partition_committed_offset",
                             "The committed offset of the partition (next to read)")),
      high_(GaugeFamily(registry, prefix + "_partition_high_watermark",
                        "The partition's end: last stable offset (read_committed) or high "
                        "watermark")),
      brokers_up_(GaugeFamily(registry, prefix + "_kafka_brokers_up",
                              "Brokers the Kafka client is connected to")
                      .Add(ClientLabels(client))),
      request_errors_(&CounterOf(registry, prefix + "_kafka_request_errors_total",
                                 "Failed or timed-out Kafka requests (librdkafka statistics)",
                                 ClientLabels(client))),
      errors_(&CounterOf(registry, prefix + "_kafka_errors_total",
                         "Errors librdkafka reported (broker down, timeouts, authentication)",
                         ClientLabels(client))) {
  if (kind == Kind::kGroupConsumer) {
    rebalances_ = TotalCounter(&CounterOf(registry, prefix + "_rebalances_total",
                                          "Consumer group rebalances", ClientLabels(client)));
  }
}

KafkaClientMetrics::Partition& KafkaClientMetrics::PartitionSeries(const std::string& topic,
                                                                   int32_t partition) {
  Partition& p = partitions_[{topic, partition}];
  if (p.lag == nullptr) {
    prometheus::Labels labels = ClientLabels(client_);
    labels["topic"] = topic;
    labels["partition"] = absl::StrCat(partition);
    p.lag = &lag_.Add(labels);
    p.consumed = &consumed_.Add(labels);
    p.committed = &committed_.Add(labels);
    p.high = &high_.Add(labels);
    p.lag->Set(-1);  // until known
    p.consumed->Set(-1);
    p.committed->Set(-1);
    p.high->Set(-1);
  }
  return p;
}

void KafkaClientMetrics::RemovePartition(Partition& p) {
  lag_.Remove(p.lag);
  consumed_.Remove(p.consumed);
  committed_.Remove(p.committed);
  high_.Remove(p.high);
}

absl::StatusOr<kafka::ClientStatistics> KafkaClientMetrics::Apply(absl::string_view json) {
  absl::StatusOr<kafka::ClientStatistics> stats = kafka::ParseClientStatistics(json);
  if (!stats.ok()) return stats.status();
  request_errors_.Set(static_cast<double>(stats->request_errors));
  brokers_up_.Set(stats->brokers_up);
  if (stats->rebalances >= 0) rebalances_.Set(static_cast<double>(stats->rebalances));
  if (kind_ == Kind::kProducer) return stats;

  std::set<std::pair<std::string, int32_t>> present;
  for (const kafka::PartitionStatistics& s : stats->partitions) {
    present.insert({s.topic, s.partition});
    Partition& p = PartitionSeries(s.topic, s.partition);
    const int64_t end = s.ls_offset >= 0 ? s.ls_offset : s.hi_offset;
    int64_t lag = -1;
    if (kind_ == Kind::kGroupConsumer && s.consumer_lag >= 0) {
      lag = s.consumer_lag;
    } else if (kind_ == Kind::kOwnOffsetConsumer && end >= 0 && p.own_committed >= 0) {
      lag = std::max<int64_t>(0, end - p.own_committed);
    } else if (kind_ == Kind::kOwnOffsetConsumer && end >= 0 && s.app_offset >= 0) {
      lag = std::max<int64_t>(0, end - s.app_offset);
    } else if (end >= 0 && s.lo_offset >= 0) {
      lag = end - s.lo_offset;  // nothing committed (or read) yet: all of it
    }
    if (lag >= 0) p.lag->Set(static_cast<double>(lag));
    if (s.app_offset >= 0) p.consumed->Set(static_cast<double>(s.app_offset));
    if (end >= 0) p.high->Set(static_cast<double>(end));
    if (kind_ == Kind::kGroupConsumer && s.committed_offset >= 0) {
      p.committed->Set(static_cast<double>(s.committed_offset));
    }
  }
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    if (present.count(it->first)) {
      ++it;
    } else {
      RemovePartition(it->second);
      it = partitions_.erase(it);
    }
  }
  return stats;
}

void KafkaClientMetrics::SetErrors(int64_t total) { errors_.Set(static_cast<double>(total)); }

void KafkaClientMetrics::SetCommitted(const std::string& topic, int32_t partition,
                                      int64_t offset) {
  if (kind_ == Kind::kProducer) return;
  Partition& p = PartitionSeries(topic, partition);
  p.committed->Set(static_cast<double>(offset));
  p.own_committed = offset;
}

// ---------------------------------------------------------------------------
// ConsumeMetrics

ConsumeMetrics::ConsumeMetrics(prometheus::Registry& registry, StageHealth* health)
    : health_(health),
      kafka_(registry, "pv_consume", "", KafkaClientMetrics::Kind::kGroupConsumer),
      messages_(&CounterOf(registry, "pv_consume_messages_total",
                           "Kafka records appended to segments")),
      bytes_(&CounterOf(registry, "pv_consume_bytes_total",
                        "Payload bytes of the records appended to segments")),
      segments_(&CounterOf(registry, "pv_consume_segments_published_total",
                           "Segment files published")),
      segment_bytes_(&CounterOf(registry, "pv_consume_segment_bytes_total",
                                "Bytes of the segment files published")),
      mongo_inserted_(&CounterOf(registry, "pv_consume_mongo_inserted_total",
                                 "Documents inserted into the MongoDB raw store")),
      mongo_duplicates_(&CounterOf(registry, "pv_consume_mongo_duplicates_total",
                                   "Documents the MongoDB raw store already held (replays)")),
      mongo_errors_(&CounterOf(registry, "pv_consume_mongo_errors_total",
                               "Failed inserts into the MongoDB raw store")),
      last_segment_(GaugeFamily(registry, "pv_consume_last_segment_timestamp_seconds",
                                "When consume last published a segment (Unix time; its "
                                "start until the first)")
                        .Add({})) {
  last_segment_.Set(UnixSeconds(absl::Now()));
}

void ConsumeMetrics::OnStatistics(absl::string_view json) {
  absl::StatusOr<kafka::ClientStatistics> s = kafka_.Apply(json);
  if (!s.ok()) PV_LOG(DEBUG) << "consumer statistics: " << s.status();
}

void ConsumeMetrics::Update(const ConsumeFigures& f, absl::Time now) {
  messages_.Set(static_cast<double>(f.messages));
  bytes_.Set(static_cast<double>(f.bytes));
  segments_.Set(static_cast<double>(f.segments));
  segment_bytes_.Set(static_cast<double>(f.segment_bytes));
  mongo_inserted_.Set(static_cast<double>(f.mongo_inserted));
  mongo_duplicates_.Set(static_cast<double>(f.mongo_duplicates));
  mongo_errors_.Set(static_cast<double>(f.mongo_errors));
  kafka_.SetErrors(f.kafka_errors);
  if (f.last_segment != absl::InfinitePast()) last_segment_.Set(UnixSeconds(f.last_segment));
  if (health_ != nullptr) {
    if (f.messages != seen_messages_ || f.segments != seen_segments_) health_->Progress(now);
    health_->SetBacklog(f.backlog, now);
  }
  seen_messages_ = f.messages;
  seen_segments_ = f.segments;
}

// ---------------------------------------------------------------------------
// MirrorMetrics

MirrorMetrics::MirrorMetrics(prometheus::Registry& registry, StageHealth* health)
    : health_(health),
      source_(registry, "pv_mirror", "source", KafkaClientMetrics::Kind::kOwnOffsetConsumer),
      destination_(registry, "pv_mirror", "destination", KafkaClientMetrics::Kind::kProducer),
      read_(CounterOf(registry, "pv_mirror_messages_read_total",
                      "Messages read from the source topic")),
      read_bytes_(CounterOf(registry, "pv_mirror_bytes_read_total",
                            "Key + value bytes of the messages read from the source")),
      written_(&CounterOf(registry, "pv_mirror_messages_written_total",
                          "Messages the destination acknowledged")),
      failed_(&CounterOf(registry, "pv_mirror_messages_failed_total",
                         "Messages whose delivery to the destination failed")),
      written_bytes_(&CounterOf(registry, "pv_mirror_bytes_written_total",
                                "Message bytes produced to the destination (librdkafka)")),
      committed_(CounterOf(registry, "pv_mirror_transactions_total",
                           "Destination transactions by outcome", {{"outcome", "committed"}})),
      aborted_(CounterOf(registry, "pv_mirror_transactions_total",
                         "Destination transactions by outcome", {{"outcome", "aborted"}})) {}

void MirrorMetrics::OnSourceStatistics(absl::string_view json) {
  absl::StatusOr<kafka::ClientStatistics> s = source_.Apply(json);
  if (!s.ok()) PV_LOG(DEBUG) << "source consumer statistics: " << s.status();
}

void MirrorMetrics::OnDestinationStatistics(absl::string_view json) {
  absl::StatusOr<kafka::ClientStatistics> s = destination_.Apply(json);
  if (!s.ok()) {
    PV_LOG(DEBUG) << "destination producer statistics: " << s.status();
    return;
  }
  written_bytes_.Set(static_cast<double>(s->tx_msg_bytes));
}

void MirrorMetrics::OnRead(uint64_t bytes, absl::Time now) {
  read_.Increment();
  read_bytes_.Increment(static_cast<double>(bytes));
  // The health clock needs no more than a few updates a second.
  if (health_ != nullptr && now >= next_progress_) {
    health_->Progress(now);
    next_progress_ = now + absl::Milliseconds(100);
  }
}

void MirrorMetrics::OnTransaction(bool committed, absl::string_view why) {
  if (committed) {
    committed_.Increment();
    if (health_ != nullptr) {
      health_->ClearFailing();
      health_->Progress();
    }
    return;
  }
  aborted_.Increment();
  if (health_ != nullptr) health_->SetFailing(absl::StrCat("transaction aborted: ", why));
}

void MirrorMetrics::OnCommitFailed(absl::string_view why) {
  if (health_ != nullptr) health_->SetFailing(absl::StrCat("offset commit failing: ", why));
}

void MirrorMetrics::OnCommitted(const std::string& topic, int32_t partition,
                                int64_t next_offset) {
  source_.SetCommitted(topic, partition, next_offset);
  if (health_ != nullptr) health_->ClearFailing();
}

void MirrorMetrics::Update(int64_t acknowledged, int64_t failed, int64_t source_errors,
                           int64_t destination_errors, int64_t backlog, absl::Time now) {
  written_.Set(static_cast<double>(acknowledged));
  failed_.Set(static_cast<double>(failed));
  source_.SetErrors(source_errors);
  destination_.SetErrors(destination_errors);
  if (health_ != nullptr) health_->SetBacklog(backlog, now);
}

}  // namespace pv::ingest
