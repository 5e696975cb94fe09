#include "cc/kafka/client_internal.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"

namespace pv::kafka::internal {

void HandleDeleter::operator()(rd_kafka_s* rk) const { rd_kafka_destroy(rk); }

}  // namespace pv::kafka::internal

namespace pv::kafka {
std::string LibraryVersion() { return rd_kafka_version_str(); }
}  // namespace pv::kafka

namespace pv::kafka::internal {

namespace {

void ErrorCallback(rd_kafka_t* rk, int err_int, const char* reason, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  const auto err = static_cast<rd_kafka_resp_err_t>(err_int);
  state->errors.fetch_add(1, std::memory_order_relaxed);
  absl::MutexLock lock(&state->mu);
  if (IsAuthError(err)) {
    if (state->fatal.ok()) {
      state->fatal = absl::Status(
          CodeFor(err), absl::StrCat("Kafka ", state->role, " (brokers ", state->brokers,
                                     "): authentication failed: ", reason));
    }
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    if (state->fatal.ok()) state->fatal = FatalErrorStatus(rk, state->role, state->brokers);
    return;
  }
  state->last_error =
      absl::Status(CodeFor(err), absl::StrCat(rd_kafka_err2name(err), ": ", reason));
  // A broker going away is routine in fault tests; still worth a line.
  PV_LOG(WARNING) << "kafka " << state->role << ": " << rd_kafka_err2name(err)
                  << ": " << reason;
}

void LogCallback(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // syslog levels: 0..3 error, 4 warning, 5..6 info, 7 debug.
  if (level <= 3) {
    PV_LOG(ERROR) << "rdkafka " << fac << ": " << buf;
  } else if (level == 4) {
    PV_LOG(WARNING) << "rdkafka " << fac << ": " << buf;
  } else if (level <= 6) {
    PV_LOG(INFO) << "rdkafka " << fac << ": " << buf;
  } else {
    PV_LOG(DEBUG) << "rdkafka " << fac << ": " << buf;
  }
}

void DeliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    state->delivered.fetch_add(1, std::memory_order_relaxed);
    if (state->on_delivery) {
      DeliveryReport report;
      report.partition = m->partition;
      report.offset = m->offset;
      report.tag = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
      state->on_delivery(report);
    }
    return;
  }
  state->failed.fetch_add(1, std::memory_order_relaxed);
  const absl::Status error = ErrStatus(
      m->err, absl::StrCat("delivery to topic ", rd_kafka_topic_name(m->rkt), " partition ",
                           m->partition, " (brokers ", state->brokers, ") failed"));
  {
    absl::MutexLock lock(&state->mu);
    if (state->delivery_errors++ == 0) state->first_delivery_error = error;
  }
  if (state->on_delivery) {
    DeliveryReport report;
    report.partition = m->partition;
    report.tag = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m->_private));
    report.status = error;
    state->on_delivery(report);
  }
}

// Returning 0: librdkafka frees the JSON after the call.
int StatisticsCallback(rd_kafka_t* rk, char* json, size_t json_len, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  if (state->on_statistics) state->on_statistics(absl::string_view(json, json_len));
  return 0;
}

void ApplyAssignment(rd_kafka_t* rk, ClientState* state, bool cooperative, bool assign,
                     rd_kafka_topic_partition_list_t* parts) {
  if (cooperative) {
    rd_kafka_error_t* error = assign ? rd_kafka_incremental_assign(rk, parts)
                                     : rd_kafka_incremental_unassign(rk, parts);
    if (error != nullptr) {
      SetFatal(state, absl::InternalError(absl::StrCat(
                          "Kafka ", state->role, ": incremental ",
                          assign ? "assign" : "unassign", " of ", Describe(parts), ": ",
                          rd_kafka_error_string(error))));
      rd_kafka_error_destroy(error);
    }
    return;
  }
  const rd_kafka_resp_err_t err = rd_kafka_assign(rk, assign ? parts : nullptr);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    SetFatal(state, ErrStatus(err, absl::StrCat("Kafka ", state->role, ": ",
                                                assign ? "assign " : "unassign ",
                                                Describe(parts))));
  }
}

void RebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  RebalanceListener* listener = state->rebalance_listener;
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  std::vector<TopicPartitionOffset> list = ToVector(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (TopicPartitionOffset& tp : list) tp.offset = kOffsetStored;
    absl::Status status = state->Fatal();
    if (status.ok()) status = listener->OnAssign(&list);
    if (status.ok() && list.size() != static_cast<size_t>(parts->cnt)) {
      status = absl::InternalError("rebalance listener changed the partition list");
    }
    if (!status.ok()) {
      SetFatal(state, pv::Annotate(status, absl::StrCat("assigning ", Describe(parts))));
      if (!cooperative) rd_kafka_assign(rk, nullptr);
      return;
    }
    for (int i = 0; i < parts->cnt; ++i) parts->elems[i].offset = list[i].offset;
    ApplyAssignment(rk, state, cooperative, /*assign=*/true, parts);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    const bool lost = rd_kafka_assignment_lost(rk) != 0;
    absl::Status status = listener->OnRevoke(list, lost);
    if (!status.ok()) {
      SetFatal(state, pv::Annotate(status, absl::StrCat("revoking ", Describe(parts))));
    }
    ApplyAssignment(rk, state, cooperative, /*assign=*/false, parts);
    return;
  }
  SetFatal(state, ErrStatus(err, absl::StrCat("Kafka ", state->role, ": rebalance")));
  if (!cooperative) rd_kafka_assign(rk, nullptr);
}

}  // namespace

