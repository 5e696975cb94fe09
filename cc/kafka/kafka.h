// Thin RAII adapters over librdkafka's C API (2.0) for the ingestion stages.
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

#include <librdkafka/rdkafka.h>

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

namespace pv::kafka {

inline constexpr int32_t kAnyPartition = RD_KAFKA_PARTITION_UA;

// Logical start offsets for RebalanceListener::OnAssign.
inline constexpr int64_t kOffsetBeginning = RD_KAFKA_OFFSET_BEGINNING;
inline constexpr int64_t kOffsetEnd = RD_KAFKA_OFFSET_END;
// The group's committed offset (auto.offset.reset when there is none).
inline constexpr int64_t kOffsetStored = RD_KAFKA_OFFSET_STORED;

// librdkafka client properties, kept in insertion order (a later Set of the
// same key replaces the earlier value). Copyable value type.
class KafkaConfig {
 public:
  KafkaConfig() = default;

  // bootstrap.servers, e.g. "127.0.0.1:9092,127.0.0.1:9093".
  KafkaConfig& SetBrokers(absl::string_view brokers);
  // security.protocol: PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL.
  KafkaConfig& SetSecurityProtocol(absl::string_view protocol);
  // sasl.mechanisms / sasl.username / sasl.password; also sets
  // security.protocol to SASL_PLAINTEXT unless one was set before.
  KafkaConfig& SetSasl(absl::string_view mechanism, absl::string_view user,
                       absl::string_view password);
  // Any other librdkafka property (what `-X key=value` means for kcat).
  KafkaConfig& Set(absl::string_view key, absl::string_view value);
  // Parses "key=value" (as given to a -X flag).
  absl::Status SetFromAssignment(absl::string_view key_equals_value);

  // Reads <prefix>_BROKERS (required), <prefix>_USER and <prefix>_PASSWORD
  // (SASL PLAIN when both are set), <prefix>_SECURITY_PROTOCOL and
  // <prefix>_SASL_MECHANISM (optional). FromEnv("PV_KAFKA") reads
  // PV_KAFKA_BROKERS, ...; FromEnv("PV_KAFKA_SOURCE") the source cluster's.
  static absl::StatusOr<KafkaConfig> FromEnv(absl::string_view prefix);

  // The value of `key`, or "" when unset.
  std::string Get(absl::string_view key) const;
  std::string brokers() const { return Get("bootstrap.servers"); }

  // "key=value, ..." with every secret value (passwords, JAAS, OAuth and
  // SSL key material) written as ***. Safe to log.
  std::string DebugString() const;

  const std::vector<std::pair<std::string, std::string>>& properties() const {
    return properties_;
  }

  // True for property names whose values must never be shown.
  static bool IsSecretKey(absl::string_view key);

 private:
  std::vector<std::pair<std::string, std::string>> properties_;
};

namespace internal {
// Errors reported by librdkafka's background threads (error_cb) and
// delivery reports (dr_msg_cb), read by the owning wrapper. Thread-safe.
struct ClientState;
struct RdKafkaDeleter {
  void operator()(rd_kafka_t* rk) const;
};
using RdKafkaPtr = std::unique_ptr<rd_kafka_t, RdKafkaDeleter>;
}  // namespace internal

// One message header (name, value bytes).
struct Header {
  std::string name;
  std::string value;
};

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
  // rd_kafka_poll(raw(), ...)); never concurrently with itself. It must not
  // call back into the Producer. Unset: only the counters are kept.
  std::function<void(const DeliveryReport&)> on_delivery;
};

// A producer (rd_kafka_t of type RD_KAFKA_PRODUCER). Produce() and Flush() may
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
  // `tag` is handed back in this message's DeliveryReport.
  absl::Status Produce(absl::string_view topic, int32_t partition,
                       absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers = {}, uint64_t tag = 0);

  // Waits until every queued message is acknowledged or failed, or `timeout`
  // passes. Returns an error naming topic/partition of the first failed
  // delivery since the previous Flush, kUnauthenticated as soon as the
  // brokers reject the credentials, or kDeadlineExceeded with the number of
  // messages still in flight.
  absl::Status Flush(absl::Duration timeout);

  // Messages acknowledged / failed since creation.
  int64_t delivered() const;
  int64_t failed() const;

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  Producer() = default;
  std::unique_ptr<internal::ClientState> state_;
  internal::RdKafkaPtr rk_;
  ProducerOptions options_;
};

// A consumed message; owns the rd_kafka_message_t. Views stay valid while
// the Message lives. Movable.
class Message {
 public:
  Message() = default;
  explicit Message(rd_kafka_message_t* m) : m_(m) {}
  bool empty() const { return m_ == nullptr; }
  std::string topic() const;
  int32_t partition() const { return m_->partition; }
  int64_t offset() const { return m_->offset; }
  absl::string_view key() const;
  absl::string_view value() const;
  // Message timestamp in ms since epoch (create or log-append time), or -1.
  int64_t timestamp_ms() const;
  // Header values by name (empty when absent).
  std::vector<Header> headers() const;

