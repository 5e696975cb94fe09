#include "cc/kafka/kafka.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"

namespace pv::kafka {
namespace internal {

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

void RdKafkaDeleter::operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }

}  // namespace internal

namespace {

using internal::ClientState;
using internal::RdKafkaPtr;

bool IsAuthError(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
         err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED ||
         err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

absl::StatusCode CodeFor(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
      return absl::StatusCode::kUnauthenticated;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
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

void ErrorCallback(rd_kafka_t* rk, int err_int, const char* reason, void* opaque) {
  auto* state = static_cast<ClientState*>(opaque);
  const auto err = static_cast<rd_kafka_resp_err_t>(err_int);
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
    char buf[512] = {0};
    const rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, buf, sizeof(buf));
    if (state->fatal.ok()) {
      state->fatal = absl::InternalError(
          absl::StrCat("Kafka ", state->role, " (brokers ", state->brokers,
                       "): fatal error ", rd_kafka_err2name(orig), ": ", buf));
    }
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
void SetFatal(ClientState* state, absl::Status status) {
  absl::MutexLock lock(&state->mu);
  if (state->fatal.ok()) state->fatal = std::move(status);
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
          KafkaConfig::IsSecretKey(key) ? "invalid value (not shown)" : errstr));
    }
    return absl::OkStatus();
  };
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

}  // namespace

// ---------------------------------------------------------------------------
// KafkaConfig

KafkaConfig& KafkaConfig::Set(absl::string_view key, absl::string_view value) {
  for (auto& [k, v] : properties_) {
    if (k == key) {
      v = std::string(value);
      return *this;
    }
  }
  properties_.emplace_back(std::string(key), std::string(value));
  return *this;
}

KafkaConfig& KafkaConfig::SetBrokers(absl::string_view brokers) {
  return Set("bootstrap.servers", brokers);
}

KafkaConfig& KafkaConfig::SetSecurityProtocol(absl::string_view protocol) {
  return Set("security.protocol", protocol);
}

KafkaConfig& KafkaConfig::SetSasl(absl::string_view mechanism, absl::string_view user,
                                  absl::string_view password) {
  if (Get("security.protocol").empty()) SetSecurityProtocol("SASL_PLAINTEXT");
  Set("sasl.mechanisms", mechanism);
  Set("sasl.username", user);
  return Set("sasl.password", password);
}

absl::Status KafkaConfig::SetFromAssignment(absl::string_view key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    // Do not echo the text: it may be a secret missing its key.
    return absl::InvalidArgumentError("Kafka property must be key=value");
  }
  Set(absl::StripAsciiWhitespace(key_equals_value.substr(0, eq)),
      key_equals_value.substr(eq + 1));
  return absl::OkStatus();
}

std::string KafkaConfig::Get(absl::string_view key) const {
  for (const auto& [k, v] : properties_) {
    if (k == key) return v;
  }
  return "";
}

bool KafkaConfig::IsSecretKey(absl::string_view key) {
  const std::string k = absl::AsciiStrToLower(key);
  return absl::StrContains(k, "password") || absl::StrContains(k, "secret") ||
         absl::StrContains(k, "jaas") || absl::StrContains(k, "oauthbearer.config") ||
         absl::StrContains(k, "key.pem") || k == "ssl_key" || absl::StrContains(k, "token");
}

std::string KafkaConfig::DebugString() const {
  std::vector<std::string> parts;
  parts.reserve(properties_.size());
  for (const auto& [k, v] : properties_) {
    parts.push_back(absl::StrCat(k, "=", IsSecretKey(k) ? "***" : v));
  }
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<KafkaConfig> KafkaConfig::FromEnv(absl::string_view prefix) {
  auto env = [&](absl::string_view suffix) -> std::string {
    const std::string name = absl::StrCat(prefix, "_", suffix);
    const char* v = std::getenv(name.c_str());
    return v == nullptr ? "" : v;
  };
  KafkaConfig config;
  const std::string brokers = env("BROKERS");
  if (brokers.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(prefix, "_BROKERS is not set (start the services with "
                             "tools/services/all.sh start and eval its env)"));
  }
  config.SetBrokers(brokers);
  if (const std::string p = env("SECURITY_PROTOCOL"); !p.empty()) {
    config.SetSecurityProtocol(p);
  }
  const std::string user = env("USER");
  const std::string password = env("PASSWORD");
  if (!user.empty() || !password.empty()) {
    if (user.empty() || password.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("set both ", prefix, "_USER and ", prefix, "_PASSWORD, or neither"));
    }
    std::string mechanism = env("SASL_MECHANISM");
    config.SetSasl(mechanism.empty() ? "PLAIN" : mechanism, user, password);
  }
  return config;
}

