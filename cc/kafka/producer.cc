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
  p->state_->on_statistics = options.on_statistics;
  p->state_->statistics_interval = options.statistics_interval;
  std::vector<std::pair<std::string, std::string>> extra = {
      {"enable.idempotence", options.idempotence ? "true" : "false"},
      {"acks", options.acks},
      {"message.timeout.ms", absl::StrCat(std::max(1, ToMillis(options.message_timeout)))}};
  if (!options.transactional_id.empty()) {
    const int txn_ms = std::max(1000, ToMillis(options.transaction_timeout));
    extra = {{"transactional.id", options.transactional_id},
             {"enable.idempotence", "true"},
             {"acks", "all"},
             {"transaction.timeout.ms", absl::StrCat(txn_ms)},
             {"message.timeout.ms",
              absl::StrCat(std::min(txn_ms, std::max(1, ToMillis(options.message_timeout))))}};
  }
  PV_ASSIGN_OR_RETURN(p->rk_, NewClient(RD_KAFKA_PRODUCER, config, extra, p->state_.get()));
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
                               const std::vector<Header>& headers, uint64_t tag,
                               int64_t timestamp_ms) {
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
          RD_KAFKA_V_TIMESTAMP(std::max<int64_t>(0, timestamp_ms)), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_END);
    } else {
      err = rd_kafka_producev(
          rk_.get(), RD_KAFKA_V_TOPIC(topic_name.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(msg_opaque),
          RD_KAFKA_V_KEY(key_ptr, key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_TIMESTAMP(std::max<int64_t>(0, timestamp_ms)), RD_KAFKA_V_END);
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
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      // The error callback may not have run yet: ask the client itself.
      SetFatal(state_.get(),
               internal::FatalErrorStatus(rk_.get(), state_->role, state_->brokers));
      return state_->Fatal();
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

namespace {

// The Status of a transactional API error; destroys `error`. Fencing reads
// "fenced: ..." (kFailedPrecondition).
absl::Status TxnStatus(rd_kafka_error_t* error, const std::string& what) {
  const rd_kafka_resp_err_t code = rd_kafka_error_code(error);
  const std::string text = rd_kafka_error_string(error);
  absl::Status status;
  if (code == RD_KAFKA_RESP_ERR__FENCED || code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED ||
      code == RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH) {
    status = FencedError(absl::StrCat(
        "fenced: ", what, ": another producer with this transactional.id took over, or the "
        "brokers timed this transaction out (", text, ")"));
  } else {
    status = absl::Status(IsAuthError(code) ? CodeFor(code) : absl::StatusCode::kInternal,
                          absl::StrCat(what, ": ", text, " (", rd_kafka_err2name(code), ")"));
  }
  rd_kafka_error_destroy(error);
  return status;
}

}  // namespace

absl::Status Producer::InitTransactions(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string what = absl::StrCat("init transactions (transactional.id ",
                                        options_.transactional_id, ", brokers ",
                                        state_->brokers, ")");
  for (;;) {
    const absl::Duration left = std::max(deadline - absl::Now(), absl::Milliseconds(100));
    rd_kafka_error_t* error = rd_kafka_init_transactions(rk_.get(), ToMillis(left));
    if (error == nullptr) return absl::OkStatus();
    if (!rd_kafka_error_is_retriable(error) || absl::Now() >= deadline) {
      return TxnStatus(error, what);
    }
    rd_kafka_error_destroy(error);
    PV_RETURN_IF_ERROR(state_->Fatal(), what);
  }
}

absl::Status Producer::BeginTransaction() {
  rd_kafka_error_t* error = rd_kafka_begin_transaction(rk_.get());
  if (error == nullptr) return absl::OkStatus();
  return TxnStatus(error, "begin transaction");
}

// Commit and abort wait up to the transaction's remaining timeout per try;
// retriable errors (a coordinator moving) are retried a few times.
constexpr int kTxnTries = 5;

absl::Status Producer::AbortTransaction() {
  for (int attempt = 1;; ++attempt) {
    rd_kafka_error_t* error = rd_kafka_abort_transaction(rk_.get(), -1);
    if (error == nullptr) return absl::OkStatus();
    if (!rd_kafka_error_is_retriable(error) || attempt == kTxnTries) {
      return TxnStatus(error, "abort transaction");
    }
    rd_kafka_error_destroy(error);
  }
}

absl::Status Producer::CommitTransaction() {
  for (int attempt = 1;; ++attempt) {
    rd_kafka_error_t* error = rd_kafka_commit_transaction(rk_.get(), -1);
    if (error == nullptr) return absl::OkStatus();
    if (rd_kafka_error_is_fatal(error)) return TxnStatus(error, "commit transaction");
    if (rd_kafka_error_is_retriable(error) && attempt < kTxnTries) {
      rd_kafka_error_destroy(error);
      continue;
    }
    if (!rd_kafka_error_txn_requires_abort(error)) return TxnStatus(error, "commit transaction");
    const std::string why = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    PV_RETURN_IF_ERROR(AbortTransaction(), "after a failed commit (", why, ")");
    return absl::AbortedError(absl::StrCat("transaction aborted: it could not commit (", why,
                                           "); nothing of it is visible"));
  }
}

int64_t Producer::delivered() const { return state_->delivered.load(); }
int64_t Producer::failed() const { return state_->failed.load(); }
int64_t Producer::errors() const { return state_->errors.load(std::memory_order_relaxed); }

}  // namespace pv::kafka
