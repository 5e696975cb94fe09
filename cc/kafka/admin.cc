// Admin: topics and watermarks.
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
  const std::string what = absl::StrCat("topic ", topic, " exists, but");
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

absl::StatusOr<std::string> Admin::ClusterId(absl::Duration timeout) {
  char* id = rd_kafka_clusterid(rk_.get(), ToMillis(timeout));
  rd_kafka_poll(rk_.get(), 0);
  PV_RETURN_IF_ERROR(state_->Fatal(), "cluster id");
  if (id == nullptr) {
    return absl::DeadlineExceededError(absl::StrCat(
        "cluster id: no answer from brokers ", state_->brokers, " within ",
        absl::FormatDuration(timeout), "; last error: ", state_->LastError()));
  }
  std::string out = id;
  rd_kafka_mem_free(rk_.get(), id);
  return out;
}

}  // namespace pv::kafka
