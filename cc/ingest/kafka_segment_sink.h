// KafkaSegmentSink: the exactly-once core of consume. Records consumed from
// the partitions of one topic go into segment files, so that every offset of
// the topic lands in exactly one published segment, across crashes, restarts
// and consumer group rebalances.
//
// The published segments in the directory are the only record of what was
// consumed. When the group assigns partitions, the sink reads the footers of
// the published segments of the topic (SegmentCatalogue) and starts each
// partition at the largest end position (see segment.h's PartitionRange), or
// at the beginning when there is none; each segment records, per partition,
// the consumer's position before its first record and after its last, so
// that consecutive segments meet exactly (offsets taken by transaction
// markers included) and a missing segment is a provable hole; Kafka's committed offsets are written after each publish for lag
// tools only and never read. Records accumulate in one open segment (a
// hidden temporary file), published (fsync + rename) when it reaches its size
// or age, before partitions are revoked, and at shutdown. A crash at any
// moment loses only the unpublished temporary file, whose records are
// consumed again after the restart. When the assignment is lost (session
// timeout) the open segment is discarded instead of published, since another
// member may already own the partitions. A record at an offset the sink does
// not expect (left over from a revoked assignment, or before the resume
// point) is dropped and counted.
//
// Several hosts, one directory: the members of a group may run on several
// machines (or as several processes of one), each under its own host name
// (options.host), all publishing into one shared directory. Resume points
// are taken from every host's segments alike. A segment never holds records
// of a partition after its revocation: what cannot be published before the
// revocation completes is discarded. Before each publish the directory is
// read again, and if another writer has published the partition past where
// the open segment begins (this process lost it without being told), the
// segment is discarded and the publish fails. Init removes the temporary
// files of dead writers of this host name only. What the shared filesystem
// must guarantee: docs/operations.md ("Several hosts, one directory").
//
//   KafkaSegmentSink sink(options, raw_store);   // raw_store may be null
//   PV_RETURN_IF_ERROR(sink.Init());
//   consumer options.rebalance_listener = &sink;  ... Create, Subscribe ...
//   sink.set_consumer(consumer.get());
//   while (...) {
//     PV_RETURN_IF_ERROR(sink.Append(message.record()));
//     PV_RETURN_IF_ERROR(sink.PublishIfDue());
//   }
//   PV_RETURN_IF_ERROR(sink.PublishOpen());
//
// Threading: everything runs on the consumer's polling thread (librdkafka
// calls the listener methods from Poll and Close). Every member of a group
// must use the same directory: it is where the offsets live.
//
// Errors: after an error from Append or a publish the open segment is gone
// (its records are consumed again after a restart) and its partitions are
// not consumed by this sink until they are assigned again; the caller
// should stop, as consume does.
#ifndef PV_INGEST_KAFKA_SEGMENT_SINK_H_
#define PV_INGEST_KAFKA_SEGMENT_SINK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/ingest/raw_store.h"
#include "cc/kafka/types.h"
#include "cc/segment/catalogue.h"
#include "cc/segment/rolling_writer.h"

namespace pv::ingest {

struct KafkaSegmentSinkOptions {
  std::string dir;    // the segments directory; must exist
  std::string topic;  // the one topic consumed
  segment::Codec codec = segment::Codec::kZstd;
  uint64_t roll_bytes = uint64_t{256} << 20;
  absl::Duration roll_age = absl::Minutes(5);
  std::string host;  // in segment names; empty: this machine's name
};

// What the sink did, for the summary.
struct ConsumeTotals {
  uint64_t messages = 0, bytes = 0;   // appended to segments
  uint64_t segments = 0, segment_bytes = 0;
  uint64_t duplicates_dropped = 0;    // records at offsets already consumed
  // Offsets the topic holds no record at for a read_committed reader
  // (transaction markers, aborted transactions, compaction), in how many runs.
  uint64_t gaps = 0;
  uint64_t offsets_skipped = 0;
  uint64_t abandoned = 0;             // open segments discarded (assignment lost)
  absl::Time last_published = absl::InfinitePast();  // when the last segment was
};

class KafkaSegmentSink : public kafka::RebalanceListener {
 public:
  // `raw_store` is borrowed (may be null) and must outlive the sink.
  KafkaSegmentSink(KafkaSegmentSinkOptions options, RawStore* raw_store);
  ~KafkaSegmentSink() override;

