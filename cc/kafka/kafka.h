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
  absl::Status Produce(absl::string_view topic, int32_t partition,
                       absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers = {});

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

struct ConsumerOptions {
  std::string group_id;
  // auto.offset.reset when the group has no committed offset.
  std::string auto_offset_reset = "earliest";
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

  // Leaves the group; idempotent.
  absl::Status Close();

  rd_kafka_t* raw() const { return rk_.get(); }

 private:
  Consumer() = default;
  std::unique_ptr<internal::ClientState> state_;
  internal::RdKafkaPtr rk_;
  std::string group_id_;
  bool closed_ = false;
};

struct PartitionWatermarks {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still stored
  int64_t high = 0;  // offset the next produced message will get
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
