// Resumption from published segments, and the naming of segments this
// process writes, for the ingestion stages (consume, mongo_export).
//
// The published segments of a directory are the source of truth for what was
// ingested: a Kafka partition resumes at (largest last_offset of any
// published segment of the topic) + 1, a MongoDB export after the last _id of
// the newest published segment of the collection. Kafka's committed offsets
// are only informational.
//
//   PublishedSegments published(dir);
//   PV_RETURN_IF_ERROR(published.Refresh());
//   absl::flat_hash_map<int32_t, int64_t> next = published.NextKafkaOffsets(topic);
//
// Temporary files: a SegmentWriter writes ".<name>.tmp" until it publishes. A
// writer killed with SIGKILL leaves that file behind. Names made by
// SegmentNamer embed the writer's pid and host, so RemoveDeadWritersTempFiles
// can delete exactly the temporary files whose writer process no longer
// exists on this host, and leaves every other one alone (writers that are
// alive, other hosts sharing the directory, other tools' names).
#ifndef PV_INGEST_OFFSETS_H_
#define PV_INGEST_OFFSETS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/segment/segment.h"

namespace pv::ingest {

// This host's name reduced to [A-Za-z0-9_] (at most 64 characters), as
// segment names carry it.
std::string SanitizedHostName();

// "<source>-<UTC yyyymmddTHHMMSS.mmm>-<seq, 6 digits>-<pid>-<host>" (the
// SegmentWriter appends ".pvseg"); `source` reduced to [A-Za-z0-9._-] and at
// most 100 characters, `host` as SanitizedHostName() gives it.
std::string MakeSegmentName(absl::string_view source, int64_t unix_ms, uint64_t seq,
                            int64_t pid, absl::string_view host);

// Segment names for one source, in publish order within this process: the
// millisecond is strictly increasing across every SegmentNamer of the process
// and the sequence number grows. Not thread-safe.
class SegmentNamer {
 public:
  explicit SegmentNamer(std::string source);
  std::string Next();

 private:
  std::string source_;
  std::string host_;
  int64_t pid_;
  uint64_t seq_ = 0;
};

// The writer of a temporary file named after MakeSegmentName, parsed from
// its file name (".<name>.pvseg.tmp"); nullopt for any other name.
struct TempFileOwner {
  int64_t pid = 0;
  std::string host;
};
std::optional<TempFileOwner> ParseTempFileOwner(absl::string_view file_name);

// Deletes the temporary files in `dir` named by SegmentNamer on this host whose
// writer process is gone (`process_alive(pid)` false; by default kill(pid, 0)
// says ESRCH). Returns how many it deleted; logs each. A reused pid only
// means a stale file stays until the next start.
absl::StatusOr<int> RemoveDeadWritersTempFiles(
    const std::string& dir, std::function<bool(int64_t)> process_alive = nullptr);

// The footers of the published segments of one directory, cached by file
// name (a segment's footer never changes once published). Not thread-safe.
class PublishedSegments {
 public:
  explicit PublishedSegments(std::string dir) : dir_(std::move(dir)) {}

  // Lists the directory again, reads the footers of segments not seen before
  // and forgets the ones that disappeared. A published segment that cannot
  // be opened is an error naming it: resuming without its offsets could
  // duplicate or skip records, so the caller must stop.
  absl::Status Refresh();

  // Records a segment this process has just published (no re-read needed).
  void Add(const segment::SegmentInfo& info);

  // For every partition of `topic` found in Kafka segments: the next offset
  // to consume, 1 + the largest last_offset.
  absl::flat_hash_map<int32_t, int64_t> NextKafkaOffsets(absl::string_view topic) const;

  // The newest (largest created_unix_ms, then file name) non-empty segment
  // of `kind` and `source`, or null. Valid until the next Refresh().
  const segment::SegmentInfo* Newest(segment::SourceKind kind,
                                     absl::string_view source) const;

  size_t size() const { return by_name_.size(); }

 private:
  std::string dir_;
  std::map<std::string, segment::SegmentInfo> by_name_;  // file name -> info
};

}  // namespace pv::ingest

#endif  // PV_INGEST_OFFSETS_H_
