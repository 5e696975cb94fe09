// The exactly-once mirror (see mirror.h): records and the source offsets
// they advance to are committed in one destination transaction.
//
// Invariants:
//  - `committed[p]` is the next source offset of partition p after what
//    committed transactions hold, and equals the checkpoint the last
//    committed transaction wrote for p (or where p started);
//  - `next[p]` is the same for the open transaction: committed[p] plus what
//    the open transaction holds of p. Only a commit moves committed to next;
//    an abort moves next (and the consumer) back to committed.
#include <algorithm>
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/mirror.h"
#include "cc/ingest/mirror_internal.h"
#include "cc/ingest/stage_metrics.h"

namespace pv::ingest::internal {
namespace {

// Transactions in a row that may abort before the mirror gives up (each is
// read again; a message the destination always refuses would loop).
constexpr int kMaxAbortsInRow = 5;

// Delivery tags: the source partition in the top 20 bits, the offset below.
constexpr int kOffsetBits = 44;
uint64_t Tag(int32_t partition, int64_t offset) {
  return (static_cast<uint64_t>(partition) << kOffsetBits) |
         (static_cast<uint64_t>(offset) & ((uint64_t{1} << kOffsetBits) - 1));
}

// Watermarks of partition 0 of `topic` as `consumer` (and its isolation
// level) sees them; a topic another mirror created a moment ago may not be
// known to every broker yet.
absl::StatusOr<kafka::PartitionWatermarks> PartitionZeroMarks(kafka::Consumer& consumer,
                                                              const std::string& topic,
                                                              absl::Duration timeout) {
  const absl::Time known_by = absl::Now() + timeout;
  for (;;) {
    absl::StatusOr<kafka::PartitionWatermarks> marks =
        consumer.QueryWatermarks(topic, 0, timeout);
    if (marks.ok() || !absl::IsNotFound(marks.status()) || absl::Now() >= known_by) {
      return marks;
    }
    if (WaitForShutdownFor(absl::Milliseconds(200))) {
      return absl::CancelledError("interrupted during start-up");
    }
  }
}

// The latest checkpoint per partition of the source topic: the checkpoint
// topic read, committed records only, up to its high watermark at the
// start. Our own identity's open transaction was settled by
// InitTransactions; one of another identity (a process mirroring other
// partitions, or one that crashed before a partition list changed) holds
// the read back until it is decided, so that its checkpoints are not
// missed if it commits.
absl::StatusOr<absl::flat_hash_map<int32_t, Checkpoint>> ReadCheckpoints(
    const MirrorOptions& options, const MirrorSetup& setup) {
  const std::string& topic = options.checkpoint_topic;
  const std::string where = absl::StrCat("checkpoint topic ", topic, " (brokers ",
                                         options.destination.brokers(), ")");
  kafka::KafkaConfig config = options.destination;
  config.SetDefault("client.id", "pv-mirror");
  kafka::ConsumerOptions consumer_options;
  consumer_options.assign_only = true;
  consumer_options.auto_offset_reset = "earliest";
  consumer_options.isolation_level = "read_uncommitted";
  absl::StatusOr<kafka::PartitionWatermarks> marks;
  {
    PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> uncommitted,
                        kafka::Consumer::Create(config, consumer_options));
    marks = PartitionZeroMarks(*uncommitted, topic, options.setup_timeout);
  }
  PV_RETURN_IF_ERROR(marks.status(), where);
  const int64_t end = marks->high;
  absl::flat_hash_map<int32_t, Checkpoint> out;
  if (end <= marks->low) return out;