// ---------------------------------------------------------------------------
// Producer

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaConfig& config,
                                                           const ProducerOptions& options) {
  std::unique_ptr<Producer> p(new Producer());
  p->options_ = options;
  p->state_ = std::make_unique<ClientState>();
  p->state_->role = "producer";
  p->state_->on_delivery = options.on_delivery;
  PV_ASSIGN_OR_RETURN(
      p->rk_, NewClient(RD_KAFKA_PRODUCER, config,
                        {{"enable.idempotence", options.idempotence ? "true" : "false"},
                         {"acks", options.acks},
                         {"message.timeout.ms",
                          absl::StrCat(std::max(1, ToMillis(options.message_timeout)))}},
                        p->state_.get()));
  return p;
}

Producer::~Producer() {
  if (rk_ != nullptr) {
    if (rd_kafka_flush(rk_.get(), ToMillis(options_.close_timeout)) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      PV_LOG(WARNING) << "kafka producer closing with " << rd_kafka_outq_len(rk_.get())
                      << " messages not acknowledged";
    }
    rk_.reset();  // before state_, which the callbacks use
  }
}

absl::Status Producer::Produce(absl::string_view topic, int32_t partition,
                               absl::string_view key, absl::string_view value,
                               const std::vector<Header>& headers, uint64_t tag) {
  PV_RETURN_IF_ERROR(state_->Fatal());
  void* const msg_opaque = reinterpret_cast<void*>(static_cast<uintptr_t>(tag));
  const std::string topic_name(topic);
  const absl::Time deadline = absl::Now() + options_.queue_full_timeout;
  // librdkafka treats a null key as "no key"; an empty view means no key.
  const void* key_ptr = key.empty() ? nullptr : key.data();
  for (;;) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const Header& h : headers) {
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()),
                            h.value.data(), static_cast<ssize_t>(h.value.size()));
      }
    }
    rd_kafka_resp_err_t err;
    if (hdrs != nullptr) {
      err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(msg_opaque),
          RD_KAFKA_V_KEY(key_ptr, key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    } else {
      err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(msg_opaque),
          RD_KAFKA_V_KEY(key_ptr, key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk_.get(), 0);  // serve delivery reports
      return absl::OkStatus();
    }
    // On failure the headers still belong to us.
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && absl::Now() < deadline) {
      rd_kafka_poll(rk_.get(), 100);
      PV_RETURN_IF_ERROR(state_->Fatal());
      continue;
    }
    return ErrStatus(err, absl::StrCat("produce to topic ", topic, " partition ",
                                       partition == kAnyPartition ? std::string("any")
                                                                  : absl::StrCat(partition)));
  }
}

absl::Status Producer::Flush(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    // Serve callbacks in short slices so a rejected login ends the wait.
    const absl::Duration left = deadline - absl::Now();
    rd_kafka_flush(rk_.get(), std::max(0, ToMillis(std::min(left, absl::Milliseconds(200)))));
    absl::Status fatal = state_->Fatal();
    if (!fatal.ok()) {
      return pv::Annotate(fatal, absl::StrCat(rd_kafka_outq_len(rk_.get()),
                                              " messages not delivered"));
    }
    if (rd_kafka_outq_len(rk_.get()) == 0 || absl::Now() >= deadline) break;
  }
  {
    absl::MutexLock lock(&state_->mu);
    if (state_->delivery_errors > 0) {
      absl::Status first = state_->first_delivery_error;
      const int64_t n = state_->delivery_errors;
      state_->delivery_errors = 0;
      state_->first_delivery_error = absl::OkStatus();
      return pv::Annotate(first, absl::StrCat(n, " messages failed; first"));
    }
  }
  const int in_flight = rd_kafka_outq_len(rk_.get());
  if (in_flight > 0) {
    return absl::DeadlineExceededError(absl::StrCat(
        "Kafka producer (brokers ", state_->brokers, "): ", in_flight,
        " messages/requests not acknowledged after ", absl::FormatDuration(timeout),
        "; last error: ", state_->LastError()));
  }
  return absl::OkStatus();
}

int64_t Producer::delivered() const { return state_->delivered.load(); }
int64_t Producer::failed() const { return state_->failed.load(); }

