// Thin RAII adapters over librdkafka's C API (2.0) for the ingestion stages:
// Producer, Consumer and Admin. The only target that links librdkafka, and
// no header of it includes librdkafka's: the vocabulary lives in
// cc/kafka/types.h, the configuration in cc/kafka/config.h.
//
//   PV_ASSIGN_OR_RETURN(auto config, pv::kafka::KafkaConfig::FromEnv("PV_KAFKA"));
//   PV_ASSIGN_OR_RETURN(auto producer, pv::kafka::Producer::Create(config, {}));
//   PV_RETURN_IF_ERROR(producer->Produce("views", pv::kafka::kAnyPartition, key, value));
//   PV_RETURN_IF_ERROR(producer->Flush(absl::Seconds(30)));
//
// Errors are absl::Status naming broker/topic/partition/offset where known.
// Authentication failures surface as kUnauthenticated within the caller's
// timeout (never a hang). Passwords never appear in DebugString(), logs or
// error messages.
#ifndef PV_KAFKA_KAFKA_H_
#define PV_KAFKA_KAFKA_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/kafka/config.h"
#include "cc/kafka/types.h"

// librdkafka's handle types, declared only (cc/kafka/client_internal.h
// includes their definitions).
struct rd_kafka_s;
struct rd_kafka_message_s;

namespace pv::kafka {

// librdkafka's version, e.g. "2.0.2".
std::string LibraryVersion();

namespace internal {
// Errors reported by librdkafka's background threads (error_cb) and
// delivery reports (dr_msg_cb), read by the owning wrapper. Thread-safe.
struct ClientState;
// Destroys an rd_kafka_t (defined in client.cc).
struct HandleDeleter {
  void operator()(rd_kafka_s* rk) const;
};
using HandlePtr = std::unique_ptr<rd_kafka_s, HandleDeleter>;
}  // namespace internal

// The outcome of one produced message, for ProducerOptions::on_delivery.
struct DeliveryReport {
  int32_t partition = 0;  // the partition the message went to (or was meant for)
  int64_t offset = -1;    // its offset there when acknowledged, else -1
  uint64_t tag = 0;       // what Produce() was given
  absl::Status status;    // OK when acknowledged; else names topic/partition
};

struct ProducerOptions {
  // enable.idempotence: no duplicates or reordering on retries.
  bool idempotence = true;
  // acks: "all" (-1), "1", "0".
  std::string acks = "all";
  // message.timeout.ms: how long a message may wait for acknowledgement.
  absl::Duration message_timeout = absl::Minutes(2);
  // How long Produce() waits for room when the local queue is full.
  absl::Duration queue_full_timeout = absl::Seconds(30);
  // How long the destructor waits for unacknowledged messages before
  // dropping them (with a warning).
  absl::Duration close_timeout = absl::Seconds(5);
  // Called once per message when it is acknowledged or has failed, on the
  // thread that serves the producer's callbacks (inside Produce(), Flush() or
  // Producer::Poll); never concurrently with itself. It must not
  // call back into the Producer. Unset: only the counters are kept.
  std::function<void(const DeliveryReport&)> on_delivery;
  // Non-empty: a transactional producer with this transactional.id (which
  // implies idempotence and acks=all). Produce() then only works inside a
  // transaction (BeginTransaction .. CommitTransaction), and message_timeout
  // is capped at transaction_timeout.
  std::string transactional_id;
  // transaction.timeout.ms: the brokers abort a transaction open longer than
  // this, and fence the producer that still holds it. Also how long a
  // crashed producer's open transaction holds back read_committed readers
  // when nobody with its transactional.id restarts.
  absl::Duration transaction_timeout = absl::Seconds(60);
  // Set: librdkafka's statistics JSON (see statistics.h) every
  // statistics_interval (statistics.interval.ms, unless the config sets it),
  // on the thread that serves the producer's callbacks (as on_delivery).
  std::function<void(absl::string_view json)> on_statistics;
  absl::Duration statistics_interval = absl::Seconds(5);
};

// A producer. Produce() and Flush() may
// be called from several threads. Not movable: the callbacks hold its state.
class Producer {
 public:
  static absl::StatusOr<std::unique_ptr<Producer>> Create(
      const KafkaConfig& config, const ProducerOptions& options);
  ~Producer();  // waits up to options.close_timeout for outstanding messages
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Queues one message; bytes are copied. partition may be kAnyPartition
  // (partitioned by key). Fails at once on a fatal client error (e.g. the
  // idempotent producer was fenced) or authentication failure seen so far.
  // `tag` is handed back in this message's DeliveryReport. `timestamp_ms` > 0
  // is the message's CreateTime; otherwise librdkafka stamps the current time.
  absl::Status Produce(absl::string_view topic, int32_t partition,
                       absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers = {}, uint64_t tag = 0,
                       int64_t timestamp_ms = 0);