bool IsAuthError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
}

absl::StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return absl::StatusCode::kUnauthenticated;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return absl::StatusCode::kPermissionDenied;
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
      return absl::StatusCode::kDeadlineExceeded;
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return absl::StatusCode::kNotFound;
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return absl::StatusCode::kAlreadyExists;
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
      return absl::StatusCode::kInvalidArgument;
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::StatusCode::kUnavailable;
    default:
      return absl::StatusCode::kInternal;
  }
}

absl::Status ErrStatus(rd_kafka_resp_err_t err, absl::string_view context) {
  return absl::Status(CodeFor(err), absl::StrCat(context, ": ", rd_kafka_err2str(err),
                                                 " (", rd_kafka_err2name(err), ")"));
}

int ToMillis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 24 * 3600 * 1000));
}

std::vector<TopicPartitionOffset> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartitionOffset> out;
  out.reserve(list->cnt);
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition, list->elems[i].offset});
  }
  return out;
}

std::string Describe(const rd_kafka_topic_partition_list_t* list) {
  std::vector<std::string> parts;
  for (int i = 0; i < list->cnt; ++i) {
    parts.push_back(absl::StrCat(list->elems[i].topic, "[", list->elems[i].partition, "]"));
  }
  return absl::StrJoin(parts, ",");
}

// A listener failure (or an assign that librdkafka refuses) stops the
// consumer: without the listener's work the offsets cannot be trusted.
absl::Status FatalErrorStatus(rd_kafka_t* rk, const std::string& role,
                              const std::string& brokers) {
  char buf[512] = {0};
  const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
  const bool fenced = orig == RD_KAFKA_RESP_ERR__FENCED ||
                      orig == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
                      orig == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH;
  if (fenced) {
    // Reads as Producer::CommitTransaction's fencing (see kafka.h).
    return FencedError(absl::StrCat("fenced: Kafka ", role, " (brokers ", brokers,
                                    "): another producer with this transactional.id took "
                                    "over (", rd_kafka_err2name(orig), ": ", buf, ")"));
  }
  return absl::InternalError(absl::StrCat("Kafka ", role, " (brokers ", brokers,
                                          "): fatal error ", rd_kafka_err2name(orig), ": ", buf));
}

void SetFatal(ClientState* state, absl::Status status) {
  absl::MutexLock lock(&state->mu);
  if (state->fatal.ok()) state->fatal = std::move(status);
}

// Creates an rd_kafka_t from `config` plus `extra` properties (which win).
absl::StatusOr<RdKafkaPtr> NewClient(
    rd_kafka_type_t type, const KafkaConfig& config,
    const std::vector<std::pair<std::string, std::string>>& extra, ClientState* state) {
  if (config.brokers().empty()) {
    return absl::InvalidArgumentError("Kafka config has no bootstrap.servers");
  }
  state->brokers = config.brokers();
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      // librdkafka's message may quote the value: hide it for secrets.
      return absl::InvalidArgumentError(absl::StrCat(
          "Kafka property ", key, ": ",
          pv::IsSecretKey(key) ? "invalid value (not shown)" : errstr));
    }
    return absl::OkStatus();
  };
  if (state->on_statistics) {
    // Before the configuration's properties, so that -X statistics.interval.ms wins.
    absl::Status s = set("statistics.interval.ms",
                         absl::StrCat(std::max(1, ToMillis(state->statistics_interval))));
    if (!s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
    rd_kafka_conf_set_stats_cb(conf, StatisticsCallback);
  }
  for (const auto* props : {&config.properties(), &extra}) {
    for (const auto& [key, value] : *props) {
      absl::Status s = set(key, value);
      if (!s.ok()) {
        rd_kafka_conf_destroy(conf);
        return s;
      }
    }
  }
  rd_kafka_conf_set_opaque(conf, state);
  rd_kafka_conf_set_error_cb(conf, ErrorCallback);
  rd_kafka_conf_set_log_cb(conf, LogCallback);
  if (type == RD_KAFKA_PRODUCER) rd_kafka_conf_set_dr_msg_cb(conf, DeliveryCallback);
  if (state->rebalance_listener != nullptr) {
    rd_kafka_conf_set_rebalance_cb(conf, RebalanceCallback);
  }

  rd_kafka_t* rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(
        absl::StrCat("creating Kafka ", state->role, " (brokers ", state->brokers,
                     "): ", errstr));
  }
  return RdKafkaPtr(rk);
}

}  // namespace pv::kafka::internal
