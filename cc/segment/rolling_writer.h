// RollingSegmentWriter: the one way the ingestion stages (consume, import,
// mongo_export, datagen) write segments: open a segment on the first record,
// append, publish it when it reaches a size or an age (or when told to), then
// open the next one on the next record. Names come from cc/segment/naming.h.
//
//   RollingWriterOptions o;
//   o.dir = dir;  o.kind = SourceKind::kFile;  o.source = "events.ndjson";
//   o.roll_bytes = 256 << 20;
//   RollingSegmentWriter writer(o);
//   PV_RETURN_IF_ERROR(writer.Lock("import"));
//   PV_RETURN_IF_ERROR(writer.RemoveDeadWritersTempFiles().status());
//   for (...) {
//     PV_RETURN_IF_ERROR(writer.Append(meta, payload));
//     PV_ASSIGN_OR_RETURN(auto published, writer.PublishIfDue());
//   }
//   PV_ASSIGN_OR_RETURN(auto last, writer.Publish());
//
// Each published segment is logged ("published <path> (N records, ...)") and
// counted. Until it is published a segment is a hidden temporary file that a
// crash leaves behind; a stage that calls RemoveDeadWritersTempFiles at its
// next start under the same host name removes it (consume and mongo_export
// do). Not thread-safe.
#ifndef PV_SEGMENT_ROLLING_WRITER_H_
#define PV_SEGMENT_ROLLING_WRITER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cc/segment/naming.h"
#include "cc/segment/segment.h"
#include "cc/segment/writer_lock.h"

namespace pv::segment {

struct RollingWriterOptions {
  std::string dir;  // must exist
  SourceKind kind = SourceKind::kKafka;
  std::string source;
  Codec codec = Codec::kZstd;
  int level = 1;
  // Publish once the open segment holds this many payload bytes...
  uint64_t roll_bytes = uint64_t{256} << 20;
  // ... or once its first record is this old (PublishIfDue).
  absl::Duration roll_age = absl::InfiniteDuration();
  // Host name in the segment names (empty: this machine's).
  std::string host;
};

class RollingSegmentWriter {
 public:
  explicit RollingSegmentWriter(RollingWriterOptions options);
  // Abandons the open segment, if any (its records were never published).
  ~RollingSegmentWriter();
  RollingSegmentWriter(const RollingSegmentWriter&) = delete;
  RollingSegmentWriter& operator=(const RollingSegmentWriter&) = delete;

  // Takes the directory's WriterLock for this host and source (see
  // writer_lock.h), held until the writer is destroyed; `program` names this
  // process to a rival. Required before the first Append.
  absl::Status Lock(absl::string_view program);

  // Deletes the temporary files that dead writers under this writer's host
  // name left in the directory (naming.h's RemoveDeadWritersTempFiles with
  // options().host), never those of another host name or of a live process;
  // returns how many. Call it after Lock(), before the first Append: the lock
  // holds off a live writer of this host and source, and the stage's own
  // temporary file does not exist yet.
  absl::StatusOr<int> RemoveDeadWritersTempFiles();

  // Appends one record (SegmentWriter::Append's contract), opening a segment
  // first when none is open. kFailedPrecondition before Lock().
  absl::Status Append(const RecordMeta& meta, absl::string_view payload);

  // Whether a segment is open and reached roll_bytes or roll_age.
  bool Due() const;

  // Publishes the open segment if Due(); returns its info, or nullopt when
  // nothing was due.
  absl::StatusOr<std::optional<SegmentInfo>> PublishIfDue();

  // Publishes the open segment now; nullopt when none is open. After an
  // error the segment is abandoned (SegmentWriter::Publish).
  absl::StatusOr<std::optional<SegmentInfo>> Publish();

  // Discards the open segment (its temporary file is removed).
  void Abandon();

  // The open segment's writer (for its record count or partition ranges),
  // or null when none is open.
  SegmentWriter* open() const { return writer_.get(); }

  uint64_t segments_published() const { return segments_published_; }
  uint64_t bytes_published() const { return bytes_published_; }
  const RollingWriterOptions& options() const { return options_; }

 private:
  RollingWriterOptions options_;
  SegmentNamer namer_;
  std::unique_ptr<WriterLock> lock_;
  std::unique_ptr<SegmentWriter> writer_;
  absl::Time opened_;
  uint64_t segments_published_ = 0;
  uint64_t bytes_published_ = 0;
};

}  // namespace pv::segment

#endif  // PV_SEGMENT_ROLLING_WRITER_H_