  // Transactions (ProducerOptions::transactional_id). The errors say what
  // to do next:
  //  - kAborted (CommitTransaction only): the transaction could not commit
  //    (e.g. messages timed out while a broker was away) and was aborted:
  //    nothing of it is visible; rewind the input and begin again;
  //  - IsFenced (types.h): another producer with the same transactional.id
  //    took over (or the brokers timed this transaction out); this producer
  //    is dead, and so is every later call (Produce included);
  //  - anything else: a fatal client error; destroy the producer.
  // Retriable errors are retried inside, until `timeout` (Init) or the
  // transaction timeout.

  // Registers the transactional.id with its coordinator: a previous producer
  // with the same id is fenced and its open transaction aborted (or, if it
  // was committing, completed). Call once, before the first transaction.
  absl::Status InitTransactions(absl::Duration timeout);
  absl::Status BeginTransaction();
  // Flushes, then commits what was produced since BeginTransaction.
  absl::Status CommitTransaction();
  // Aborts the open transaction: its messages are never visible.
  absl::Status AbortTransaction();

  // Waits until every queued message is acknowledged or failed, or `timeout`
  // passes. Returns an error naming topic/partition of the first failed
  // delivery since the previous Flush, kUnauthenticated as soon as the
  // brokers reject the credentials, or kDeadlineExceeded with the number of
  // messages still in flight.
  absl::Status Flush(absl::Duration timeout);

  // Serves delivery reports (ProducerOptions::on_delivery) for up to
  // `timeout` (zero: only those already due).
  void Poll(absl::Duration timeout);

  // Messages acknowledged / failed since creation.
  int64_t delivered() const;
  int64_t failed() const;
  // Errors librdkafka reported for this client since creation (its error
  // callback: brokers down, timeouts, authentication, fatal errors).
  int64_t errors() const;

 private:
  Producer() = default;
  std::unique_ptr<internal::ClientState> state_;
  internal::HandlePtr rk_;
  ProducerOptions options_;
};

// A consumed message; owns librdkafka's message. Views stay valid while the
// Message lives. Movable.
class Message {
 public:
  Message() = default;
  explicit Message(rd_kafka_message_s* m) : m_(m) {}
  bool empty() const { return m_ == nullptr; }
  std::string topic() const;
  int32_t partition() const;
  int64_t offset() const;
  absl::string_view key() const;
  absl::string_view value() const;
  // Message timestamp in ms since epoch (create or log-append time), or -1.
  int64_t timestamp_ms() const;
  // Header values by name (empty when absent).
  std::vector<Header> headers() const;
  // partition, offset, timestamp, key and value as views into this message.
  ConsumedRecord record() const;

 private:
  struct Deleter {
    void operator()(rd_kafka_message_s* m) const;
  };
  std::unique_ptr<rd_kafka_message_s, Deleter> m_;
};

struct ConsumerOptions {
  // The consumer group. Empty only with assign_only.
  std::string group_id;
  // No group: partitions are given with Assign() (no rebalances, no session
  // timeouts, nothing committed).
  bool assign_only = false;
  // isolation.level: "read_committed" (records of aborted or open
  // transactions are never returned; offsets they and the transaction
  // markers take are skipped) or "read_uncommitted".
  std::string isolation_level = "read_committed";
  // auto.offset.reset when the group has no committed offset, or when an
  // assigned offset is out of range ("error": Poll returns an error naming
  // the partition and offset instead of silently skipping).
  std::string auto_offset_reset = "earliest";
  // Borrowed; must outlive the Consumer (Close() and the destructor may call
  // it). Null: librdkafka assigns at the committed offsets by itself.
  RebalanceListener* rebalance_listener = nullptr;
  // Set: librdkafka's statistics JSON (see statistics.h) every
  // statistics_interval (statistics.interval.ms, unless the config sets it),
  // called from inside Poll() on its thread. It must not call back into the
  // Consumer.
  std::function<void(absl::string_view json)> on_statistics;
  absl::Duration statistics_interval = absl::Seconds(5);
};

// A high-level (group) consumer with enable.auto.commit=false and
// enable.auto.offset.store=false: offsets move only through Commit().
// Use from one thread. Close() (or the destructor) leaves the group.
class Consumer : public ConsumerControl {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const KafkaConfig& config, const ConsumerOptions& options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  absl::Status Subscribe(const std::vector<std::string>& topics);

