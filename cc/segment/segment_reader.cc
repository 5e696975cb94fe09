// SegmentReader, Block and ListSegments: validate what Open can validate
// cheaply (header, trailer, footer), and check each block when it is read.
#include <dirent.h>
#include <fcntl.h>
#include <lz4.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cc/common/status.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"
#include "cc/segment/format.h"
#include "cc/segment/segment.h"

namespace pv::segment {
namespace {

using internal::ByteReader;
using internal::GetFixed32;
using internal::GetFixed64;

// Reads exactly `size` bytes at `offset`, or reports how many it got.
absl::Status PreadFully(int fd, const std::string& path, char* dst, size_t size,
                        uint64_t offset, size_t* got) {
  *got = 0;
  while (*got < size) {
    ssize_t n = pread(fd, dst + *got, size - *got, static_cast<off_t>(offset + *got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", absl::StrCat(path, " at offset ", offset + *got));
    }
    if (n == 0) break;
    *got += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

std::string Hex(const char* data, size_t size) {
  return absl::BytesToHexString(absl::string_view(data, size));
}

bool ValidCodec(uint8_t c) { return c <= static_cast<uint8_t>(Codec::kLz4); }

}  // namespace

// ---------------------------------------------------------------- Block

struct Block::Buffers {
  std::unique_ptr<char[]> disk;  // block header + stored bytes as read
  size_t disk_capacity = 0;
  std::unique_ptr<char[]> body;  // decoded body + kPayloadPadding
  size_t body_capacity = 0;
  ZSTD_DCtx* zstd = nullptr;

  ~Buffers() { ZSTD_freeDCtx(zstd); }

  static void Reserve(std::unique_ptr<char[]>* buffer, size_t* capacity, size_t size) {
    if (*capacity >= size) return;
    size_t grown = std::max(size, *capacity + *capacity / 2);
    buffer->reset(new char[grown]);
    *capacity = grown;
  }
};

Block::Block() : buffers_(std::make_unique<Buffers>()) {}
Block::~Block() = default;
Block::Block(Block&&) noexcept = default;
Block& Block::operator=(Block&&) noexcept = default;

// ---------------------------------------------------------------- Reader

SegmentReader::~SegmentReader() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<SegmentReader>> SegmentReader::Open(const std::string& path) {
  std::unique_ptr<SegmentReader> reader(new SegmentReader());
  reader->info_.path = path;
  reader->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader->fd_ < 0) return ErrnoStatus(errno, "open segment", path);
  PV_RETURN_IF_ERROR(reader->Load());
  return reader;
}

absl::Status SegmentReader::Load() {
  const std::string& path = info_.path;
  auto data_loss = [&path](auto&&... pieces) {
    return absl::DataLossError(absl::StrCat("file ", path, ": ", pieces...));
  };

  struct stat st;
  if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) return data_loss("not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  info_.file_bytes = size;
  if (size == 0) return data_loss("empty file (0 bytes) at offset 0: not a segment");

  // Magic and version are at fixed positions in every format version.
  char fixed[format::kHeaderFixedSize];
  size_t got = 0;
  PV_RETURN_IF_ERROR(PreadFully(fd_, path, fixed, std::min<uint64_t>(size, sizeof(fixed)), 0, &got));
  const size_t magic_bytes = std::min(got, format::kMagicSize);
  if (std::memcmp(fixed, format::kFileMagic, magic_bytes) != 0) {
    return data_loss("bad magic at offset 0: found ", Hex(fixed, magic_bytes), ", expected ",
                     Hex(reinterpret_cast<const char*>(format::kFileMagic), format::kMagicSize),
                     " (not a segment file)");
  }
  if (got >= format::kHeaderVersionOffset + 4) {
    uint32_t version = GetFixed32(fixed + format::kHeaderVersionOffset);
    if (version < format::kMinFormatVersion || version > format::kFormatVersion) {
      return absl::UnimplementedError(absl::StrCat(
          "file ", path, ": unsupported segment format version ", version,
          " (this build reads versions ", format::kMinFormatVersion, " to ",
          format::kFormatVersion, ") at offset ", format::kHeaderVersionOffset));
    }
    info_.format_version = version;
  }
  if (got < format::kHeaderFixedSize) {
    return data_loss("truncated or torn: file ends at offset ", size,
                     " inside the header (", format::kHeaderFixedSize, " bytes needed)");
  }
  const uint32_t header_size = GetFixed32(fixed + format::kHeaderSizeOffset);
  const uint32_t source_size = GetFixed32(fixed + format::kHeaderSourceLengthOffset);
  if (source_size > format::kMaxSourceNameBytes ||
      header_size != format::kHeaderFixedSize + source_size + format::kCrcSize) {
    return data_loss("header at offset ", format::kHeaderSizeOffset, ": header size ",
                     header_size, " inconsistent with source name length ", source_size);
  }

  // A published file always ends with the trailer; without it the file was
  // cut or never finished. Walking the block headers says where.
  auto diagnose_truncation = [&](absl::string_view what) -> absl::Status {
    uint64_t at = header_size;
    for (uint64_t k = 0;; ++k) {
      std::string prefix = absl::StrCat("truncated or torn (", what, "): ");
      if (at + format::kBlockHeaderSize > size) {
        if (at == size) {
          return data_loss(prefix, "file ends at offset ", size, " after block ",
                           k == 0 ? std::string("-") : absl::StrCat(k - 1),
                           "; footer and trailer missing (expected block ", k,
                           " or the footer at offset ", at, ")");
        }
        return data_loss(prefix, "block ", k, " or footer at offset ", at,
                         " is cut short: file ends at offset ", size);
      }
      char h[format::kBlockHeaderSize];
      size_t n = 0;
      PV_RETURN_IF_ERROR(PreadFully(fd_, path, h, sizeof(h), at, &n));
      const uint32_t body = GetFixed32(h + format::kBlockUncompressedSizeOffset);
      const uint32_t stored = GetFixed32(h + format::kBlockStoredSizeOffset);
      const uint32_t records = GetFixed32(h + format::kBlockRecordCountOffset);
      const bool looks_like_block =
          n == sizeof(h) && stored > 0 && records > 0 && body <= format::kMaxBlockBodyBytes &&
          uint64_t{records} * format::kMinRecordBytes <= body &&
          ValidCodec(static_cast<uint8_t>(h[format::kBlockCodecOffset])) &&
          h[13] == 0 && h[14] == 0 && h[15] == 0;
      if (!looks_like_block) {
        return data_loss(prefix, "footer or trailer cut short: no block header at offset ", at,
                         " after block ", k == 0 ? std::string("-") : absl::StrCat(k - 1),
                         "; file ends at offset ", size);
      }
      const uint64_t end = at + format::kBlockHeaderSize + stored;
      if (end > size) {
        return data_loss(prefix, "block ", k, " at offset ", at, " is cut short: needs ",
                         end - at, " bytes, file ends at offset ", size);
      }
      at = end;
    }
  };

  if (size < uint64_t{header_size} + format::kTrailerSize) {
    return diagnose_truncation(absl::StrCat("file of ", size, " bytes has no trailer"));
  }
  std::string header(header_size, '\0');
  PV_RETURN_IF_ERROR(PreadFully(fd_, path, header.data(), header_size, 0, &got));
  if (got != header_size) return data_loss("short read of header at offset 0");
  const size_t header_crc_at = header_size - format::kCrcSize;
  const uint32_t header_crc = Crc32c(header.data(), header_crc_at);
  if (header_crc != GetFixed32(&header[header_crc_at])) {
    return data_loss("header at offset 0: CRC32C mismatch (stored ",
                     absl::StrFormat("0x%08x", GetFixed32(&header[header_crc_at])),
                     ", computed ", absl::StrFormat("0x%08x", header_crc), ")");
  }
  const uint8_t kind = static_cast<uint8_t>(header[format::kHeaderKindOffset]);
  if (kind < 1 || kind > 3) {
    return data_loss("header at offset ", format::kHeaderKindOffset, ": unknown source kind ",
                     kind);
  }
  const uint8_t codec = static_cast<uint8_t>(header[format::kHeaderCodecOffset]);
  if (!ValidCodec(codec)) {
    return data_loss("header at offset ", format::kHeaderCodecOffset, ": unknown codec ", codec);
  }
  info_.kind = static_cast<SourceKind>(kind);
  info_.codec = static_cast<Codec>(codec);
  info_.created_unix_ms =
      static_cast<int64_t>(GetFixed64(&header[format::kHeaderCreatedOffset]));
  info_.source = header.substr(format::kHeaderFixedSize, source_size);

  // Trailer.
  const uint64_t trailer_at = size - format::kTrailerSize;
  char trailer[format::kTrailerSize];
  PV_RETURN_IF_ERROR(PreadFully(fd_, path, trailer, sizeof(trailer), trailer_at, &got));
  if (got != sizeof(trailer)) return data_loss("short read of trailer at offset ", trailer_at);
  if (std::memcmp(trailer + format::kTrailerEndMagicOffset, format::kEndMagic,
                  format::kMagicSize) != 0) {
    return diagnose_truncation(absl::StrCat(
        "no end magic at offset ", trailer_at + format::kTrailerEndMagicOffset));
  }
  const uint32_t trailer_crc = Crc32c(trailer, format::kTrailerCrcOffset);
  if (trailer_crc != GetFixed32(trailer + format::kTrailerCrcOffset)) {
    return data_loss("trailer at offset ", trailer_at, ": CRC32C mismatch");
  }
  const uint64_t footer_at = GetFixed64(trailer + format::kTrailerFooterOffsetOffset);
  const uint32_t footer_size = GetFixed32(trailer + format::kTrailerFooterSizeOffset);
  if (footer_at < header_size || footer_size < format::kCrcSize ||
      footer_at + footer_size != trailer_at) {
    return data_loss("trailer at offset ", trailer_at, ": footer at offset ", footer_at, " of ",
                     footer_size, " bytes does not end where the trailer starts");
  }

  // Footer.
  std::string footer(footer_size, '\0');
  PV_RETURN_IF_ERROR(PreadFully(fd_, path, footer.data(), footer_size, footer_at, &got));
  if (got != footer_size) return data_loss("short read of footer at offset ", footer_at);
  const size_t footer_crc_at = footer_size - format::kCrcSize;
  const uint32_t footer_crc = Crc32c(footer.data(), footer_crc_at);
  info_.footer_crc = footer_crc;
  if (footer_crc != GetFixed32(&footer[footer_crc_at])) {
    return data_loss("footer at offset ", footer_at, ": CRC32C mismatch (stored ",
                     absl::StrFormat("0x%08x", GetFixed32(&footer[footer_crc_at])),
                     ", computed ", absl::StrFormat("0x%08x", footer_crc), ")");
  }
  ByteReader in(footer.data(), footer_crc_at);
  auto malformed = [&](absl::string_view field) {
    return data_loss("footer at offset ", footer_at, ": malformed ", field, " at offset ",
                     footer_at + in.position());
  };
  uint64_t block_count = 0;
  if (!in.GetVarint(&info_.records)) return malformed("record count");
  if (!in.GetVarint(&info_.payload_bytes)) return malformed("payload byte count");
  if (!in.GetVarint(&block_count) || block_count > in.remaining() / 4) {
    return malformed("block count");
  }
  blocks_.reserve(block_count);
  uint64_t expected_at = header_size;
  uint64_t records = 0;
  for (uint64_t b = 0; b < block_count; ++b) {
    BlockEntry e;
    if (!in.GetVarint(&e.offset) || !in.GetVarint(&e.disk_size) ||
        !in.GetVarint(&e.body_size) || !in.GetVarint(&e.records)) {
      return malformed(absl::StrCat("index entry of block ", b));
    }
    if (e.offset != expected_at || e.disk_size <= format::kBlockHeaderSize ||
        e.disk_size > footer_at - e.offset || e.body_size > format::kMaxBlockBodyBytes ||
        e.records == 0 || e.records > e.body_size / format::kMinRecordBytes) {
      return data_loss("footer at offset ", footer_at, ": index entry of block ", b,
                       " (offset ", e.offset, ", ", e.disk_size, " bytes, ", e.records,
                       " records) is inconsistent; expected the block at offset ", expected_at);
    }
    expected_at += e.disk_size;
    records += e.records;
    blocks_.push_back(e);
  }
  if (expected_at != footer_at) {
    return data_loss("footer at offset ", footer_at, ": blocks end at offset ", expected_at,
                     ", not where the footer starts");
  }
  if (records != info_.records) {
    return data_loss("footer at offset ", footer_at, ": blocks hold ", records,
                     " records, footer says ", info_.records);
  }
  info_.blocks = block_count;
  uint64_t partition_count = 0;
  if (!in.GetVarint(&partition_count) || partition_count > in.remaining() / 4) {
    return malformed("partition count");
  }
  uint64_t partition_records = 0;
  for (uint64_t p = 0; p < partition_count; ++p) {
    int64_t partition;
    PartitionRange r;
    if (!in.GetZigZag(&partition) || !in.GetZigZag(&r.first_offset) ||
        !in.GetZigZag(&r.last_offset) || !in.GetVarint(&r.records)) {
      return malformed(absl::StrCat("range ", p));
    }
    if (info_.format_version >= 2) {
      if (!in.GetZigZag(&r.start_position) || !in.GetZigZag(&r.end_position) ||
          r.start_position > r.first_offset || r.end_position <= r.last_offset) {
        return malformed(absl::StrCat("range ", p, " positions"));
      }
    } else {
      r.start_position = r.first_offset;
      r.end_position = static_cast<int64_t>(static_cast<uint64_t>(r.last_offset) + 1);
    }
    if (partition < INT32_MIN || partition > INT32_MAX || r.records == 0 ||
        (!info_.ranges.empty() && partition <= info_.ranges.back().partition)) {
      return malformed(absl::StrCat("range ", p, " (partition ", partition, ")"));
    }
    r.partition = static_cast<int32_t>(partition);
    partition_records += r.records;
    info_.ranges.push_back(r);
  }
  if (partition_records != info_.records) {
    return data_loss("footer at offset ", footer_at, ": partition ranges hold ",
                     partition_records, " records, footer says ", info_.records);
  }
  absl::string_view first_id, last_id;
  if (!in.GetLengthPrefixed(&first_id)) return malformed("first source_id");
  if (!in.GetLengthPrefixed(&last_id)) return malformed("last source_id");
  if (in.remaining() != 0) return malformed("end (trailing bytes)");
  info_.first_source_id = std::string(first_id);
  info_.last_source_id = std::string(last_id);
  return absl::OkStatus();
}

absl::Status SegmentReader::ReadBlock(size_t index, Block* block) const {
  block->records_.clear();
  if (index >= blocks_.size()) {
    return absl::OutOfRangeError(absl::StrCat("file ", info_.path, ": block ", index,
                                              " out of range (", blocks_.size(), " blocks)"));
  }
  const BlockEntry& e = blocks_[index];
  auto data_loss = [&](auto&&... pieces) {
    return absl::DataLossError(absl::StrCat("file ", info_.path, ": block ", index,
                                            " at offset ", e.offset, ": ", pieces...));
  };
  Block::Buffers& buf = *block->buffers_;
  Block::Buffers::Reserve(&buf.disk, &buf.disk_capacity, e.disk_size);
  size_t got = 0;
  PV_RETURN_IF_ERROR(PreadFully(fd_, info_.path, buf.disk.get(), e.disk_size, e.offset, &got));
  if (got != e.disk_size) {
    return data_loss("short read: got ", got, " of ", e.disk_size,
                     " bytes (file truncated after open?)");
  }
  const char* h = buf.disk.get();
  const char* stored = h + format::kBlockHeaderSize;
  const size_t stored_size = e.disk_size - format::kBlockHeaderSize;
  uint32_t crc = Crc32c(h, format::kBlockCrcOffset);
  crc = Crc32cExtend(crc, stored, stored_size);
  const uint32_t stored_crc = GetFixed32(h + format::kBlockCrcOffset);
  if (crc != stored_crc) {
    return data_loss("CRC32C mismatch (stored ", absl::StrFormat("0x%08x", stored_crc),
                     ", computed ", absl::StrFormat("0x%08x", crc), "): block is corrupt");
  }
  const uint8_t codec = static_cast<uint8_t>(h[format::kBlockCodecOffset]);
  if (GetFixed32(h + format::kBlockUncompressedSizeOffset) != e.body_size ||
      GetFixed32(h + format::kBlockStoredSizeOffset) != stored_size ||
      GetFixed32(h + format::kBlockRecordCountOffset) != e.records || !ValidCodec(codec)) {
    return data_loss("block header (", Hex(h, format::kBlockCrcOffset),
                     ") disagrees with the footer index or names an unknown codec");
  }

  const size_t body_size = e.body_size;
  Block::Buffers::Reserve(&buf.body, &buf.body_capacity, body_size + kPayloadPadding);
  char* body = buf.body.get();
  switch (static_cast<Codec>(codec)) {
    case Codec::kNone:
      if (stored_size != body_size) return data_loss("raw block size mismatch");
      std::memcpy(body, stored, body_size);
      break;
    case Codec::kZstd: {
      if (buf.zstd == nullptr) buf.zstd = ZSTD_createDCtx();
      if (buf.zstd == nullptr) return absl::ResourceExhaustedError("ZSTD_createDCtx failed");
      size_t n = ZSTD_decompressDCtx(buf.zstd, body, body_size, stored, stored_size);
      if (ZSTD_isError(n)) return data_loss("zstd: ", ZSTD_getErrorName(n));
      if (n != body_size) return data_loss("zstd produced ", n, " bytes, expected ", body_size);
      break;
    }
    case Codec::kLz4: {
      int n = LZ4_decompress_safe(stored, body, static_cast<int>(stored_size),
                                  static_cast<int>(body_size));
      if (n < 0 || static_cast<size_t>(n) != body_size) {
        return data_loss("lz4 failed to decompress (", n, ")");
      }
      break;
    }
  }
  std::memset(body + body_size, 0, kPayloadPadding);

  ByteReader in(body, body_size);
  block->records_.reserve(e.records);
  int64_t partition = -1, offset = 0, timestamp = 0;
  for (uint64_t i = 0; i < e.records; ++i) {
    const size_t record_at = in.position();
    int64_t dp, doff, dts;
    RecordView r;
    if (!in.GetZigZag(&dp) || !in.GetZigZag(&doff) || !in.GetZigZag(&dts) ||
        !in.GetLengthPrefixed(&r.key) || !in.GetLengthPrefixed(&r.source_id) ||
        !in.GetLengthPrefixed(&r.payload)) {
      block->records_.clear();
      return data_loss("record ", i, " at body byte ", record_at, " is malformed");
    }
    // Wrapping adds mirror the writer's wrapping deltas.
    partition = static_cast<int64_t>(static_cast<uint64_t>(partition) + static_cast<uint64_t>(dp));
    offset = static_cast<int64_t>(static_cast<uint64_t>(offset) + static_cast<uint64_t>(doff));
    timestamp = static_cast<int64_t>(static_cast<uint64_t>(timestamp) + static_cast<uint64_t>(dts));
    if (partition < INT32_MIN || partition > INT32_MAX) {
      block->records_.clear();
      return data_loss("record ", i, " at body byte ", record_at, ": partition ", partition,
                       " out of range");
    }
    r.partition = static_cast<int32_t>(partition);
    r.offset = offset;
    r.timestamp_ms = timestamp;
    block->records_.push_back(r);
  }
  if (in.remaining() != 0) {
    block->records_.clear();
    return data_loss(in.remaining(), " trailing bytes after record ", e.records - 1);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- Listing

absl::StatusOr<std::vector<std::string>> ListSegments(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "list segments in", dir);
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* entry = readdir(d)) {
    absl::string_view name = entry->d_name;
    if (absl::StartsWith(name, format::kTempPrefix) ||
        !absl::EndsWith(name, format::kSegmentSuffix)) {
      continue;
    }
    bool regular = entry->d_type == DT_REG;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      regular = lstat(absl::StrCat(dir, "/", name).c_str(), &st) == 0 && S_ISREG(st.st_mode);
    }
    if (regular) names.emplace_back(name);
    errno = 0;
  }
  int err = errno;
  closedir(d);
  if (err != 0) return ErrnoStatus(err, "read directory", dir);
  std::sort(names.begin(), names.end());
  std::vector<std::string> paths;
  paths.reserve(names.size());
  for (const std::string& name : names) paths.push_back(absl::StrCat(dir, "/", name));
  return paths;
}

}  // namespace pv::segment
