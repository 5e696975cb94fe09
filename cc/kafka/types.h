// Kafka vocabulary without librdkafka: the values the adapter (kafka.h) hands
// out and takes, and the small interfaces that core logic implements or
// calls, so that logic and its unit tests never link the vendor library
// (a fake ConsumerControl stands in for the broker in tests).
#ifndef PV_KAFKA_TYPES_H_
#define PV_KAFKA_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pv::kafka {

// librdkafka's RD_KAFKA_PARTITION_UA: partitioned by key (checked in kafka.cc).
inline constexpr int32_t kAnyPartition = -1;

// Logical start offsets for RebalanceListener::OnAssign and Consumer::Assign
// (librdkafka's RD_KAFKA_OFFSET_BEGINNING / _END / _STORED).
inline constexpr int64_t kOffsetBeginning = -2;
inline constexpr int64_t kOffsetEnd = -1;
// The group's committed offset (auto.offset.reset when there is none).
inline constexpr int64_t kOffsetStored = -1000;

// One message header (name, value bytes).
struct Header {
  std::string name;
  std::string value;
};

struct TopicPartitionOffset {
  std::string topic;
  int32_t partition = 0;
  // For Commit and Assign: the offset of the NEXT message to read (last
  // consumed + 1), or one of the logical offsets above.
  int64_t offset = 0;
};

struct PartitionWatermarks {
  int32_t partition = 0;
  int64_t low = 0;   // first offset still stored
  // The offset the next produced message will get; from a watermark query
  // of a read_committed client (Consumer::QueryWatermarks by default,
  // Admin::Watermarks), the last stable offset instead: the first offset of
  // the oldest open transaction, the same while none is open.
  int64_t high = 0;
};

// One consumed record, as views into the message that carries it (valid as
// long as that message lives).
struct ConsumedRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // CreateTime or LogAppendTime; -1 unknown
  absl::string_view key;
  absl::string_view value;
};

// Told by a Consumer when the group gives it partitions or takes them away,
// so that an application that keeps its own offsets (segment footers) decides
// where each partition starts and finishes its work before losing one.
//
// Both methods run on the thread that calls Consumer::Poll() or
// Consumer::Close() (librdkafka serves the rebalance from there), never
// concurrently. Eager protocols (range, roundrobin: librdkafka's default)
// revoke the whole assignment before every new one; the cooperative protocol
// (cooperative-sticky) passes only the partitions that change. Either way
// the consumer applies the (incremental) assignment after OnAssign returns
// and drops the partitions after OnRevoke returns.
class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;

  // `partitions` arrive with offset kOffsetStored; set each element's offset
  // to where consumption must start (an absolute offset, kOffsetBeginning or
  // kOffsetEnd). Do not add, remove or reorder elements. An error is fatal:
  // nothing is assigned and every later Poll() returns it.
  virtual absl::Status OnAssign(std::vector<TopicPartitionOffset>* partitions) = 0;

  // Called before `partitions` are taken away. `lost` is true when the
  // assignment was lost rather than handed back (session timeout, fatal
  // error): other members may already own the partitions, so work for them
  // must be discarded, not published. An error is fatal for the consumer.
  virtual absl::Status OnRevoke(const std::vector<TopicPartitionOffset>& partitions,
                                bool lost) = 0;
};

// What an application that owns partitions asks of its consumer while it
// consumes: the part of kafka::Consumer that the ingestion logic uses, so
// that the logic can be unit-tested against a fake. Same threading as the
// Consumer: one thread.
class ConsumerControl {
 public:
  virtual ~ConsumerControl() = default;

  // Synchronous commit of the given offsets for the consumer's group.
  virtual absl::Status Commit(const std::vector<TopicPartitionOffset>& offsets) = 0;

  // True when the current assignment was lost (session timeout) and the
  // partitions may already be consumed by another member.
  virtual bool AssignmentLost() const = 0;

  // Low/high watermarks as last seen in fetch responses (no broker request;
  // -1 while unknown).
  virtual PartitionWatermarks CachedWatermarks(absl::string_view topic,
                                               int32_t partition) const = 0;

  // Watermarks asked from the partition leader, within `timeout`. With
  // isolation.level=read_committed, `high` is the last stable offset.
  virtual absl::StatusOr<PartitionWatermarks> QueryWatermarks(
      absl::string_view topic, int32_t partition, absl::Duration timeout) const = 0;

  // The consumer's position in a partition: the offset of the next record
  // it would hand out (past transaction markers it has skipped); -1 when
  // unknown.
  virtual int64_t Position(absl::string_view topic, int32_t partition) const = 0;
};

// A transactional producer that another one with the same transactional.id
// fenced: FencedError makes the status (kFailedPrecondition, marked with a
// payload that pv::Annotate keeps), IsFenced recognises it.
inline constexpr char kFencedPayload[] = "pv.kafka/fenced";
inline absl::Status FencedError(absl::string_view message) {
  absl::Status s = absl::FailedPreconditionError(message);
  s.SetPayload(kFencedPayload, absl::Cord("1"));
  return s;
}
inline bool IsFenced(const absl::Status& status) {
  return status.GetPayload(kFencedPayload).has_value();
}

}  // namespace pv::kafka

#endif  // PV_KAFKA_TYPES_H_
