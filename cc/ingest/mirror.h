// The mirror stage: a topic of a source Kafka cluster (remote, SASL) copied
// into the local cluster, message by message.
//
//   MirrorOptions options;
//   options.source = ...;  options.destination = ...;   // KafkaConfig each
//   MirrorSummary summary;
//   absl::Status s = RunMirror(options, &summary);
//
// What is copied: key, value, headers and timestamp (the source's
// CreateTime), untouched, into the destination partition with the source's
// number (source partition p goes to p modulo the destination's partition
// count when the destination has fewer), so the order within a source
// partition is kept.
//
// Delivery (MirrorOptions::delivery):
//
//  - kExactlyOnce (the default), as MirrorMaker 2 since Kafka 3.5
//    (KIP-618): a transactional producer commits the mirrored records and,
//    in the same destination transaction, a checkpoint record per source
//    partition (the next source offset to read) to a compacted checkpoint
//    topic of the destination cluster. A (re)started mirror first fences any
//    older producer with its transactional.id (whose open transaction is
//    thereby aborted), reads the checkpoint topic to its end, and assigns its
//    source partitions there: never from the source cluster's group offsets,
//    and without a group, so a restart resumes within seconds. A crash at
//    any moment loses the open transaction, which is read again; a
//    read_committed reader of the destination sees every source record
//    exactly once. Two processes with the same identity: the newer fences
//    the older, which stops with an error kafka::IsFenced recognises.
//    Processes may share a topic's partitions by explicit lists
//    (source_partitions), each with its own identity.
//  - kAtLeastOnce, for clusters where transactions are not allowed: an
//    idempotent producer, source offsets committed to the source group only
//    after the destination acknowledged every message up to them; a crash
//    re-sends what was acknowledged after the last commit.
//
// Memory is bounded by the consumer's prefetch queue and the producer's
// queue (queue.buffering.max.kbytes), both capped here unless overridden.
#ifndef PV_INGEST_MIRROR_H_
#define PV_INGEST_MIRROR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/kafka/kafka.h"

namespace pv::ingest {

class MirrorMetrics;  // cc/ingest/stage_metrics.h

// Source offsets between "read" and "acknowledged by the destination", per
// source partition, and the offset each partition may commit: one past the
// last message such that it and every message read before it from that
// partition were acknowledged. Offsets need not be contiguous (compaction,
// transaction markers) nor increasing (a re-assigned partition is read again
// from its committed offset). Not thread-safe; the mirror uses it from its
// one thread (delivery reports are served there too).
class OffsetTracker {
 public:
  // Source partitions up to 2^20 - 1 (tags keep the partition in 20 bits).
  static constexpr int32_t kMaxPartition = (1 << 20) - 1;

  // Records that the message at `offset` of source `partition` is about to
  // be produced; returns the tag to produce it with. Requires
  // 0 <= partition <= kMaxPartition.
  uint64_t Track(int32_t partition, int64_t offset);

  // The destination acknowledged the message of `tag`. Unknown or repeated
  // tags are ignored.
  void Acknowledge(uint64_t tag);

  // The source (partition, offset) of a tracked message, for error messages;
  // kNotFound when the tag is not in flight.
  absl::StatusOr<std::pair<int32_t, int64_t>> Lookup(uint64_t tag) const;

  // For every partition whose committable offset changed since the previous
  // call (and is known): (partition, next offset to read). Marks them taken.
  std::vector<std::pair<int32_t, int64_t>> TakeCommittable();

  // Returns the committable offsets of `partitions` to TakeCommittable's
  // pending set (after a failed commit, so the next attempt retries them).
  void Untake(const std::vector<std::pair<int32_t, int64_t>>& partitions);

  // Messages tracked and not yet acknowledged (or acknowledged behind one
  // that is not).
  int64_t in_flight() const { return in_flight_; }