  // Takes the writer lock of (directory, host, topic), removes the temporary
  // files of dead writers under this host name (never another host's), and
  // reads the published segments of the directory (an unreadable one is an
  // error naming it: resuming without its offsets could lose or duplicate).
  absl::Status Init();
  size_t published_at_start() const { return published_at_start_; }
  int temp_files_removed_at_start() const { return temp_files_removed_at_start_; }

  // The consumer to commit to and ask for watermarks; borrowed, may change.
  void set_consumer(kafka::ConsumerControl* consumer) { consumer_ = consumer; }

  // RebalanceListener: resume points from the published segments; publish
  // before a revocation, discard when the assignment was lost.
  absl::Status OnAssign(std::vector<kafka::TopicPartitionOffset>* partitions) override;
  absl::Status OnRevoke(const std::vector<kafka::TopicPartitionOffset>& partitions,
                        bool lost) override;

  // Appends one consumed record (and hands it to the raw store). Errors name
  // topic, partition and offset.
  absl::Status Append(const kafka::ConsumedRecord& record);

  // Publishes the open segment when it reached its size or age.
  absl::Status PublishIfDue();

  // Flushes the raw store, publishes the open segment (if any; it is
  // discarded instead when the consumer reports the assignment lost) and
  // commits its offsets to Kafka for lag tools (a failed commit is only a
  // warning). kFailedPrecondition, the segment discarded, when another
  // writer published one of its partitions meanwhile (CheckNoOtherWriter).
  absl::Status PublishOpen();

  // For lag tools (and pv_consume_partition_lag, librdkafka's committed
  // lag): commits the consumer's position of every partition that has
  // nothing in the open segment and whose position ran past the last
  // committed offset, i.e. past transaction markers or aborted records
  // after the published ones. Without it a partition ending in a marker
  // would show a lag of 1 for ever. Never a resume point (those come from
  // the segments); a failed commit is only a warning.
  void CommitIdlePositions();

  // Whether every assigned partition has been read up to its high watermark
  // (asked from the leaders). False while nothing is assigned.
  absl::StatusOr<bool> AtEnd();

  // "p0=12 p1=0 p2=?" from cached watermarks, and the total where known.
  std::string LagText(int64_t* total) const;

  const ConsumeTotals& totals() const { return totals_; }

 private:
  // Discards the open segment (logging `why`) and drops its partitions from
  // next_: their records were read here but are nowhere on disk.
  void Abandon(absl::string_view why);
  // Reads the directory again; if a partition of the open segment was
  // published past the segment's start position by another writer, discards
  // the segment and returns kFailedPrecondition naming the partition and
  // the other segment. Narrows, but cannot close, the window in which a
  // member that lost its partitions unknowingly publishes them too: there
  // is no fencing between the check and the rename.
  absl::Status CheckNoOtherWriter();
  // Commits `offsets` to Kafka and remembers them; a failure is a warning
  // that starts with `what`.
  void CommitForLagTools(const std::vector<kafka::TopicPartitionOffset>& offsets,
                         absl::string_view what);

  const KafkaSegmentSinkOptions options_;
  RawStore* const raw_store_;
  kafka::ConsumerControl* consumer_ = nullptr;
  segment::SegmentCatalogue catalogue_;
  segment::RollingSegmentWriter writer_;
  size_t published_at_start_ = 0;
  int temp_files_removed_at_start_ = 0;
  // Assigned partitions -> next offset expected (-1: from the beginning,
  // whatever it is now).
  absl::flat_hash_map<int32_t, int64_t> next_;
  // Partitions in the open segment -> where the consumer stood before their
  // first record in it (the segment's start position).
  absl::flat_hash_map<int32_t, int64_t> open_start_;
  // Partitions -> the offset last committed to Kafka.
  absl::flat_hash_map<int32_t, int64_t> committed_;
  ConsumeTotals totals_;
};

}  // namespace pv::ingest

#endif  // PV_INGEST_KAFKA_SEGMENT_SINK_H_
