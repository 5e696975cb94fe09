// SegmentWriter: builds blocks in memory, writes them to a hidden temporary
// file, and publishes with fsync + no-replace rename + directory fsync.
#include <fcntl.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/crash_point.h"
#include "cc/common/status.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"
#include "cc/segment/format.h"
#include "cc/segment/naming.h"
#include "cc/segment/segment.h"

namespace pv::segment {
namespace {

using internal::PutFixed32;
using internal::PutFixed64;
using internal::PutLengthPrefixed;
using internal::PutVarint;
using internal::ZigZag;

// Wrapping difference, so extreme values never overflow a signed type; the
// reader adds back with the same wrap.
int64_t WrappingDelta(int64_t value, int64_t previous) {
  return static_cast<int64_t>(static_cast<uint64_t>(value) -
                              static_cast<uint64_t>(previous));
}

absl::Status FsyncDirectory(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync directory", dir);
  return absl::OkStatus();
}

// rename(2) that never replaces an existing file: a segment name, once
// published, always means the same bytes.
absl::Status RenameNoReplace(const std::string& from, const std::string& to) {
  if (renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return absl::OkStatus();
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return ErrnoStatus(errno, "rename", absl::StrCat(from, " to ", to));
  }
  // Filesystems without RENAME_NOREPLACE: link(2) also refuses to replace.
  if (link(from.c_str(), to.c_str()) != 0) {
    return ErrnoStatus(errno, "link", absl::StrCat(from, " to ", to));
  }
  unlink(from.c_str());
  return absl::OkStatus();
}

}  // namespace

absl::string_view SourceKindName(SourceKind kind) {
  switch (kind) {
    case SourceKind::kKafka:
      return "kafka";
    case SourceKind::kMongoDb:
      return "mongodb";
    case SourceKind::kFile:
      return "file";
  }
  return "unknown";
}

absl::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZstd:
      return "zstd";
    case Codec::kLz4:
      return "lz4";
  }
  return "unknown";
}

