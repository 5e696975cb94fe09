#include "cc/segment/rolling_writer.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"

namespace pv::segment {

RollingSegmentWriter::RollingSegmentWriter(RollingWriterOptions options)
    : options_(std::move(options)), namer_(options_.source, options_.host) {}

RollingSegmentWriter::~RollingSegmentWriter() { Abandon(); }

absl::Status RollingSegmentWriter::Lock(absl::string_view program) {
  if (lock_ != nullptr) return absl::OkStatus();
  PV_ASSIGN_OR_RETURN(lock_,
                      WriterLock::Acquire(options_.dir, namer_.host(), options_.source, program));
  return absl::OkStatus();
}

absl::StatusOr<int> RollingSegmentWriter::RemoveDeadWritersTempFiles() {
  return segment::RemoveDeadWritersTempFiles(options_.dir, namer_.host());
}

absl::Status RollingSegmentWriter::Append(const RecordMeta& meta, absl::string_view payload) {
  if (lock_ == nullptr) {
    return absl::FailedPreconditionError("RollingSegmentWriter: Append before Lock");
  }
  if (writer_ == nullptr) {
    WriterOptions o;
    o.dir = options_.dir;
    o.kind = options_.kind;
    o.source = options_.source;
    o.codec = options_.codec;
    o.level = options_.level;
    o.name = namer_.Next();
    PV_ASSIGN_OR_RETURN(writer_, SegmentWriter::Create(o));
    opened_ = absl::Now();
  }
  return writer_->Append(meta, payload);
}

bool RollingSegmentWriter::Due() const {
  return writer_ != nullptr && (writer_->payload_bytes() >= options_.roll_bytes ||
                                absl::Now() - opened_ >= options_.roll_age);
}

absl::StatusOr<std::optional<SegmentInfo>> RollingSegmentWriter::PublishIfDue() {
  if (!Due()) return std::nullopt;
  return Publish();
}

absl::StatusOr<std::optional<SegmentInfo>> RollingSegmentWriter::Publish() {
  if (writer_ == nullptr) return std::nullopt;
  std::unique_ptr<SegmentWriter> writer = std::move(writer_);
  PV_ASSIGN_OR_RETURN(SegmentInfo info, writer->Publish());
  ++segments_published_;
  bytes_published_ += info.file_bytes;
  std::vector<std::string> ranges;
  for (const PartitionRange& r : info.ranges) {
    ranges.push_back(r.partition < 0 ? absl::StrCat(r.first_offset, "-", r.last_offset)
                                     : absl::StrCat(r.partition, ":", r.first_offset, "-",
                                                    r.last_offset));
  }
  PV_LOG(INFO) << "published " << info.path << " (" << info.records << " records, "
               << info.file_bytes << " bytes; "
               << (info.kind == SourceKind::kKafka ? "partition:offsets " : "sequence ")
               << absl::StrJoin(ranges, " ")
               << (info.first_source_id.empty()
                       ? ""
                       : absl::StrCat("; _id ", info.first_source_id, " .. ",
                                      info.last_source_id))
               << ")";
  return info;
}

void RollingSegmentWriter::Abandon() {
  if (writer_ == nullptr) return;
  writer_->Abandon();
  writer_.reset();
}

}  // namespace pv::segment
