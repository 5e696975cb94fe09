// Producer: produce, flush, delivery reports.
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

void Producer::Poll(absl::Duration timeout) { rd_kafka_poll(rk_.get(), ToMillis(timeout)); }

int64_t Producer::delivered() const { return state_->delivered.load(); }
int64_t Producer::failed() const { return state_->failed.load(); }

}  // namespace pv::kafka