absl::StatusOr<Codec> ParseCodec(absl::string_view name) {
  for (Codec c : {Codec::kZstd, Codec::kLz4, Codec::kNone}) {
    if (name == CodecName(c)) return c;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown codec '", name, "': expected zstd, lz4 or none"));
}

struct SegmentWriter::Compressor {
  Codec codec = Codec::kNone;
  int level = 0;
  ZSTD_CCtx* zstd = nullptr;
  std::unique_ptr<char[]> lz4_state;

  ~Compressor() { ZSTD_freeCCtx(zstd); }

  // Compresses `body` into `*out`; returns false if the codec failed.
  bool Compress(absl::string_view body, std::string* out) {
    switch (codec) {
      case Codec::kNone:
        return false;
      case Codec::kZstd: {
        out->resize(ZSTD_compressBound(body.size()));
        size_t n = ZSTD_compressCCtx(zstd, out->data(), out->size(), body.data(),
                                     body.size(), level);
        if (ZSTD_isError(n)) return false;
        out->resize(n);
        return true;
      }
      case Codec::kLz4: {
        out->resize(LZ4_compressBound(static_cast<int>(body.size())));
        int n = level >= 2
                    ? LZ4_compress_HC_extStateHC(lz4_state.get(), body.data(),
                                                 out->data(), static_cast<int>(body.size()),
                                                 static_cast<int>(out->size()), level)
                    : LZ4_compress_fast_extState(lz4_state.get(), body.data(),
                                                 out->data(), static_cast<int>(body.size()),
                                                 static_cast<int>(out->size()), 1);
        if (n <= 0) return false;
        out->resize(n);
        return true;
      }
    }
    return false;
  }
};

SegmentWriter::SegmentWriter(const WriterOptions& options) : options_(options) {}

SegmentWriter::~SegmentWriter() {
  if (!done_) Abandon();
}

absl::StatusOr<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(
    const WriterOptions& options) {
  if (options.dir.empty()) return absl::InvalidArgumentError("segment writer: empty dir");
  if (options.source.size() > format::kMaxSourceNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment writer: source name longer than ", format::kMaxSourceNameBytes, " bytes"));
  }
  if (options.kind != SourceKind::kKafka && options.kind != SourceKind::kMongoDb &&
      options.kind != SourceKind::kFile) {
    return absl::InvalidArgumentError("segment writer: unknown source kind");
  }
  if (options.codec != Codec::kNone && options.codec != Codec::kZstd &&
      options.codec != Codec::kLz4) {
    return absl::InvalidArgumentError("segment writer: unknown codec");
  }
  if (options.block_bytes == 0 || options.block_bytes > format::kMaxBlockBodyBytes / 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment writer: block_bytes must be in [1, ", format::kMaxBlockBodyBytes / 2, "]"));
  }
  std::string name = options.name.empty() ? DefaultSegmentName(options.source) : options.name;
  if (!absl::EndsWith(name, format::kSegmentSuffix)) absl::StrAppend(&name, format::kSegmentSuffix);
  if (absl::StartsWith(name, ".") || absl::StrContains(name, "/") ||
      name.size() == strlen(format::kSegmentSuffix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment writer: invalid segment name \"", name,
                     "\" (must not be empty, start with '.' or contain '/')"));
  }

  std::unique_ptr<SegmentWriter> writer(new SegmentWriter(options));
  writer->final_path_ = absl::StrCat(options.dir, "/", name);
  writer->temp_path_ = absl::StrCat(options.dir, "/", format::kTempPrefix, name,
                                    format::kTempSuffix);
  struct stat st;
  if (lstat(writer->final_path_.c_str(), &st) == 0) {
    writer->done_ = true;  // nothing to clean up
    return absl::AlreadyExistsError(
        absl::StrCat("segment ", writer->final_path_, " already exists"));
  }

  auto compressor = std::make_unique<Compressor>();
  compressor->codec = options.codec;
  compressor->level = options.level;
  if (options.codec == Codec::kZstd) {
    compressor->zstd = ZSTD_createCCtx();
    if (compressor->zstd == nullptr) {
      writer->done_ = true;
      return absl::ResourceExhaustedError("segment writer: ZSTD_createCCtx failed");
    }
  } else if (options.codec == Codec::kLz4) {
    compressor->lz4_state.reset(
        new char[std::max(LZ4_sizeofState(), LZ4_sizeofStateHC())]);
  }
  writer->compressor_ = std::move(compressor);

  writer->fd_ = open(writer->temp_path_.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (writer->fd_ < 0) {
    writer->done_ = true;  // the temp file is not ours to delete
    return ErrnoStatus(errno, "create", writer->temp_path_);
  }

  writer->created_unix_ms_ = absl::ToUnixMillis(absl::Now());
  const std::string& source = options.source;
  std::string header(format::kHeaderFixedSize + source.size() + format::kCrcSize, '\0');
  std::memcpy(header.data(), format::kFileMagic, format::kMagicSize);
  PutFixed32(&header[format::kHeaderVersionOffset], format::kFormatVersion);
  PutFixed32(&header[format::kHeaderSizeOffset], static_cast<uint32_t>(header.size()));
  header[format::kHeaderKindOffset] = static_cast<char>(options.kind);
  header[format::kHeaderCodecOffset] = static_cast<char>(options.codec);
  PutFixed64(&header[format::kHeaderCreatedOffset],
             static_cast<uint64_t>(writer->created_unix_ms_));
  PutFixed32(&header[format::kHeaderSourceLengthOffset], static_cast<uint32_t>(source.size()));
  std::memcpy(&header[format::kHeaderFixedSize], source.data(), source.size());
  size_t crc_at = format::kHeaderFixedSize + source.size();
  PutFixed32(&header[crc_at], Crc32c(header.data(), crc_at));
  PV_RETURN_IF_ERROR(writer->WriteAll(header.data(), header.size()));
  return writer;
}

absl::Status SegmentWriter::Fail(absl::Status status) {
  if (error_.ok()) error_ = status;
  return status;
}

absl::Status SegmentWriter::WriteAll(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = write(fd_, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(ErrnoStatus(errno, "write", temp_path_));
    }
    data += n;
    size -= static_cast<size_t>(n);
    file_offset_ += static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SegmentWriter::Append(const RecordMeta& meta, absl::string_view payload) {
  if (done_) return absl::FailedPreconditionError("segment writer already published or abandoned");
  if (!error_.ok()) return error_;
  // Bound on the encoded record: three 10-byte varints of coordinates, three
  // 10-byte length prefixes, and the bytes.
  const uint64_t bytes = uint64_t{meta.key.size()} + meta.source_id.size() + payload.size();
  if (bytes > format::kMaxBlockBodyBytes - 60) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment ", final_path_, ": record of ", bytes, " bytes exceeds the format limit of ",
        format::kMaxBlockBodyBytes - 60));
  }
  const uint64_t encoded_bound = bytes + 60;

  auto range = ranges_.find(meta.partition);
  if (range != ranges_.end() && options_.kind == SourceKind::kKafka &&
      meta.offset <= range->second.last_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment ", final_path_, ": partition ", meta.partition, " offset ", meta.offset,
        " is not after the last appended offset ", range->second.last_offset));
  }
  if (block_records_ > 0 && block_body_.size() + encoded_bound > format::kMaxBlockBodyBytes) {
    PV_RETURN_IF_ERROR(FlushBlock());
  }

  PutVarint(&block_body_, ZigZag(int64_t{meta.partition} - prev_partition_));
  PutVarint(&block_body_, ZigZag(WrappingDelta(meta.offset, prev_offset_)));
  PutVarint(&block_body_, ZigZag(WrappingDelta(meta.timestamp_ms, prev_timestamp_ms_)));
  PutLengthPrefixed(&block_body_, meta.key);
  PutLengthPrefixed(&block_body_, meta.source_id);
  PutLengthPrefixed(&block_body_, payload);
  prev_partition_ = meta.partition;
  prev_offset_ = meta.offset;
  prev_timestamp_ms_ = meta.timestamp_ms;
  ++block_records_;

  if (range == ranges_.end()) {
    ranges_.emplace(meta.partition,
                    PartitionRange{meta.partition, meta.offset, meta.offset, 1});
  } else {
    range->second.last_offset = meta.offset;
    ++range->second.records;
  }
  if (records_ == 0) first_source_id_ = std::string(meta.source_id);
  last_source_id_.assign(meta.source_id.data(), meta.source_id.size());
  ++records_;
  payload_bytes_ += payload.size();

  if (block_body_.size() >= options_.block_bytes) return FlushBlock();
  return absl::OkStatus();
}

