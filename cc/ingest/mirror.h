// The mirror stage: a topic of a source Kafka cluster (remote, SASL) copied
// into the local cluster, message by message.
//
//   MirrorOptions options;
//   options.source = ...;  options.destination = ...;   // KafkaConfig each
//   MirrorSummary summary;
//   absl::Status s = RunMirror(options, &summary);
//
// What is copied: key, value and headers, untouched, into the destination
// partition with the source's number (source partition p goes to p modulo
// the destination's partition count when the destination has fewer), so the
// order within a source partition is kept. The message timestamp is not
// copied: the destination stamps its own.
//
// Delivery guarantee: AT-LEAST-ONCE across a crash. The source offset of a
// partition is committed only once the destination acknowledged (acks=all,
// idempotent producer) every message read from that partition up to that
// offset; commits happen every commit_interval and at the end. A crash (or
// SIGKILL, or a failed delivery) between an acknowledgement and the next
// commit makes the next run send those messages again. The idempotent
// producer removes duplicates only within one producer session (its
// retries), not across runs. In a run without crash every message arrives
// exactly once. Exactly-once holds end to end only from the local Kafka into
// segment files (the consume stage); duplicates made here are duplicates
// there too.
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
#include "absl/time/time.h"
#include "cc/kafka/kafka.h"

namespace pv::ingest {

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

struct MirrorOptions {
  kafka::KafkaConfig source;
  std::string source_topic = "product_view";
  std::string group_id = "pv-mirror";
  kafka::KafkaConfig destination;
  std::string destination_topic = "product_views";
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
};

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
  int64_t lag = -1;  // messages left in the assigned partitions at the end; -1 unknown
  absl::Duration elapsed;
};

// Runs until max_messages, the end of the source (exit_at_end), a shutdown
// request (pv::ShutdownRequested) or an error; then flushes the producer,
// commits what the destination acknowledged, and leaves the group. Fills
// *summary in every case. Errors: kUnauthenticated / kPermissionDenied for
// rejected credentials (within seconds), kNotFound for a missing source
// topic, delivery and commit errors naming cluster, topic, partition and
// offset.
absl::Status RunMirror(const MirrorOptions& options, MirrorSummary* summary);

}  // namespace pv::ingest

#endif  // PV_INGEST_MIRROR_H_
