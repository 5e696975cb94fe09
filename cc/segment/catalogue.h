// SegmentCatalogue: what the published segments of one directory hold, from
// their footers, for the ingestion stages that resume from them.
//
// The published segments are the source of truth for what was ingested: a
// Kafka partition resumes at the largest end position of any published
// segment of the topic, a MongoDB export after the last _id of the newest
// published segment of the collection. Kafka's committed offsets are only
// informational.
//
//   SegmentCatalogue catalogue(dir);
//   PV_RETURN_IF_ERROR(catalogue.Refresh());
//   absl::flat_hash_map<int32_t, int64_t> next = catalogue.NextKafkaOffsets(topic);
//
// Footers are cached by file name (a published segment never changes), so a
// Refresh reads only segments it has not seen. Not thread-safe.
#ifndef PV_SEGMENT_CATALOGUE_H_
#define PV_SEGMENT_CATALOGUE_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "cc/segment/segment.h"

namespace pv::segment {

class SegmentCatalogue {
 public:
  explicit SegmentCatalogue(std::string dir) : dir_(std::move(dir)) {}

  // Lists the directory again, reads the footers of segments not seen before
  // and forgets the ones that disappeared. A published segment that cannot
  // be opened is an error naming it: resuming without its offsets could
  // duplicate or skip records, so the caller must stop.
  absl::Status Refresh();

  // Records a segment this process has just published (no re-read needed).
  void Add(const SegmentInfo& info);

  // For every partition of `topic` found in Kafka segments: the next offset
  // to consume, the largest end position (1 + the largest last_offset, or
  // past the transaction markers the consumer had read; see PartitionRange).
  absl::flat_hash_map<int32_t, int64_t> NextKafkaOffsets(absl::string_view topic) const;

  // The newest (largest created_unix_ms, then file name) non-empty segment
  // of `kind` and `source`, or null. Valid until the next Refresh().
  const SegmentInfo* Newest(SourceKind kind, absl::string_view source) const;

  size_t size() const { return by_name_.size(); }
  // File name -> footer of every segment known, by name.
  const std::map<std::string, SegmentInfo>& segments() const { return by_name_; }

 private:
  std::string dir_;
  std::map<std::string, SegmentInfo> by_name_;
};

}  // namespace pv::segment

#endif  // PV_SEGMENT_CATALOGUE_H_