absl::Status SegmentWriter::FlushBlock() {
  if (block_records_ == 0) return absl::OkStatus();
  Codec codec = options_.codec;
  absl::string_view stored = block_body_;
  if (codec != Codec::kNone) {
    if (compressor_->Compress(block_body_, &stored_) && stored_.size() < block_body_.size()) {
      stored = stored_;
    } else {
      codec = Codec::kNone;  // incompressible (or codec failure): store raw
    }
  }

  char header[format::kBlockHeaderSize] = {};
  PutFixed32(header + format::kBlockUncompressedSizeOffset,
             static_cast<uint32_t>(block_body_.size()));
  PutFixed32(header + format::kBlockStoredSizeOffset, static_cast<uint32_t>(stored.size()));
  PutFixed32(header + format::kBlockRecordCountOffset, block_records_);
  header[format::kBlockCodecOffset] = static_cast<char>(codec);
  uint32_t crc = Crc32c(header, format::kBlockCrcOffset);
  crc = Crc32cExtend(crc, stored.data(), stored.size());
  PutFixed32(header + format::kBlockCrcOffset, crc);

  BlockEntry entry{file_offset_, format::kBlockHeaderSize + stored.size(), block_body_.size(),
                   block_records_};
  PV_RETURN_IF_ERROR(WriteAll(header, sizeof(header)));
  PV_RETURN_IF_ERROR(WriteAll(stored.data(), stored.size()));
  blocks_.push_back(entry);

  block_body_.clear();
  block_records_ = 0;
  prev_partition_ = -1;
  prev_offset_ = 0;
  prev_timestamp_ms_ = 0;
  return absl::OkStatus();
}

