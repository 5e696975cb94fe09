#include "cc/ingest/mirror.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/mirror_internal.h"
#include "cc/ingest/stage_metrics.h"

namespace pv::ingest {

// ---------------------------------------------------------------------------
// OffsetTracker

uint64_t OffsetTracker::Track(int32_t partition, int64_t offset) {
  Partition& p = partitions_[partition];
  const uint64_t seq = p.next_seq++;
  p.window.push_back({offset, false});
  ++in_flight_;
  return (static_cast<uint64_t>(partition) << kSeqBits) | seq;
}

void OffsetTracker::Acknowledge(uint64_t tag) {
  const auto partition = static_cast<int32_t>(tag >> kSeqBits);
  const uint64_t seq = tag & ((uint64_t{1} << kSeqBits) - 1);
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  Partition& p = it->second;
  if (seq < p.front_seq || seq >= p.front_seq + p.window.size()) return;
  Entry& e = p.window[seq - p.front_seq];
  if (e.acknowledged) return;
  e.acknowledged = true;
  while (!p.window.empty() && p.window.front().acknowledged) {
    p.committable = p.window.front().offset + 1;
    p.changed = true;
    p.window.pop_front();
    ++p.front_seq;
    --in_flight_;
  }
}

absl::StatusOr<std::pair<int32_t, int64_t>> OffsetTracker::Lookup(uint64_t tag) const {
  const auto partition = static_cast<int32_t>(tag >> kSeqBits);
  const uint64_t seq = tag & ((uint64_t{1} << kSeqBits) - 1);
  auto it = partitions_.find(partition);
  if (it != partitions_.end()) {
    const Partition& p = it->second;
    if (seq >= p.front_seq && seq < p.front_seq + p.window.size()) {
      return std::make_pair(partition, p.window[seq - p.front_seq].offset);
    }
  }
  return absl::NotFoundError(absl::StrCat("message tag ", tag, " is not in flight"));
}

std::vector<std::pair<int32_t, int64_t>> OffsetTracker::TakeCommittable() {
  std::vector<std::pair<int32_t, int64_t>> out;
  for (auto& [partition, p] : partitions_) {
    if (p.changed && p.committable >= 0) out.emplace_back(partition, p.committable);
    p.changed = false;
  }
  std::sort(out.begin(), out.end());
  return out;
}

void OffsetTracker::Untake(const std::vector<std::pair<int32_t, int64_t>>& partitions) {
  for (const auto& [partition, offset] : partitions) {
    auto it = partitions_.find(partition);
    if (it != partitions_.end()) it->second.changed = true;
  }
}

int32_t DestinationPartition(int32_t source_partition, int destination_partitions) {
  if (destination_partitions <= 0 || source_partition < destination_partitions) {
    return source_partition;
  }
  return source_partition % destination_partitions;
}

const char* StopReasonName(StopReason reason) {
  switch (reason) {
    case StopReason::kRunning:
      return "running";
    case StopReason::kMaxMessages:
      return "reached --max-messages";
    case StopReason::kEndOfSource:
      return "reached the end of the source (--exit-at-end)";
    case StopReason::kSignal:
      return "stopped by signal";
    case StopReason::kError:
      return "failed";
  }
  return "?";
}

const char* DeliveryName(Delivery delivery) {
  return delivery == Delivery::kExactlyOnce ? "exactly-once" : "at-least-once";
}

std::string DefaultTransactionalId(const MirrorOptions& options) {
  std::string id = absl::StrCat(options.group_id, ".", options.source_topic);
  if (!options.source_partitions.empty()) {
    std::vector<int32_t> sorted = options.source_partitions;
    std::sort(sorted.begin(), sorted.end());
    absl::StrAppend(&id, ".p", absl::StrJoin(sorted, "-"));
  }
  return id;
}

// ---------------------------------------------------------------------------
// Checkpoint records

std::string CheckpointKey(absl::string_view cluster_id, absl::string_view topic,
                          int32_t partition, absl::string_view destination_topic) {
  return absl::StrCat(cluster_id, "/", topic, "/", partition, "/", destination_topic);
}

std::string EncodeCheckpoint(int64_t next_offset, absl::string_view mirror_id) {
  return absl::StrCat("next=", next_offset, " mirror=", mirror_id);
}

absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view value) {
  const auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint value '", absl::CHexEscape(value.substr(0, 200)), "': ", why));
  };
  if (!absl::ConsumePrefix(&value, "next=")) return bad("does not start with next=");
  const size_t space = value.find(' ');
  if (space == absl::string_view::npos) return bad("no mirror=");
  Checkpoint out;
  if (!absl::SimpleAtoi(value.substr(0, space), &out.next_offset) || out.next_offset < 0) {
    return bad("next is not a non-negative offset");
  }
  value.remove_prefix(space + 1);
  if (!absl::ConsumePrefix(&value, "mirror=") || value.empty()) return bad("no mirror=");
  out.mirror_id = std::string(value);
  return out;
}

