// Message and Consumer: group consumption with application-kept offsets.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"
#include "cc/kafka/client_internal.h"
#include "cc/kafka/kafka.h"

namespace pv::kafka {

using internal::ClientState;
using internal::CodeFor;
using internal::ErrStatus;
using internal::IsAuthError;
using internal::NewClient;
using internal::RdKafkaPtr;
using internal::ToMillis;
using internal::ToVector;

// ---------------------------------------------------------------------------
// Message

void Message::Deleter::operator()(rd_kafka_message_s* m) const { rd_kafka_message_destroy(m); }

int32_t Message::partition() const { return m_->partition; }
int64_t Message::offset() const { return m_->offset; }

ConsumedRecord Message::record() const {
  ConsumedRecord r;
  r.partition = m_->partition;
  r.offset = m_->offset;
  r.timestamp_ms = timestamp_ms();
  r.key = key();
  r.value = value();
  return r;
}

std::string Message::topic() const {
  return m_->rkt == nullptr ? std::string() : rd_kafka_topic_name(m_->rkt);
}

absl::string_view Message::key() const {
  return m_->key == nullptr ? absl::string_view()
                            : absl::string_view(static_cast<const char*>(m_->key), m_->key_len);
}

absl::string_view Message::value() const {
  return m_->payload == nullptr
             ? absl::string_view()
             : absl::string_view(static_cast<const char*>(m_->payload), m_->len);
}

int64_t Message::timestamp_ms() const {
  rd_kafka_timestamp_type_t type;
  return rd_kafka_message_timestamp(m_.get(), &type);
}

std::vector<Header> Message::headers() const {
  std::vector<Header> out;
  rd_kafka_headers_t* hdrs = nullptr;  // owned by the message
  if (rd_kafka_message_headers(m_.get(), &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return out;
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) ==
                     RD_KAFKA_RESP_ERR_NO_ERROR;
       ++i) {
    out.push_back({name, value == nullptr ? std::string()
                                          : std::string(static_cast<const char*>(value), size)});
  }
  return out;
}

// ---------------------------------------------------------------------------
// Consumer

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const KafkaConfig& config,
                                                           const ConsumerOptions& options) {
  if (options.group_id.empty() && !options.assign_only) {
    return absl::InvalidArgumentError("Kafka consumer needs a group id");
  }
  std::unique_ptr<Consumer> c(new Consumer());
  c->group_id_ = options.group_id;
  c->state_ = std::make_unique<ClientState>();
  c->state_->role = absl::StrCat("consumer (group ", options.group_id, ")");
  c->state_->rebalance_listener = options.rebalance_listener;
  c->state_->on_statistics = options.on_statistics;
  c->state_->statistics_interval = options.statistics_interval;
  std::vector<std::pair<std::string, std::string>> extra = {
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", options.auto_offset_reset},
      {"isolation.level", options.isolation_level}};
  // librdkafka's assign() needs a group.id even when nothing joins it or
  // commits to it.
  extra.push_back(
      {"group.id", options.group_id.empty() ? "pv-assign-only" : options.group_id});
  PV_ASSIGN_OR_RETURN(c->rk_,
                      NewClient(RD_KAFKA_CONSUMER, config, extra, c->state_.get()));
  // Route the main queue (errors, logs) to consumer_poll.
  rd_kafka_poll_set_consumer(c->rk_.get());
  return c;
}

Consumer::~Consumer() {
  if (rk_ == nullptr) return;
  absl::Status s = Close();
  if (!s.ok()) {
    PV_LOG(WARNING) << s;
  }
  rk_.reset();
}

absl::Status Consumer::Subscribe(const std::vector<std::string>& topics) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
  for (const std::string& t : topics) {
    rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
  }
  const rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_.get(), list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("subscribe group ", group_id_, " to ",
                                       absl::StrJoin(topics, ",")));
  }
  return absl::OkStatus();
}