absl::StatusOr<SegmentInfo> SegmentWriter::Publish() {
  if (done_) return absl::FailedPreconditionError("segment writer already published or abandoned");
  absl::Status status = error_.ok() ? FlushBlock() : error_;
  if (!status.ok()) {
    Abandon();
    return status;
  }

  SegmentInfo info;
  info.path = final_path_;
  info.kind = options_.kind;
  info.source = options_.source;
  info.codec = options_.codec;
  info.records = records_;
  info.blocks = blocks_.size();
  info.payload_bytes = payload_bytes_;
  info.first_source_id = first_source_id_;
  info.last_source_id = last_source_id_;
  info.created_unix_ms = created_unix_ms_;
  info.format_version = format::kFormatVersion;
  for (auto [partition, range] : ranges_) {
    range.start_position = range.first_offset;
    range.end_position = static_cast<int64_t>(static_cast<uint64_t>(range.last_offset) + 1);
    if (auto it = positions_.find(partition); it != positions_.end()) {
      const auto [start, end] = it->second;
      if (start > range.first_offset || end <= range.last_offset) {
        status = absl::InvalidArgumentError(absl::StrCat(
            "segment ", final_path_, ": partition ", partition, " positions [", start, ", ",
            end, ") do not cover its offsets ", range.first_offset, "..", range.last_offset));
        Abandon();
        return status;
      }
      range.start_position = start;
      range.end_position = end;
    }
    info.ranges.push_back(range);
  }
  std::sort(info.ranges.begin(), info.ranges.end(),
            [](const PartitionRange& a, const PartitionRange& b) {
              return a.partition < b.partition;
            });

  std::string footer;
  PutVarint(&footer, records_);
  PutVarint(&footer, payload_bytes_);
  PutVarint(&footer, blocks_.size());
  for (const BlockEntry& b : blocks_) {
    PutVarint(&footer, b.offset);
    PutVarint(&footer, b.disk_size);
    PutVarint(&footer, b.body_size);
    PutVarint(&footer, b.records);
  }
  PutVarint(&footer, info.ranges.size());
  for (const PartitionRange& r : info.ranges) {
    PutVarint(&footer, ZigZag(r.partition));
    PutVarint(&footer, ZigZag(r.first_offset));
    PutVarint(&footer, ZigZag(r.last_offset));
    PutVarint(&footer, r.records);
    PutVarint(&footer, ZigZag(r.start_position));
    PutVarint(&footer, ZigZag(r.end_position));
  }
  PutLengthPrefixed(&footer, first_source_id_);
  PutLengthPrefixed(&footer, last_source_id_);
  char crc[format::kCrcSize];
  info.footer_crc = Crc32c(footer.data(), footer.size());
  PutFixed32(crc, info.footer_crc);
  footer.append(crc, sizeof(crc));

  char trailer[format::kTrailerSize] = {};
  PutFixed64(trailer + format::kTrailerFooterOffsetOffset, file_offset_);
  PutFixed32(trailer + format::kTrailerFooterSizeOffset, static_cast<uint32_t>(footer.size()));
  PutFixed32(trailer + format::kTrailerCrcOffset, Crc32c(trailer, format::kTrailerCrcOffset));
  std::memcpy(trailer + format::kTrailerEndMagicOffset, format::kEndMagic, format::kMagicSize);
  footer.append(trailer, sizeof(trailer));

  status = WriteAll(footer.data(), footer.size());
  if (status.ok() && fsync(fd_) != 0) status = ErrnoStatus(errno, "fsync", temp_path_);
  if (status.ok()) {
    int rc = close(fd_);
    fd_ = -1;
    if (rc != 0) status = ErrnoStatus(errno, "close", temp_path_);
  }
  if (status.ok()) {
    CrashPoint("segment.before_rename");  // complete and durable, still hidden
    status = RenameNoReplace(temp_path_, final_path_);
  }
  if (!status.ok()) {
    Abandon();
    return status;
  }
  done_ = true;
  info.file_bytes = file_offset_;
  CrashPoint("segment.after_rename");  // visible, the directory not yet synced
  // The rename is in place; if the directory cannot be synced its durability
  // across a power loss is unknown, which the caller must hear about.
  PV_RETURN_IF_ERROR(FsyncDirectory(options_.dir), "segment ", final_path_,
                     " renamed but not durable");
  return info;
}

void SegmentWriter::SetPositions(int32_t partition, int64_t start, int64_t end) {
  positions_[partition] = {start, end};
}

void SegmentWriter::Abandon() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (!done_) unlink(temp_path_.c_str());
  done_ = true;
}

}  // namespace pv::segment