  // Consumes exactly these partitions from these offsets (absolute, or
  // kOffsetBeginning / kOffsetEnd), replacing any previous assignment and
  // dropping what was fetched for it.
  absl::Status Assign(const std::vector<TopicPartitionOffset>& partitions);

  // The next message, an empty Message when none arrived within `timeout`,
  // or an error (kUnauthenticated for rejected credentials; other consumer
  // errors name topic/partition/offset).
  absl::StatusOr<Message> Poll(absl::Duration timeout);

  // Synchronous commit of the given offsets for this group.
  absl::Status Commit(const std::vector<TopicPartitionOffset>& offsets) override;

  // The group's committed offsets of `partitions` of `topic`, asked from the
  // group coordinator within `timeout`; negative where nothing is committed.
  // Same order as `partitions`.
  absl::StatusOr<std::vector<int64_t>> Committed(absl::string_view topic,
                                                 const std::vector<int32_t>& partitions,
                                                 absl::Duration timeout) const;

  // Leaves the group; idempotent. With a RebalanceListener, its OnRevoke
  // runs from here for the partitions still assigned.
  absl::Status Close();

  // The partitions currently assigned to this member (offset unset).
  absl::StatusOr<std::vector<TopicPartitionOffset>> Assignment() const;

  // The partitions of `topic` currently assigned to this member.
  std::vector<int32_t> AssignedPartitions(absl::string_view topic) const;

  // True when the current assignment was lost (session timeout) and the
  // partitions may already be consumed by another member.
  bool AssignmentLost() const override;

  // Low/high watermarks as last seen in fetch responses (no broker request;
  // -1 while unknown). Cheap enough to call for every progress report.
  PartitionWatermarks CachedWatermarks(absl::string_view topic,
                                       int32_t partition) const override;

  // Watermarks asked from the partition leader, within `timeout`; with
  // isolation_level read_committed, `high` is the last stable offset (the
  // end of what Poll can return).
  absl::StatusOr<PartitionWatermarks> QueryWatermarks(absl::string_view topic,
                                                      int32_t partition,
                                                      absl::Duration timeout) const override;

  // The offset of the next message Poll() would return for the partition,
  // past any transaction markers it has read; -1 when unknown.
  int64_t Position(absl::string_view topic, int32_t partition) const override;

  // Errors librdkafka reported for this client since creation (its error
  // callback: brokers down, timeouts, authentication, fatal errors).
  int64_t errors() const;

 private:
  Consumer() = default;
  std::unique_ptr<internal::ClientState> state_;
  internal::HandlePtr rk_;
  std::string group_id_;
  bool closed_ = false;
};

// Topic administration and offset queries. Thread-compatible.
class Admin {
 public:
  static absl::StatusOr<std::unique_ptr<Admin>> Create(const KafkaConfig& config);
  ~Admin();
  Admin(const Admin&) = delete;
  Admin& operator=(const Admin&) = delete;

  // Creates `topic` and waits until every broker's metadata lists it (so a
  // producer or consumer started right after cannot see it vanish);
  // kAlreadyExists when it exists. `configs` are topic
  // configs such as {"min.insync.replicas", "2"}.
  absl::Status CreateTopic(
      absl::string_view topic, int partitions, int replication_factor,
      absl::Duration timeout,
      const std::vector<std::pair<std::string, std::string>>& configs = {});
  // Deletes `topic`; kNotFound when it does not exist.
  absl::Status DeleteTopic(absl::string_view topic, absl::Duration timeout);
  // Number of partitions; kNotFound when the topic does not exist.
  absl::StatusOr<int> PartitionCount(absl::string_view topic,
                                     absl::Duration timeout);
  // Low/high watermarks of every partition of `topic`, by partition number;
  // `high` is the last stable offset (see PartitionWatermarks).
  absl::StatusOr<std::vector<PartitionWatermarks>> Watermarks(
      absl::string_view topic, absl::Duration timeout);

  // The cluster's id (KRaft/ZooKeeper cluster.id), within `timeout`.
  absl::StatusOr<std::string> ClusterId(absl::Duration timeout);

  // Waits until the metadata of every broker lists `topic` (one broker knows
  // a new topic before the others: a consumer asking another one would be
  // told it does not exist); kDeadlineExceeded naming a broker otherwise.
  absl::Status AwaitTopicOnEveryBroker(absl::string_view topic, absl::Time deadline);

 private:
  Admin() = default;
  KafkaConfig config_;
  std::unique_ptr<internal::ClientState> state_;
  internal::HandlePtr rk_;
};

}  // namespace pv::kafka

#endif  // PV_KAFKA_KAFKA_H_