 private:
  struct Deleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
  };
  std::unique_ptr<rd_kafka_message_t, Deleter> m_;
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  // For Commit: the offset of the NEXT message to read (last consumed + 1).
  int64_t offset = 0;
};

struct PartitionWatermarks {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still stored
  int64_t high = 0;  // offset the next produced message will get
};

// Told by a Consumer when the group gives it partitions or takes them away,
// so that an application that keeps its own offsets (segment footers) decides
// where each partition starts and finishes its work before losing one.
//
// Both methods run on the thread that calls Consumer::Poll() or
// Consumer::Close() (librdkafka serves the rebalance from there), never
// concurrently. Eager protocols (range, roundrobin: librdkafka's default)
// revoke the whole assignment before every new one; the cooperative protocol
// (cooperative-sticky) passes only the partitions that change. Either way
// the consumer applies the (incremental) assignment after OnAssign returns
// and drops the partitions after OnRevoke returns.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;

  // `partitions` arrive with offset kOffsetStored; set each element's offset
  // to where consumption must start (an absolute offset, kOffsetBeginning or
  // kOffsetEnd). Do not add, remove or reorder elements. An error is fatal:
  // nothing is assigned and every later Poll() returns it.
  virtual absl::Status OnAssign(std::vector<TopicPartitionOffset>* partitions) = 0;

  // Called before `partitions` are taken away. `lost` is true when the
  // assignment was lost rather than handed back (session timeout, fatal
  // error): other members may already own the partitions, so work for them
  // must be discarded, not published. An error is fatal for the consumer.
  virtual absl::Status OnRevoke(const std::vector<TopicPartitionOffset>& partitions,
                                bool lost) = 0;
};

struct ConsumerOptions {
  std::string group_id;
  // auto.offset.reset when the group has no committed offset, or when an
  // assigned offset is out of range ("error": Poll returns an error naming
  // the partition and offset instead of silently skipping).
  std::string auto_offset_reset = "earliest";
  // Borrowed; must outlive the Consumer (Close() and the destructor may call
  // it). Null: librdkafka assigns at the committed offsets by itself.
  RebalanceListener* rebalance_listener = nullptr;
};

// A high-level (group) consumer with enable.auto.commit=false and
// enable.auto.offset.store=false: offsets move only through Commit().
// Use from one thread. Close() (or the destructor) leaves the group.
class Consumer {
 public:
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      const KafkaConfig& config, const ConsumerOptions& options);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  absl::Status Subscribe(const std::vector<std::string>& topics);

  // The next message, an empty Message when none arrived within `timeout`,
  // or an error (kUnauthenticated for rejected credentials; other consumer
  // errors name topic/partition/offset).
  absl::StatusOr<Message> Poll(absl::Duration timeout);

  // Synchronous commit of the given offsets for this group.
  absl::Status Commit(const std::vector<TopicPartitionOffset>& offsets);

  // Leaves the group; idempotent. With a RebalanceListener, its OnRevoke
  // runs from here for the partitions still assigned.
  absl::Status Close();

  // The partitions currently assigned to this member (offset unset).
  absl::StatusOr<std::vector<TopicPartitionOffset>> Assignment() const;

  // True when the current assignment was lost (session timeout) and the
  // partitions may already be consumed by another member.
  bool AssignmentLost() const;

  // Low/high watermarks as last seen in fetch responses (no broker request;
  // -1 while unknown). Cheap enough to call for every progress report.
  PartitionWatermarks CachedWatermarks(absl::string_view topic, int32_t partition) const;

  // Watermarks asked from the partition leader, within `timeout`.
  absl::StatusOr<PartitionWatermarks> QueryWatermarks(absl::string_view topic,
                                                      int32_t partition,
                                                      absl::Duration timeout) const;

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  Consumer() = default;
  std::unique_ptr<internal::ClientState> state_;
  internal::RdKafkaPtr rk_;
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
  // Low/high watermarks of every partition of `topic`, by partition number.
  absl::StatusOr<std::vector<PartitionWatermarks>> Watermarks(
      absl::string_view topic, absl::Duration timeout);

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  Admin() = default;
  absl::Status AwaitTopicOnEveryBroker(absl::string_view topic, absl::Time deadline);
  KafkaConfig config_;
  std::unique_ptr<internal::ClientState> state_;
  internal::RdKafkaPtr rk_;
};

}  // namespace pv::kafka

#endif  // PV_KAFKA_KAFKA_H_