  consumer_options.isolation_level = "read_committed";
  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                      kafka::Consumer::Create(config, consumer_options));
  PV_RETURN_IF_ERROR(consumer->Assign({{topic, 0, kafka::kOffsetBeginning}}), where);
  const std::string prefix = absl::StrCat(setup.source_cluster_id, "/", options.source_topic, "/");
  const absl::Time started = absl::Now();
  const absl::Duration patience =
      options.setup_timeout + options.transaction_timeout + absl::Seconds(15);
  bool said_waiting = false;
  int64_t read = 0, at = marks->low;
  while (at < end) {
    if (ShutdownRequested()) return absl::CancelledError("interrupted during start-up");
    absl::StatusOr<kafka::Message> m = consumer->Poll(kPollTimeout);
    PV_RETURN_IF_ERROR(m.status(), where);
    if (m->empty()) {
      at = std::max(at, consumer->Position(topic, 0));
      const absl::Duration waited = absl::Now() - started;
      if (at < end && waited > absl::Seconds(5) && !said_waiting) {
        said_waiting = true;
        PV_LOG(INFO) << where << ": waiting at offset " << at << " of " << end
                     << " for an open transaction of another mirror to commit or abort "
                        "(at most its transaction timeout)";
      }
      if (at < end && waited > patience) {
        return absl::DeadlineExceededError(absl::StrCat(
            where, ": read ", read, " checkpoints, up to offset ", at, " of ", end, "; a "
            "transaction of another mirror has held the rest back for ",
            absl::FormatDuration(waited), ". Is a process with another --transactional-id "
            "stuck? Start it again (which settles its transaction) or stop it."));
      }
      continue;
    }
    ++read;
    at = std::max(at, m->offset() + 1);
    // "<cluster>/<topic>/" then "<partition>/<destination topic>".
    absl::string_view key = m->key();
    int32_t partition = -1;
    const bool ours = absl::ConsumePrefix(&key, prefix) && key.find('/') != key.npos &&
                      key.substr(key.find('/') + 1) == options.destination_topic &&
                      absl::SimpleAtoi(key.substr(0, key.find('/')), &partition) &&
                      partition >= 0;
    if (ours) {
      if (m->value().empty()) {
        out.erase(partition);  // a tombstone: start that partition over
      } else {
        absl::StatusOr<Checkpoint> c = ParseCheckpoint(m->value());
        PV_RETURN_IF_ERROR(c.status(), where, " offset ", m->offset(), " key ", m->key());
        out[partition] = *c;
      }
    }
  }
  return out;
}

std::string Offsets(const absl::flat_hash_map<int32_t, int64_t>& offsets) {
  std::vector<std::pair<int32_t, int64_t>> sorted(offsets.begin(), offsets.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::string> parts;
  for (const auto& [p, o] : sorted) parts.push_back(absl::StrCat("p", p, "@", o));
  return absl::StrJoin(parts, " ");
}

}  // namespace