// ---------------------------------------------------------------------------
// Set-up, shared by both modes

namespace internal {
namespace {

bool Transient(const absl::Status& s) {
  return absl::IsDeadlineExceeded(s) || absl::IsUnavailable(s) || absl::IsInternal(s);
}

// Partition count of `topic`, asked in short slices so that rejected
// credentials (reported by the client between slices) end the wait early,
// and retried while the cluster is merely unreachable.
absl::StatusOr<int> PartitionCountWithin(kafka::Admin& admin, const std::string& topic,
                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const absl::Duration slice =
        std::max(absl::Milliseconds(100), std::min(deadline - absl::Now(), absl::Seconds(2)));
    absl::StatusOr<int> n = admin.PartitionCount(topic, slice);
    if (n.ok() || !Transient(n.status()) || absl::Now() >= deadline) return n;
    if (WaitForShutdownFor(absl::Milliseconds(200))) {
      return absl::CancelledError("interrupted during start-up");
    }
  }
}

// Partition count of `topic` in the cluster of `admin`, creating the topic
// with `partitions` and `configs` when it does not exist.
absl::StatusOr<int> EnsureTopic(kafka::Admin& admin, const MirrorOptions& options,
                                const std::string& topic, const std::string& where,
                                int partitions,
                                std::vector<std::pair<std::string, std::string>> configs,
                                bool* created) {
  absl::StatusOr<int> n = PartitionCountWithin(admin, topic, options.setup_timeout);
  if (absl::IsNotFound(n.status())) {
    const int min_isr =
        std::max(1, std::min(options.min_insync_replicas, options.replication_factor));
    configs.emplace_back("min.insync.replicas", absl::StrCat(min_isr));
    absl::Status s = admin.CreateTopic(topic, partitions, options.replication_factor,
                                       options.setup_timeout, configs);
    if (s.ok()) {
      *created = true;
      std::vector<std::string> shown;
      for (const auto& [k, v] : configs) shown.push_back(absl::StrCat(k, "=", v));
      PV_LOG(INFO) << "created " << where << ": " << partitions << " partitions, RF "
                   << options.replication_factor << ", " << absl::StrJoin(shown, ", ");
    } else if (!absl::IsAlreadyExists(s)) {
      return pv::Annotate(s, where);
    }
    // Created by another process just now: its metadata may still be on
    // its way to the broker asked.
    const absl::Time deadline = absl::Now() + options.setup_timeout;
    while (absl::IsNotFound((n = PartitionCountWithin(admin, topic, options.setup_timeout))
                                .status()) &&
           absl::Now() < deadline) {
      if (WaitForShutdownFor(absl::Milliseconds(200))) {
        return absl::CancelledError("interrupted during start-up");
      }
    }
  }
  PV_RETURN_IF_ERROR(n.status(), where);
  return *n;
}

// Whether every assigned partition was read up to its high watermark. A
// partition this run has not read from yet starts at its committed offset
// (or, without one, at its low watermark: auto.offset.reset=earliest).
absl::StatusOr<bool> CaughtUp(const kafka::Consumer& consumer, const std::string& topic,
                              const absl::flat_hash_map<int32_t, int64_t>& next_offset) {
  const std::vector<int32_t> assigned = consumer.AssignedPartitions(topic);
  if (assigned.empty()) return false;
  const absl::Duration timeout = absl::Seconds(5);
  std::vector<int32_t> unread;
  for (int32_t p : assigned) {
    if (!next_offset.contains(p)) unread.push_back(p);
  }
  PV_ASSIGN_OR_RETURN(std::vector<int64_t> committed,
                      consumer.Committed(topic, unread, timeout));
  absl::flat_hash_map<int32_t, int64_t> start;
  for (size_t i = 0; i < unread.size(); ++i) start[unread[i]] = committed[i];
  for (int32_t p : assigned) {
    PV_ASSIGN_OR_RETURN(kafka::PartitionWatermarks w,
                        consumer.QueryWatermarks(topic, p, timeout));
    int64_t next;
    if (auto it = next_offset.find(p); it != next_offset.end()) {
      // Past the last message read: transaction markers after it count.
      next = std::max(it->second, consumer.Position(topic, p));
    } else {
      next = start[p] >= 0 ? start[p] : w.low;
    }
    if (next < w.high) return false;
  }
  return true;
}

}  // namespace

