// Internal to the mirror library: what both delivery modes share. The
// at-least-once loop is in mirror.cc, the exactly-once one in
// mirror_exactly_once.cc; RunMirror picks one.
#ifndef PV_INGEST_MIRROR_INTERNAL_H_
#define PV_INGEST_MIRROR_INTERNAL_H_

#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cc/ingest/mirror.h"
#include "cc/kafka/kafka.h"

namespace pv::ingest::internal {

inline constexpr absl::Duration kPollTimeout = absl::Milliseconds(100);

// The clients' configurations with the mirror's defaults, and the topics as
// found (and created) at start-up.
struct MirrorSetup {
  kafka::KafkaConfig source;       // consumer
  kafka::KafkaConfig destination;  // producer
  std::string src_where;           // "source topic T (brokers B)"
  std::string dst_where;
  std::string source_cluster_id;   // exactly-once only
  absl::Time started;              // when RunMirror began
};

// Checks the options, finds (or creates) the destination topic, the source
// topic and, for exactly-once, the checkpoint topic; fills the partition
// counts of *summary.
absl::Status PrepareMirror(const MirrorOptions& options, MirrorSetup* setup,
                           MirrorSummary* summary);

absl::Status RunAtLeastOnce(const MirrorOptions& options, const MirrorSetup& setup,
                            MirrorSummary* summary);
absl::Status RunExactlyOnce(const MirrorOptions& options, const MirrorSetup& setup,
                            MirrorSummary* summary);

// Messages not yet read from the assigned partitions of `topic`, from the
// high watermarks the consumer cached with its last fetches, given the next
// offset to read per partition; -1 when unknown.
int64_t Lag(const kafka::Consumer& consumer, const std::string& topic,
            const absl::flat_hash_map<int32_t, int64_t>& next_offset);

// With `metrics` (may be null: nothing), librdkafka's statistics of the
// destination producer and the source consumer feed it.
void FeedStatistics(MirrorMetrics* metrics, kafka::ProducerOptions* producer,
                    kafka::ConsumerOptions* consumer);

// With `metrics` (may be null: nothing), the clients' running figures and
// the messages still to mirror.
void UpdateMetrics(MirrorMetrics* metrics, const kafka::Producer& producer,
                   const kafka::Consumer& consumer, int64_t backlog, absl::Time now);

}  // namespace pv::ingest::internal

#endif  // PV_INGEST_MIRROR_INTERNAL_H_