absl::Status RunExactlyOnce(const MirrorOptions& options, const MirrorSetup& setup,
                            MirrorSummary* summary) {
  const std::string& src_topic = options.source_topic;
  const std::string& dst_topic = options.destination_topic;
  const std::string& src_where = setup.src_where;
  const std::string& dst_where = setup.dst_where;
  const std::string txn_id = options.transactional_id.empty() ? DefaultTransactionalId(options)
                                                               : options.transactional_id;
  std::set<int32_t> partitions(options.source_partitions.begin(),
                               options.source_partitions.end());
  if (partitions.empty()) {
    for (int32_t p = 0; p < summary->source_partitions; ++p) partitions.insert(p);
  }

  // Declared before the producer, whose delivery reports use it.
  absl::Status delivery_error;  // first failure in the open transaction
  kafka::ProducerOptions producer_options;
  producer_options.transactional_id = txn_id;
  producer_options.transaction_timeout = options.transaction_timeout;
  producer_options.message_timeout = options.message_timeout;
  producer_options.queue_full_timeout = options.message_timeout;
  producer_options.close_timeout = absl::Seconds(5);
  producer_options.on_delivery = [&](const kafka::DeliveryReport& report) {
    if (report.status.ok() || !delivery_error.ok()) return;
    const int32_t p = static_cast<int32_t>(report.tag >> kOffsetBits);
    const int64_t o = static_cast<int64_t>(report.tag & ((uint64_t{1} << kOffsetBits) - 1));
    delivery_error =
        pv::Annotate(report.status, absl::StrCat("message from ", src_where, " partition ", p,
                                                 " offset ", o, " -> ", dst_where));
  };
  MirrorMetrics* const metrics = options.metrics;
  kafka::ConsumerOptions consumer_options;
  consumer_options.assign_only = true;
  consumer_options.isolation_level = "read_committed";
  consumer_options.auto_offset_reset = "earliest";
  FeedStatistics(metrics, &producer_options, &consumer_options);
  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                      kafka::Producer::Create(setup.destination, producer_options));
  // Fences any older process with this identity; its open transaction is
  // aborted (or, if it was committing, completed) before this returns.
  PV_RETURN_IF_ERROR(producer->InitTransactions(options.setup_timeout), dst_where);

  PV_ASSIGN_OR_RETURN(auto checkpoints, ReadCheckpoints(options, setup));

  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                      kafka::Consumer::Create(setup.source, consumer_options));

  // Partitions without a checkpoint start at the beginning, or with
  // resume_from_group where the at-least-once mode's group committed.
  absl::flat_hash_map<int32_t, int64_t> group_offsets;
  if (options.resume_from_group) {
    std::vector<int32_t> without;
    for (int32_t p : partitions) {
      if (!checkpoints.contains(p)) without.push_back(p);
    }
    if (!without.empty()) {
      kafka::ConsumerOptions group_options;
      group_options.group_id = options.group_id;
      PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> group,
                          kafka::Consumer::Create(setup.source, group_options));
      absl::StatusOr<std::vector<int64_t>> offsets =
          group->Committed(src_topic, without, options.setup_timeout);
      PV_RETURN_IF_ERROR(offsets.status(), src_where, ": offsets of group ", options.group_id);
      for (size_t i = 0; i < without.size(); ++i) {
        if ((*offsets)[i] >= 0) group_offsets[without[i]] = (*offsets)[i];
      }
      (void)group->Close();
    }
  }

  // Where each partition starts: its checkpoint, else the beginning.
  absl::flat_hash_map<int32_t, int64_t> committed;
  std::vector<std::string> from_where;
  for (int32_t p : partitions) {
    absl::StatusOr<kafka::PartitionWatermarks> marks =
        consumer->QueryWatermarks(src_topic, p, options.setup_timeout);
    PV_RETURN_IF_ERROR(marks.status(), src_where, " partition ", p);
    const kafka::PartitionWatermarks w = *marks;
    auto it = checkpoints.find(p);
    int64_t start = w.low;
    const char* from = " (start)";
    if (auto g = group_offsets.find(p); g != group_offsets.end()) {
      start = std::clamp(g->second, w.low, w.high);
      from = " (group)";
    }
    if (it != checkpoints.end()) {
      from = " (checkpoint)";
      start = it->second.next_offset;
      if (start > w.high) {
        return absl::FailedPreconditionError(absl::StrCat(
            src_where, " partition ", p, ": the checkpoint (written by ", it->second.mirror_id,
            ") says offset ", start, " is next, but the partition ends at ", w.high,
            ": was the topic deleted and created again? Mirror it with a new "
            "--checkpoint-topic, or delete the checkpoint key ",
            CheckpointKey(setup.source_cluster_id, src_topic, p, dst_topic)));
      }
      if (start < w.low) {
        PV_LOG(WARNING) << src_where << " partition " << p << ": offsets " << start << ".."
                        << w.low - 1
                        << " were deleted by the source's retention before they were "
                           "mirrored; continuing at "
                        << w.low;
        start = w.low;
      }
    }
    committed[p] = start;
    summary->resumed_from[p] = start;
    if (metrics != nullptr) metrics->OnCommitted(src_topic, p, start);
    from_where.push_back(absl::StrCat("p", p, "@", start, from));
  }
  std::vector<kafka::TopicPartitionOffset> assignment;
  auto assign_at = [&](const absl::flat_hash_map<int32_t, int64_t>& offsets) {
    assignment.clear();
    for (int32_t p : partitions) assignment.push_back({src_topic, p, offsets.at(p)});
    return pv::Annotate(consumer->Assign(assignment), src_where);
  };
  PV_RETURN_IF_ERROR(assign_at(committed));
  PV_LOG(INFO) << "mirroring " << src_where << " -> " << dst_where
               << ", exactly-once as transactional.id " << txn_id << " (checkpoints in "
               << options.checkpoint_topic << "); resuming at " << absl::StrJoin(from_where, " ");

  absl::flat_hash_map<int32_t, int64_t> next = committed;
  bool open = false;
  absl::Time commit_at = absl::InfiniteFuture();
  uint64_t txn_messages = 0;
  uint64_t txn_bytes = 0;
  int aborts_in_row = 0;

  // Commits the open transaction with a checkpoint per partition it
  // advanced. An aborted commit rewinds to the last committed checkpoint.
  auto commit = [&]() -> absl::Status {
    if (!open) return absl::OkStatus();
    for (int32_t p : partitions) {
      if (next[p] == committed[p]) continue;
      PV_RETURN_IF_ERROR(producer->Produce(options.checkpoint_topic, 0,
                                           CheckpointKey(setup.source_cluster_id, src_topic, p, dst_topic),
                                           EncodeCheckpoint(next[p], txn_id)),
                         "checkpoint topic ", options.checkpoint_topic);
    }
    const absl::Time commit_start = absl::Now();
    absl::Status s = producer->CommitTransaction();
    const absl::Duration took = absl::Now() - commit_start;
    summary->commit_time += took;
    summary->longest_commit = std::max(summary->longest_commit, took);
    open = false;
    commit_at = absl::InfiniteFuture();
    if (s.ok()) {
      if (metrics != nullptr) {
        for (int32_t p : partitions) {
          if (next[p] != committed[p]) metrics->OnCommitted(src_topic, p, next[p]);
        }
        metrics->OnTransaction(/*committed=*/true);
      }
      committed = next;
      ++summary->transactions_committed;
      summary->messages += txn_messages;
      summary->bytes += txn_bytes;
      aborts_in_row = 0;
    } else if (absl::IsAborted(s)) {
      ++summary->transactions_aborted;
      const std::string why =
          delivery_error.ok() ? std::string(s.message())
                              : absl::StrCat(s.message(), "; first failed: ",
                                             delivery_error.message());
      if (metrics != nullptr) metrics->OnTransaction(/*committed=*/false, why);
      if (++aborts_in_row >= kMaxAbortsInRow) {
        return absl::UnavailableError(absl::StrCat(
            aborts_in_row, " transactions in a row could not commit to ", dst_where,
            "; nothing of them is visible; last: ", why));
      }
      PV_LOG(WARNING) << why << "; reading its " << txn_messages << " messages again from "
                      << Offsets(committed);
      next = committed;
      PV_RETURN_IF_ERROR(assign_at(committed));
    } else {
      return pv::Annotate(s, dst_where);
    }
    txn_messages = 0;
    txn_bytes = 0;
    delivery_error = absl::OkStatus();
    return absl::OkStatus();
  };

  // Whether every partition was read up to its last stable offset.
  auto caught_up = [&]() -> absl::StatusOr<bool> {
    for (int32_t p : partitions) {
      PV_ASSIGN_OR_RETURN(kafka::PartitionWatermarks w,
                          consumer->QueryWatermarks(src_topic, p, absl::Seconds(5)));
      if (std::max(next[p], consumer->Position(src_topic, p)) < w.high) return false;
    }
    return true;
  };

  std::atomic<int64_t> shown_lag{-1};
  std::atomic<int64_t> shown_transactions{0};
  Progress::Options progress_options;
  progress_options.interval = options.progress_interval;
  progress_options.detail = [&] {
    const int64_t lag = shown_lag.load(std::memory_order_relaxed);
    return absl::StrCat("lag ", lag < 0 ? std::string("?") : HumanCount(lag), ", ",
                        shown_transactions.load(std::memory_order_relaxed), " transactions");
  };
  Progress progress("mirror", "messages", options.max_messages, progress_options);
  summary->startup = absl::Now() - setup.started;
  absl::Time next_lag_update = absl::InfinitePast();
  absl::Time next_end_check = absl::InfinitePast();
  absl::Status status;
  for (;;) {
    if (ShutdownRequested()) {
      summary->reason = StopReason::kSignal;
      break;
    }
    if (options.max_messages > 0 && summary->messages + txn_messages >= options.max_messages) {
      summary->reason = StopReason::kMaxMessages;
      break;
    }
    absl::StatusOr<kafka::Message> polled = consumer->Poll(kPollTimeout);
    if (!polled.ok()) {
      status = pv::Annotate(polled.status(), src_where);
      break;
    }
    const absl::Time now = absl::Now();
    if (!polled->empty()) {
      const kafka::Message& m = *polled;
      const int32_t p = m.partition();
      if (!open) {
        status = producer->BeginTransaction();
        if (!status.ok()) break;
        open = true;
        commit_at = now + options.transaction_interval;
      }
      const int32_t dst_p = DestinationPartition(p, summary->destination_partitions);
      status = producer->Produce(dst_topic, dst_p, m.key(), m.value(), m.headers(),
                                 Tag(p, m.offset()), m.timestamp_ms());
      if (!status.ok()) {
        status = pv::Annotate(status, absl::StrCat("mirror ", src_where, " partition ", p,
                                                   " offset ", m.offset(), " -> ", dst_where,
                                                   " partition ", dst_p));
        break;
      }
      next[p] = m.offset() + 1;
      ++txn_messages;
      txn_bytes += m.key().size() + m.value().size();
      progress.Add(1, m.key().size() + m.value().size());
      if (metrics != nullptr) metrics->OnRead(m.key().size() + m.value().size(), now);
    } else if (options.exit_at_end && !open && now >= next_end_check) {
      next_end_check = now + absl::Milliseconds(500);
      absl::StatusOr<bool> done = caught_up();
      if (!done.ok()) {
        PV_LOG(WARNING) << "end-of-source check: " << done.status();
      } else if (*done) {
        summary->reason = StopReason::kEndOfSource;
        break;
      }
    }
    if (open && (now >= commit_at || txn_messages >= options.transaction_messages)) {
      status = commit();
      if (!status.ok()) break;
    }
    producer->Poll(absl::ZeroDuration());  // delivery reports
    if (now >= next_lag_update) {
      next_lag_update = now + absl::Milliseconds(500);
      shown_lag.store(Lag(*consumer, src_topic, next), std::memory_order_relaxed);
      shown_transactions.store(summary->transactions_committed, std::memory_order_relaxed);
      UpdateMetrics(metrics, *producer, *consumer, shown_lag.load(std::memory_order_relaxed), now);
    }
  }

  // A clean stop commits what is open; after an error, abort it (a fenced
  // or failed producer could not commit it anyway).
  if (status.ok()) {
    status = commit();
  } else if (open) {
    absl::Status aborted = producer->AbortTransaction();
    if (!aborted.ok()) PV_LOG(DEBUG) << "abort after error: " << aborted;
  }
  for (const auto& [p, o] : committed) summary->committed[p] = o;
  summary->acknowledged = producer->delivered();
  summary->failed = producer->failed();
  summary->lag = Lag(*consumer, src_topic, committed);
  shown_lag.store(summary->lag, std::memory_order_relaxed);
  UpdateMetrics(metrics, *producer, *consumer, summary->lag, absl::Now());
  shown_transactions.store(summary->transactions_committed, std::memory_order_relaxed);
  progress.Finish();
  absl::Status closed = consumer->Close();
  if (!closed.ok()) PV_LOG(WARNING) << closed;
  return status;
}

}  // namespace pv::ingest::internal