void FeedStatistics(MirrorMetrics* metrics, kafka::ProducerOptions* producer,
                    kafka::ConsumerOptions* consumer) {
  if (metrics == nullptr) return;
  producer->on_statistics = [metrics](absl::string_view json) {
    metrics->OnDestinationStatistics(json);
  };
  consumer->on_statistics = [metrics](absl::string_view json) {
    metrics->OnSourceStatistics(json);
  };
}

void UpdateMetrics(MirrorMetrics* metrics, const kafka::Producer& producer,
                   const kafka::Consumer& consumer, int64_t backlog, absl::Time now) {
  if (metrics == nullptr) return;
  metrics->Update(producer.delivered(), producer.failed(), consumer.errors(), producer.errors(),
                  backlog, now);
}

int64_t Lag(const kafka::Consumer& consumer, const std::string& topic,
            const absl::flat_hash_map<int32_t, int64_t>& next_offset) {
  const std::vector<int32_t> assigned = consumer.AssignedPartitions(topic);
  if (assigned.empty()) return -1;
  int64_t lag = 0;
  for (int32_t p : assigned) {
    const kafka::PartitionWatermarks w = consumer.CachedWatermarks(topic, p);
    auto it = next_offset.find(p);
    if (w.high < 0 || it == next_offset.end()) return -1;
    lag += std::max<int64_t>(0, w.high - std::max(it->second, consumer.Position(topic, p)));
  }
  return lag;
}