 private:
  struct Entry {
    int64_t offset;
    bool acknowledged;
  };
  struct Partition {
    std::deque<Entry> window;  // oldest first
    uint64_t front_seq = 0;    // sequence number of window.front()
    uint64_t next_seq = 0;
    int64_t committable = -1;  // next offset to read; -1: nothing yet
    bool changed = false;
  };
  static constexpr int kSeqBits = 44;
  absl::flat_hash_map<int32_t, Partition> partitions_;
  int64_t in_flight_ = 0;
};

// Destination partition for a source partition (see the header comment).
int32_t DestinationPartition(int32_t source_partition, int destination_partitions);

// Checkpoint records (exactly-once mode): the key names the source
// partition and where it goes, "<source cluster id>/<topic>/<partition>/
// <destination topic>" (so a checkpoint is never applied to another
// cluster's topic of the same name, nor shared by two mirrors of one topic
// into two destination topics), the value is "next=<offset>
// mirror=<identity>".
std::string CheckpointKey(absl::string_view cluster_id, absl::string_view topic,
                          int32_t partition, absl::string_view destination_topic);
std::string EncodeCheckpoint(int64_t next_offset, absl::string_view mirror_id);
struct Checkpoint {
  int64_t next_offset = 0;
  std::string mirror_id;
};
// InvalidArgument for a value that is not EncodeCheckpoint's.
absl::StatusOr<Checkpoint> ParseCheckpoint(absl::string_view value);

enum class Delivery { kExactlyOnce, kAtLeastOnce };
const char* DeliveryName(Delivery delivery);  // "exactly-once", "at-least-once"

struct MirrorOptions {
  kafka::KafkaConfig source;
  std::string source_topic = "product_view";
  std::string group_id = "pv-mirror";
  kafka::KafkaConfig destination;
  std::string destination_topic = "product_views";
  Delivery delivery = Delivery::kExactlyOnce;
  // The source partitions this process mirrors; empty: all of them.
  std::vector<int32_t> source_partitions;
  // Exactly-once: the transactional.id (one per mirror identity, stable
  // across restarts), the compacted checkpoint topic in the destination
  // cluster (created when missing), and when a transaction commits: after
  // transaction_interval, or transaction_messages records, whichever first.
  std::string transactional_id;
  std::string checkpoint_topic = "pv_mirror_checkpoints";
  absl::Duration transaction_interval = absl::Milliseconds(250);
  uint64_t transaction_messages = 100000;
  absl::Duration transaction_timeout = absl::Seconds(60);
  // Exactly-once, partitions without a checkpoint only: start where the
  // consumer group group_id committed on the source (the at-least-once
  // mode's position), instead of at the beginning: for switching a mirror
  // from at-least-once without copying the topic again.
  bool resume_from_group = false;
  // For creating the destination topic when it is missing.
  int partitions = 3;
  int replication_factor = 3;
  int min_insync_replicas = 2;  // capped at replication_factor
  // Stop after this many messages (0: no limit).
  uint64_t max_messages = 0;
  // Stop once every assigned source partition was read to its end.
  bool exit_at_end = false;
  absl::Duration commit_interval = absl::Seconds(5);
  // How long a message may wait for the destination's acknowledgement
  // (librdkafka retries within it, e.g. across a leader change).
  absl::Duration message_timeout = absl::Minutes(5);
  // How long the final flush waits at shutdown.
  absl::Duration flush_timeout = absl::Minutes(1);
  // Metadata queries and topic creation at start-up.
  absl::Duration setup_timeout = absl::Seconds(30);
  // Progress lines: 0 = 0.5 s on a terminal, 10 s otherwise.
  absl::Duration progress_interval = absl::ZeroDuration();
  // Borrowed, may be null: told what the mirror reads, writes, commits and
  // aborts (and fed the clients' statistics), from the mirror's thread.
  MirrorMetrics* metrics = nullptr;
};

// "<group>.<source topic>", plus ".p<partitions>" (sorted, '-'-joined)
// when source_partitions is set: the transactional.id when none is given.
std::string DefaultTransactionalId(const MirrorOptions& options);

enum class StopReason { kRunning, kMaxMessages, kEndOfSource, kSignal, kError };
const char* StopReasonName(StopReason reason);

struct MirrorSummary {
  StopReason reason = StopReason::kRunning;
  uint64_t messages = 0;      // read from the source and produced
  uint64_t bytes = 0;         // key + value bytes of those
  int64_t acknowledged = 0;   // by the destination
  int64_t failed = 0;         // deliveries that failed
  int source_partitions = 0;
  int destination_partitions = 0;
  bool created_destination_topic = false;
  // Last committed source offset (next offset to read) per partition, for
  // the commits this run made.
  std::map<int32_t, int64_t> committed;
  // Exactly-once: where each partition resumed (from the checkpoint), and
  // the transactions committed and aborted.
  std::map<int32_t, int64_t> resumed_from;
  int64_t transactions_committed = 0;
  int64_t transactions_aborted = 0;
  // Time spent in CommitTransaction (flushing the transaction's records,
  // then the commit itself): total and longest.
  absl::Duration commit_time;
  absl::Duration longest_commit;
  Delivery delivery = Delivery::kExactlyOnce;
  int64_t lag = -1;  // messages left in the assigned partitions at the end; -1 unknown
  absl::Duration elapsed;
  // Of elapsed, the start-up: topics, fencing, checkpoints, assignment.
  absl::Duration startup;
};

// Runs until max_messages, the end of the source (exit_at_end), a shutdown
// request (pv::ShutdownRequested) or an error; then commits what it can (the
// open transaction, or the offsets the destination acknowledged) and stops.
// Fills *summary in every case. Errors: kUnauthenticated / kPermissionDenied
// for rejected credentials (within seconds), kNotFound for a missing source
// topic, kafka::IsFenced when another mirror with the same identity took
// over, delivery and commit errors naming cluster, topic,
// partition and offset.
absl::Status RunMirror(const MirrorOptions& options, MirrorSummary* summary);

}  // namespace pv::ingest

#endif  // PV_INGEST_MIRROR_H_