// ---------------------------------------------------------------------------
// Message

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
  if (options.group_id.empty()) {
    return absl::InvalidArgumentError("Kafka consumer needs a group id");
  }
  std::unique_ptr<Consumer> c(new Consumer());
  c->group_id_ = options.group_id;
  c->state_ = std::make_unique<ClientState>();
  c->state_->role = absl::StrCat("consumer (group ", options.group_id, ")");
  c->state_->rebalance_listener = options.rebalance_listener;
  PV_ASSIGN_OR_RETURN(c->rk_,
                      NewClient(RD_KAFKA_CONSUMER, config,
                                {{"group.id", options.group_id},
                                 {"enable.auto.commit", "false"},
                                 {"enable.auto.offset.store", "false"},
                                 {"auto.offset.reset", options.auto_offset_reset}},
                                c->state_.get()));
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

// ---------------------------------------------------------------------------
// Admin

namespace {

struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

// Waits for the admin result on `queue`, serving the client's own callbacks
// meanwhile so that rejected credentials end the wait early.
absl::StatusOr<EventPtr> AwaitAdminResult(rd_kafka_t* rk, ClientState* state,
                                          rd_kafka_queue_t* queue, absl::Duration timeout,
                                          absl::string_view what) {
  const absl::Time deadline = absl::Now() + timeout + absl::Seconds(1);
  for (;;) {
    rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, 100);
    if (ev != nullptr) return EventPtr(ev);
    rd_kafka_poll(rk, 0);
    absl::Status fatal = state->Fatal();
    if (!fatal.ok()) return pv::Annotate(fatal, what);
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat(what, ": no answer from brokers ", state->brokers, " within ",
                       absl::FormatDuration(timeout), "; last error: ", state->LastError()));
    }
  }
}

std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> NewAdminOptions(
    rd_kafka_t* rk, rd_kafka_admin_op_t op, absl::Duration timeout) {
  std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter> opts(
      rd_kafka_AdminOptions_new(rk, op));
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), ToMillis(timeout), errstr,
                                            sizeof(errstr));
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), ToMillis(timeout), errstr,
                                              sizeof(errstr));
  return opts;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Admin>> Admin::Create(const KafkaConfig& config) {
  std::unique_ptr<Admin> a(new Admin());
  a->config_ = config;
  a->state_ = std::make_unique<ClientState>();
  a->state_->role = "admin";
  // Metadata queries from this handle must never create topics.
  PV_ASSIGN_OR_RETURN(a->rk_, NewClient(RD_KAFKA_PRODUCER, config,
                                        {{"allow.auto.create.topics", "false"}},
                                        a->state_.get()));
  return a;
}

Admin::~Admin() { rk_.reset(); }

absl::Status Admin::CreateTopic(
    absl::string_view topic, int partitions, int replication_factor, absl::Duration timeout,
    const std::vector<std::pair<std::string, std::string>>& configs) {
  const std::string what = absl::StrCat("create topic ", topic, " (", partitions,
                                        " partitions, RF ", replication_factor, ")");
  char errstr[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(std::string(topic).c_str(), partitions,
                                                  replication_factor, errstr, sizeof(errstr));
  if (nt == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": ", errstr));
  for (const auto& [k, v] : configs) {
    const rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_NewTopic_destroy(nt);
      return ErrStatus(err, absl::StrCat(what, ": config ", k));
    }
  }
  auto opts = NewAdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_CreateTopics(rk_.get(), &nt, 1, opts.get(), queue.get());
  rd_kafka_NewTopic_destroy(nt);
  PV_ASSIGN_OR_RETURN(EventPtr ev,
                      AwaitAdminResult(rk_.get(), state_.get(), queue.get(), timeout, what));
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::Status(CodeFor(rd_kafka_event_error(ev.get())),
                        absl::StrCat(what, ": ", rd_kafka_event_error_string(ev.get())));
  }
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev.get());
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* msg = rd_kafka_topic_result_error_string(results[i]);
      return absl::Status(CodeFor(err), absl::StrCat(what, ": ", rd_kafka_err2name(err), ": ",
                                                     msg ? msg : ""));
    }
  }
  return AwaitTopicOnEveryBroker(topic, absl::Now() + timeout);
}