absl::Status PrepareMirror(const MirrorOptions& options, MirrorSetup* setup,
                           MirrorSummary* summary) {
  const std::string& src_topic = options.source_topic;
  const std::string& dst_topic = options.destination_topic;
  if (src_topic.empty() || dst_topic.empty() || options.group_id.empty()) {
    return absl::InvalidArgumentError("source topic, destination topic and group are required");
  }
  const bool exactly_once = options.delivery == Delivery::kExactlyOnce;
  if (!exactly_once && !options.source_partitions.empty()) {
    return absl::InvalidArgumentError(
        "source partitions are for the exactly-once mode; at-least-once mirrors share a "
        "topic through their consumer group");
  }
  if (exactly_once && options.checkpoint_topic.empty()) {
    return absl::InvalidArgumentError("exactly-once needs a checkpoint topic");
  }

  setup->source = options.source;
  setup->source.SetDefault("client.id", "pv-mirror");
  // Bounded prefetch: the consumer stops fetching beyond this.
  setup->source.SetDefault("queued.max.messages.kbytes", "16384");
  setup->destination = options.destination;
  setup->destination.SetDefault("client.id", "pv-mirror");
  setup->destination.SetDefault("queue.buffering.max.kbytes", "65536");
  setup->destination.SetDefault("queue.buffering.max.messages", "200000");
  setup->destination.SetDefault("linger.ms", "10");
  setup->src_where =
      absl::StrCat("source topic ", src_topic, " (brokers ", setup->source.brokers(), ")");
  setup->dst_where = absl::StrCat("destination topic ", dst_topic, " (brokers ",
                                  setup->destination.brokers(), ")");

  {
    PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Admin> admin,
                        kafka::Admin::Create(setup->destination));
    // CreateTime: the brokers keep the source's timestamps the mirror sets.
    absl::StatusOr<int> n =
        EnsureTopic(*admin, options, dst_topic, setup->dst_where, options.partitions,
                    {{"message.timestamp.type", "CreateTime"}},
                    &summary->created_destination_topic);
    PV_RETURN_IF_ERROR(n.status());
    summary->destination_partitions = *n;
    if (exactly_once) {
      // One partition, compacted: the latest checkpoint per source
      // partition survives; small segments keep the start-up read short.
      bool created = false;
      n = EnsureTopic(*admin, options, options.checkpoint_topic,
                      absl::StrCat("checkpoint topic ", options.checkpoint_topic, " (brokers ",
                                   setup->destination.brokers(), ")"),
                      1,
                      {{"cleanup.policy", "compact"},
                       {"segment.ms", "600000"},
                       {"min.cleanable.dirty.ratio", "0.1"}},
                      &created);
      PV_RETURN_IF_ERROR(n.status());
    }
  }

  // Source topic: must exist (a typo should not wait forever).
  {
    // options.source: the consumer-only defaults above would draw warnings here.
    PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Admin> admin,
                        kafka::Admin::Create(options.source));
    absl::StatusOr<int> n = PartitionCountWithin(*admin, src_topic, options.setup_timeout);
    PV_RETURN_IF_ERROR(n.status(), setup->src_where);
    summary->source_partitions = *n;
    if (exactly_once) {
      absl::StatusOr<std::string> id = admin->ClusterId(options.setup_timeout);
      PV_RETURN_IF_ERROR(id.status(), "source cluster (brokers ", options.source.brokers(), ")");
      setup->source_cluster_id = *id;
    }
  }
  for (int32_t p : options.source_partitions) {
    if (p < 0 || p >= summary->source_partitions) {
      return absl::InvalidArgumentError(absl::StrCat(
          "source partition ", p, ": ", setup->src_where, " has partitions 0..",
          summary->source_partitions - 1));
    }
  }
  if (summary->source_partitions > OffsetTracker::kMaxPartition + 1) {
    return absl::OutOfRangeError(absl::StrCat(setup->src_where, " has ",
                                              summary->source_partitions,
                                              " partitions: too many"));
  }
  if (summary->source_partitions > summary->destination_partitions) {
    PV_LOG(WARNING) << setup->src_where << " has " << summary->source_partitions
                    << " partitions, " << setup->dst_where << " only "
                    << summary->destination_partitions
                    << ": source partition p goes to p modulo "
                    << summary->destination_partitions
                    << " (order within each source partition is kept)";
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// At-least-once: an idempotent producer, source offsets committed to the
// source group once the destination acknowledged everything before them.

absl::Status RunAtLeastOnce(const MirrorOptions& options, const MirrorSetup& setup,
                            MirrorSummary* summary) {
  const std::string& src_topic = options.source_topic;
  const std::string& dst_topic = options.destination_topic;
  const std::string& src_where = setup.src_where;
  const std::string& dst_where = setup.dst_where;

  // Declared before the producer, whose delivery reports use them, so they
  // outlive it.
  OffsetTracker tracker;
  absl::Status delivery_error;
  kafka::ProducerOptions producer_options;
  producer_options.idempotence = true;
  producer_options.acks = "all";
  producer_options.message_timeout = options.message_timeout;
  producer_options.queue_full_timeout = options.message_timeout;
  producer_options.close_timeout = absl::Seconds(5);
  producer_options.on_delivery = [&](const kafka::DeliveryReport& report) {
    if (report.status.ok()) {
      tracker.Acknowledge(report.tag);
      return;
    }
    if (delivery_error.ok()) {
      absl::StatusOr<std::pair<int32_t, int64_t>> from = tracker.Lookup(report.tag);
      delivery_error = pv::Annotate(
          report.status,
          from.ok() ? absl::StrCat("message from source topic ", src_topic, " partition ",
                                   from->first, " offset ", from->second)
                    : std::string("message"));
    }
  };
  MirrorMetrics* const metrics = options.metrics;
  kafka::ConsumerOptions consumer_options;
  consumer_options.group_id = options.group_id;
  consumer_options.auto_offset_reset = "earliest";
  FeedStatistics(metrics, &producer_options, &consumer_options);
  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Producer> producer,
                      kafka::Producer::Create(setup.destination, producer_options));

  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Consumer> consumer,
                      kafka::Consumer::Create(setup.source, consumer_options));
  PV_RETURN_IF_ERROR(consumer->Subscribe({src_topic}), src_where);
  PV_LOG(INFO) << "mirroring " << src_where << " -> " << dst_where << " as group "
               << options.group_id
               << ", at-least-once: a crash re-sends what the destination acknowledged "
                  "after the last offset commit";

  absl::flat_hash_map<int32_t, int64_t> next_offset;  // per source partition
  auto commit = [&]() -> absl::Status {
    std::vector<std::pair<int32_t, int64_t>> ready = tracker.TakeCommittable();
    if (ready.empty()) return absl::OkStatus();
    // A partition revoked in a rebalance is someone else's now: committing
    // our older position there would only rewind its new owner.
    const std::vector<int32_t> assigned_list = consumer->AssignedPartitions(src_topic);
    const std::set<int32_t> assigned(assigned_list.begin(), assigned_list.end());
    std::vector<kafka::TopicPartitionOffset> offsets;
    std::vector<std::pair<int32_t, int64_t>> kept;
    for (const auto& [p, o] : ready) {
      if (!assigned.count(p)) continue;
      offsets.push_back({src_topic, p, o});
      kept.emplace_back(p, o);
    }
    absl::Status s = consumer->Commit(offsets);
    if (!s.ok()) {
      tracker.Untake(kept);
      s = pv::Annotate(s, absl::StrCat("source brokers ", setup.source.brokers()));
      if (metrics != nullptr) metrics->OnCommitFailed(s.message());
      return s;
    }
    for (const auto& [p, o] : kept) {
      summary->committed[p] = o;
      if (metrics != nullptr) metrics->OnCommitted(src_topic, p, o);
    }
    return absl::OkStatus();
  };

  // The progress line shows the lag and what is in flight; both are
  // measured on this thread and read by the reporting one.
  std::atomic<int64_t> shown_lag{-1};
  std::atomic<int64_t> shown_in_flight{0};
  Progress::Options progress_options;
  progress_options.interval = options.progress_interval;
  progress_options.detail = [&] {
    const int64_t lag = shown_lag.load(std::memory_order_relaxed);
    return absl::StrCat("lag ", lag < 0 ? std::string("?") : HumanCount(lag), " in flight ",
                        shown_in_flight.load(std::memory_order_relaxed));
  };
  Progress progress("mirror", "messages", options.max_messages, progress_options);
  summary->startup = absl::Now() - setup.started;
  absl::Time next_lag_update = absl::InfinitePast();
  absl::Time next_commit = absl::Now() + options.commit_interval;
  absl::Time next_end_check = absl::InfinitePast();
  absl::Status status;
  for (;;) {
    if (ShutdownRequested()) {
      summary->reason = StopReason::kSignal;
      break;
    }
    if (!delivery_error.ok()) {
      status = delivery_error;
      break;
    }
    if (options.max_messages > 0 && summary->messages >= options.max_messages) {
      summary->reason = StopReason::kMaxMessages;
      break;
    }
    absl::StatusOr<kafka::Message> polled = consumer->Poll(kPollTimeout);
    if (!polled.ok()) {
      status = pv::Annotate(polled.status(), src_where);
      break;
    }
    const absl::Time now = absl::Now();
    if (polled->empty()) {
      if (options.exit_at_end && now >= next_end_check) {
        next_end_check = now + absl::Milliseconds(500);
        absl::StatusOr<bool> done = CaughtUp(*consumer, src_topic, next_offset);
        if (!done.ok()) {
          PV_LOG(WARNING) << "end-of-source check: " << done.status();
        } else if (*done) {
          summary->reason = StopReason::kEndOfSource;
          break;
        }
      }
    } else {
      const kafka::Message& m = *polled;
      const int32_t p = m.partition();
      const int32_t dst_p = DestinationPartition(p, summary->destination_partitions);
      const uint64_t tag = tracker.Track(p, m.offset());
      next_offset[p] = m.offset() + 1;
      absl::Status s = producer->Produce(dst_topic, dst_p, m.key(), m.value(), m.headers(), tag,
                                         m.timestamp_ms());
      if (!s.ok()) {
        status = pv::Annotate(s, absl::StrCat("mirror source topic ", src_topic, " partition ",
                                              p, " offset ", m.offset(), " -> ", dst_where,
                                              " partition ", dst_p));
        break;
      }
      ++summary->messages;
      summary->bytes += m.key().size() + m.value().size();
      progress.Add(1, m.key().size() + m.value().size());
      if (metrics != nullptr) metrics->OnRead(m.key().size() + m.value().size(), now);
    }
    producer->Poll(absl::ZeroDuration());  // delivery reports -> tracker
    if (now >= next_commit) {
      next_commit = now + options.commit_interval;
      absl::Status s = commit();
      if (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s)) {
        status = s;
        break;
      }
      if (!s.ok()) PV_LOG(WARNING) << "commit failed (will retry): " << s;
    }
    if (now >= next_lag_update) {
      next_lag_update = now + absl::Milliseconds(500);
      shown_lag.store(Lag(*consumer, src_topic, next_offset), std::memory_order_relaxed);
      shown_in_flight.store(tracker.in_flight(), std::memory_order_relaxed);
      UpdateMetrics(metrics, *producer, *consumer, shown_lag.load(std::memory_order_relaxed), now);
    }
  }

  // Whatever stopped the loop: wait for the destination, commit what it
  // acknowledged, leave the group.
  absl::Status flushed = producer->Flush(options.flush_timeout);
  if (!flushed.ok()) flushed = pv::Annotate(flushed, dst_where);
  absl::Status committed = commit();
  summary->acknowledged = producer->delivered();
  summary->failed = producer->failed();
  summary->lag = Lag(*consumer, src_topic, next_offset);
  shown_lag.store(summary->lag, std::memory_order_relaxed);
  shown_in_flight.store(tracker.in_flight(), std::memory_order_relaxed);
  UpdateMetrics(metrics, *producer, *consumer, summary->lag, absl::Now());
  progress.Finish();
  absl::Status closed = consumer->Close();
  if (!closed.ok()) PV_LOG(WARNING) << closed;
  if (tracker.in_flight() > 0) {
    PV_LOG(WARNING) << tracker.in_flight()
                    << " messages were not acknowledged by the destination; their source "
                       "offsets were not committed and the next run sends them again";
  }
  for (const absl::Status& s : {status, delivery_error, flushed, committed}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace internal

absl::Status RunMirror(const MirrorOptions& options, MirrorSummary* summary) {
  const absl::Time start = absl::Now();
  summary->delivery = options.delivery;
  internal::MirrorSetup setup;
  setup.started = start;
  absl::Status s = internal::PrepareMirror(options, &setup, summary);
  if (s.ok()) {
    s = options.delivery == Delivery::kExactlyOnce
            ? internal::RunExactlyOnce(options, setup, summary)
            : internal::RunAtLeastOnce(options, setup, summary);
  }
  summary->elapsed = absl::Now() - start;
  if (!s.ok()) summary->reason = StopReason::kError;
  return s;
}

}  // namespace pv::ingest
