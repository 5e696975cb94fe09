// Internals of the librdkafka adapter, shared by its .cc files only (the
// one place besides them that includes librdkafka): the state callbacks
// write into, error translation, and client creation.
#ifndef PV_KAFKA_CLIENT_INTERNAL_H_
#define PV_KAFKA_CLIENT_INTERNAL_H_

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
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cc/kafka/kafka.h"

namespace pv::kafka::internal {

static_assert(kAnyPartition == RD_KAFKA_PARTITION_UA);
static_assert(kOffsetBeginning == RD_KAFKA_OFFSET_BEGINNING);
static_assert(kOffsetEnd == RD_KAFKA_OFFSET_END);
static_assert(kOffsetStored == RD_KAFKA_OFFSET_STORED);

// State shared with librdkafka's callbacks (via the client opaque). It must
// outlive the rd_kafka_t, which the wrappers guarantee by destroying the
// handle first.
struct ClientState {
  std::string role;     // "producer", "consumer", "admin"
  std::string brokers;  // for error messages
  std::atomic<int64_t> delivered{0};
  std::atomic<int64_t> failed{0};
  // Consumers only; borrowed from ConsumerOptions.
  RebalanceListener* rebalance_listener = nullptr;
  // ProducerOptions::on_delivery; set before the client exists.
  std::function<void(const DeliveryReport&)> on_delivery;
  // {Producer,Consumer}Options::on_statistics and its interval; set before
  // the client exists.
  std::function<void(absl::string_view json)> on_statistics;
  absl::Duration statistics_interval = absl::Seconds(5);
  // Calls of the error callback.
  std::atomic<int64_t> errors{0};

  absl::Mutex mu;
  // Rejected credentials or a fatal client error: every later call fails.
  absl::Status fatal ABSL_GUARDED_BY(mu);
  // Most recent transient error (broker down, timeouts), for context.
  absl::Status last_error ABSL_GUARDED_BY(mu);
  // First delivery failure since the last Flush, and how many there were.
  absl::Status first_delivery_error ABSL_GUARDED_BY(mu);
  int64_t delivery_errors ABSL_GUARDED_BY(mu) = 0;

  absl::Status Fatal() {
    absl::MutexLock lock(&mu);
    return fatal;
  }
  std::string LastError() {
    absl::MutexLock lock(&mu);
    return last_error.ok() ? "none" : std::string(last_error.message());
  }
};

using RdKafkaPtr = HandlePtr;

// Rejected credentials or missing rights.
bool IsAuthError(rd_kafka_resp_err_t err);
// The absl code for a librdkafka error.
absl::StatusCode CodeFor(rd_kafka_resp_err_t err);
// "<context>: <librdkafka's text> (<error name>)" with CodeFor's code.
absl::Status ErrStatus(rd_kafka_resp_err_t err, absl::string_view context);
// A duration as librdkafka's int milliseconds, clamped to [0, 24 h].
int ToMillis(absl::Duration d);
// Records a fatal error (the first wins); later calls fail with it.
void SetFatal(ClientState* state, absl::Status status);

// The client's fatal error (rd_kafka_fatal_error) as a Status; IsFenced
// when a newer transactional producer fenced this one.
absl::Status FatalErrorStatus(rd_kafka_t* rk, const std::string& role,
                              const std::string& brokers);
std::vector<TopicPartitionOffset> ToVector(const rd_kafka_topic_partition_list_t* list);
// "topic[p],topic[q]" for messages.
std::string Describe(const rd_kafka_topic_partition_list_t* list);

// Creates an rd_kafka_t from `config` plus `extra` properties (which win),
// with the error, log, delivery (producers), rebalance (when
// state->rebalance_listener is set) and statistics (when
// state->on_statistics is set) callbacks writing into *state, which must
// outlive the client.
absl::StatusOr<RdKafkaPtr> NewClient(
    rd_kafka_type_t type, const KafkaConfig& config,
    const std::vector<std::pair<std::string, std::string>>& extra, ClientState* state);

}  // namespace pv::kafka::internal

#endif  // PV_KAFKA_CLIENT_INTERNAL_H_