namespace {

// Whether the metadata of the broker at `address` lists `topic`. A fresh
// client knows only its bootstrap broker, so its first metadata request goes
// exactly there.
absl::StatusOr<bool> BrokerListsTopic(const KafkaConfig& base, const std::string& address,
                                      absl::string_view topic, absl::Duration timeout) {
  KafkaConfig config = base;
  config.SetBrokers(address);
  ClientState state;
  state.role = "admin";
  PV_ASSIGN_OR_RETURN(RdKafkaPtr rk, NewClient(RD_KAFKA_PRODUCER, config,
                                               {{"allow.auto.create.topics", "false"}}, &state));
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk.get(), /*all_topics=*/1, nullptr, &md, ToMillis(timeout));
  rd_kafka_poll(rk.get(), 0);
  PV_RETURN_IF_ERROR(state.Fatal());
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("metadata from broker ", address));
  }
  bool found = false;
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topics[i].partition_cnt > 0) {
      found = true;
    }
  }
  rd_kafka_metadata_destroy(md);
  return found;
}

}  // namespace

absl::Status Admin::AwaitTopicOnEveryBroker(absl::string_view topic, absl::Time deadline) {
  const std::string what = absl::StrCat("topic ", topic, " created, but");
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(
      rk_.get(), /*all_topics=*/0, nullptr, &md,
      std::max(1, ToMillis(deadline - absl::Now())));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat(what, " listing brokers failed"));
  }
  std::vector<std::string> brokers;
  for (int i = 0; i < md->broker_cnt; ++i) {
    brokers.push_back(absl::StrCat(md->brokers[i].host, ":", md->brokers[i].port));
  }
  rd_kafka_metadata_destroy(md);
  for (const std::string& address : brokers) {
    for (;;) {
      const absl::Duration left = deadline - absl::Now();
      absl::StatusOr<bool> found =
          BrokerListsTopic(config_, address, topic, std::min(left, absl::Seconds(5)));
      if (found.ok() && *found) break;
      if (absl::Now() >= deadline) {
        return found.ok() ? absl::DeadlineExceededError(
                                absl::StrCat(what, " broker ", address, " does not list it yet"))
                          : pv::Annotate(found.status(), what);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  }
  return absl::OkStatus();
}

absl::Status Admin::DeleteTopic(absl::string_view topic, absl::Duration timeout) {
  const std::string what = absl::StrCat("delete topic ", topic);
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(std::string(topic).c_str());
  auto opts = NewAdminOptions(rk_.get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout);
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue(rd_kafka_queue_new(rk_.get()));
  rd_kafka_DeleteTopics(rk_.get(), &dt, 1, opts.get(), queue.get());
  rd_kafka_DeleteTopic_destroy(dt);
  PV_ASSIGN_OR_RETURN(EventPtr ev,
                      AwaitAdminResult(rk_.get(), state_.get(), queue.get(), timeout, what));
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::Status(CodeFor(rd_kafka_event_error(ev.get())),
                        absl::StrCat(what, ": ", rd_kafka_event_error_string(ev.get())));
  }
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  for (size_t i = 0; i < n; ++i) {
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return ErrStatus(err, what);
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Admin::PartitionCount(absl::string_view topic, absl::Duration timeout) {
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk_.get(), /*all_topics=*/1, nullptr, &md, ToMillis(timeout));
  rd_kafka_poll(rk_.get(), 0);
  PV_RETURN_IF_ERROR(state_->Fatal(), "metadata for topic ", topic);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return ErrStatus(err, absl::StrCat("metadata for topic ", topic, " from brokers ",
                                       state_->brokers));
  }
  absl::StatusOr<int> result = absl::NotFoundError(absl::StrCat("topic ", topic, " not found"));
  for (int i = 0; i < md->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = md->topics[i];
    if (topic == t.topic) {
      if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        result = ErrStatus(t.err, absl::StrCat("metadata for topic ", topic));
      } else {
        result = t.partition_cnt;
      }
      break;
    }
  }
  rd_kafka_metadata_destroy(md);
  return result;
}

absl::StatusOr<std::vector<PartitionWatermarks>> Admin::Watermarks(absl::string_view topic,
                                                                   absl::Duration timeout) {
  PV_ASSIGN_OR_RETURN(const int partitions, PartitionCount(topic, timeout));
  const std::string name(topic);
  std::vector<PartitionWatermarks> out;
  out.reserve(partitions);
  for (int32_t p = 0; p < partitions; ++p) {
    PartitionWatermarks w;
    w.partition = p;
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk_.get(), name.c_str(), p, &w.low, &w.high, ToMillis(timeout));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_poll(rk_.get(), 0);
      PV_RETURN_IF_ERROR(state_->Fatal(), "watermarks of topic ", topic, " partition ", p);
      return ErrStatus(err, absl::StrCat("watermarks of topic ", topic, " partition ", p));
    }
    out.push_back(w);
  }
  return out;
}

}  // namespace pv::kafka