absl::Status Consumer::Assign(const std::vector<TopicPartitionOffset>& partitions) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (const TopicPartitionOffset& tp : partitions) {
    rd_kafka_topic_partition_list_add(list, tp.topic.c_str(), tp.partition)->offset = tp.offset;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk_.get(), list);
  const std::string described = internal::Describe(list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("assign ", described, " (brokers ", state_->brokers, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Message> Consumer::Poll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    PV_RETURN_IF_ERROR(state_->Fatal());
    const absl::Duration left = deadline - absl::Now();
    // Short slices, so that a rejected login is reported within `timeout`.
    rd_kafka_message_t* raw = rd_kafka_consumer_poll(
        rk_.get(), std::max(0, ToMillis(std::min(left, absl::Milliseconds(200)))));
    if (raw == nullptr) {
      if (absl::Now() >= deadline) {
        PV_RETURN_IF_ERROR(state_->Fatal());
        return Message();
      }
      continue;
    }
    Message m(raw);
    if (raw->err == RD_KAFKA_RESP_ERR_NO_ERROR) return m;
    if (raw->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    const std::string reason = rd_kafka_message_errstr(raw);
    if (IsAuthError(raw->err) || raw->err == RD_KAFKA_RESP_ERR__FATAL) {
      return absl::Status(CodeFor(raw->err),
                          absl::StrCat("Kafka consumer (group ", group_id_, ", brokers ",
                                       state_->brokers, "): ", reason));
    }
    if (raw->rkt == nullptr) {
      // Client-level and transient (broker down, transport): librdkafka
      // retries by itself.
      PV_LOG(WARNING) << "kafka consumer (group " << group_id_ << "): "
                      << rd_kafka_err2name(raw->err) << ": " << reason;
      continue;
    }
    return ErrStatus(raw->err, absl::StrCat("consume group ", group_id_, " topic ", m.topic(),
                                            " partition ", raw->partition, " offset ",
                                            raw->offset, " (", reason, ")"));
  }
}

absl::Status Consumer::Commit(const std::vector<TopicPartitionOffset>& offsets) {
  if (offsets.empty()) return absl::OkStatus();
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const TopicPartitionOffset& o : offsets) {
    rd_kafka_topic_partition_list_add(list, o.topic.c_str(), o.partition)->offset = o.offset;
  }
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_.get(), list, /*async=*/0);
  absl::Status status;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    status = ErrStatus(err, absl::StrCat("commit group ", group_id_, " (", offsets.size(),
                                         " partitions, first topic ", offsets[0].topic,
                                         " partition ", offsets[0].partition, " offset ",
                                         offsets[0].offset, ")"));
  } else {
    for (int i = 0; i < list->cnt; ++i) {
      const rd_kafka_topic_partition_t& tp = list->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        status = ErrStatus(tp.err, absl::StrCat("commit group ", group_id_, " topic ",
                                                tp.topic, " partition ", tp.partition,
                                                " offset ", tp.offset));
        break;
      }
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
  return status;
}

absl::Status Consumer::Close() {
  if (closed_ || rk_ == nullptr) return absl::OkStatus();
  closed_ = true;
  const rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_.get());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("closing consumer of group ", group_id_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TopicPartitionOffset>> Consumer::Assignment() const {
  rd_kafka_topic_partition_list_t* list = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_assignment(rk_.get(), &list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("assignment of group ", group_id_));
  }
  std::vector<TopicPartitionOffset> out = ToVector(list);
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

std::vector<int32_t> Consumer::AssignedPartitions(absl::string_view topic) const {
  std::vector<int32_t> out;
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_.get(), &list) != RD_KAFKA_RESP_ERR_NO_ERROR || list == nullptr) {
    return out;
  }
  for (int i = 0; i < list->cnt; ++i) {
    if (topic == list->elems[i].topic) out.push_back(list->elems[i].partition);
  }
  rd_kafka_topic_partition_list_destroy(list);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::vector<int64_t>> Consumer::Committed(absl::string_view topic,
                                                         const std::vector<int32_t>& partitions,
                                                         absl::Duration timeout) const {
  std::vector<int64_t> out;
  if (partitions.empty()) return out;
  const std::string name(topic);
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size()));
  for (int32_t p : partitions) rd_kafka_topic_partition_list_add(list, name.c_str(), p);
  const rd_kafka_resp_err_t err = rd_kafka_committed(rk_.get(), list, ToMillis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_topic_partition_list_destroy(list);
    return ErrStatus(err, absl::StrCat("committed offsets of group ", group_id_, " topic ",
                                       topic, " (brokers ", state_->brokers, ")"));
  }
  for (int32_t p : partitions) {
    rd_kafka_topic_partition_t* tp =
        rd_kafka_topic_partition_list_find(list, name.c_str(), p);
    out.push_back(tp == nullptr ? RD_KAFKA_OFFSET_INVALID : tp->offset);
  }
  rd_kafka_topic_partition_list_destroy(list);
  return out;
}

int64_t Consumer::Position(absl::string_view topic, int32_t partition) const {
  const std::string name(topic);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, name.c_str(), partition);
  int64_t position = -1;
  if (rd_kafka_position(rk_.get(), list) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].offset >= 0) {
    position = list->elems[0].offset;
  }
  rd_kafka_topic_partition_list_destroy(list);
  return position;
}

int64_t Consumer::errors() const { return state_->errors.load(std::memory_order_relaxed); }

bool Consumer::AssignmentLost() const { return rd_kafka_assignment_lost(rk_.get()) != 0; }

PartitionWatermarks Consumer::CachedWatermarks(absl::string_view topic,
                                               int32_t partition) const {
  PartitionWatermarks w;
  w.partition = partition;
  if (rd_kafka_get_watermark_offsets(rk_.get(), std::string(topic).c_str(), partition, &w.low,
                                     &w.high) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    w.low = w.high = -1;
  }
  return w;
}

absl::StatusOr<PartitionWatermarks> Consumer::QueryWatermarks(absl::string_view topic,
                                                              int32_t partition,
                                                              absl::Duration timeout) const {
  PartitionWatermarks w;
  w.partition = partition;
  const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
      rk_.get(), std::string(topic).c_str(), partition, &w.low, &w.high, ToMillis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("watermarks of topic ", topic, " partition ", partition,
                                       " (brokers ", state_->brokers, ")"));
  }
  return w;
}

}  // namespace pv::kafka
