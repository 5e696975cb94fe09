// libFuzzer entry point for the segment reader: any bytes, written to a file,
// must be rejected with a Status or read cleanly; never a crash, hang,
// out-of-bounds access or unbounded allocation.
//
// Each input is tried twice: as given, and with every checksum the format
// locates recomputed, since a mutated file almost never passes the CRC32C
// checks and would otherwise never reach decompression and record decoding.
//
//   bazel build --config=fuzz //cc/segment:segment_reader_fuzz
//   bazel-bin/cc/segment/segment_reader_fuzz -max_total_time=180 CORPUS_DIR
//
// segment_reader_fuzz_test replays seed inputs through the same function
// under the normal build.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"
#include "cc/segment/format.h"
#include "cc/segment/segment.h"

namespace {

const std::string& InputPath() {
  static const std::string* path = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    if (dir == nullptr) dir = std::getenv("TMPDIR");
    if (dir == nullptr) dir = "/tmp";
    return new std::string(
        absl::StrCat(dir, "/segment_reader_fuzz.", getpid(), ".pvseg"));
  }();
  return *path;
}

bool WriteInput(const uint8_t* data, size_t size) {
  int fd = open(InputPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(fd);
  return done == size;
}

// Recomputes the header, block, footer and trailer CRCs wherever the bytes
// locate them (see FORMAT.md), leaving everything else as it is.
void RepairChecksums(std::string* bytes) {
  namespace f = pv::segment::format;
  using pv::segment::Crc32c;
  using pv::segment::Crc32cExtend;
  using pv::segment::internal::GetFixed32;
  using pv::segment::internal::GetFixed64;
  using pv::segment::internal::PutFixed32;
  char* b = bytes->data();
  const uint64_t size = bytes->size();
  if (size < f::kHeaderFixedSize) return;
  const uint64_t header_size = GetFixed32(b + f::kHeaderSizeOffset);
  if (header_size < f::kHeaderFixedSize + f::kCrcSize || header_size > size) return;
  PutFixed32(b + header_size - f::kCrcSize, Crc32c(b, header_size - f::kCrcSize));

  uint64_t blocks_end = size;
  if (size >= header_size + f::kTrailerSize) {
    char* trailer = b + size - f::kTrailerSize;
    PutFixed32(trailer + f::kTrailerCrcOffset, Crc32c(trailer, f::kTrailerCrcOffset));
    const uint64_t footer_at = GetFixed64(trailer + f::kTrailerFooterOffsetOffset);
    const uint64_t footer_size = GetFixed32(trailer + f::kTrailerFooterSizeOffset);
    if (footer_size >= f::kCrcSize && footer_at >= header_size &&
        footer_at <= size - f::kTrailerSize &&
        footer_size <= size - f::kTrailerSize - footer_at) {
      blocks_end = footer_at;
      const uint64_t crc_at = footer_at + footer_size - f::kCrcSize;
      PutFixed32(b + crc_at, Crc32c(b + footer_at, footer_size - f::kCrcSize));
    }
  }
  for (uint64_t at = header_size; at + f::kBlockHeaderSize <= blocks_end;) {
    const uint64_t stored = GetFixed32(b + at + f::kBlockStoredSizeOffset);
    if (stored > blocks_end - at - f::kBlockHeaderSize) break;
    uint32_t crc = Crc32c(b + at, f::kBlockCrcOffset);
    crc = Crc32cExtend(crc, b + at + f::kBlockHeaderSize, stored);
    PutFixed32(b + at + f::kBlockCrcOffset, crc);
    at += f::kBlockHeaderSize + stored;
  }
}

void ReadEverything(const uint8_t* data, size_t size) {
  if (!WriteInput(data, size)) std::abort();  // the harness, not the reader, failed
  auto reader = pv::segment::SegmentReader::Open(InputPath());
  if (!reader.ok()) return;
  const pv::segment::SegmentInfo& info = (*reader)->info();
  uint64_t records = 0;
  pv::segment::Block block;
  for (size_t b = 0; b < (*reader)->block_count(); ++b) {
    if (!(*reader)->ReadBlock(b, &block).ok()) continue;
    if (block.size() != (*reader)->block_records(b)) std::abort();
    for (size_t i = 0; i < block.size(); ++i) {
      const pv::segment::RecordView& r = block.record(i);
      // Touch the ends of every view, and the padding promise.
      volatile char sink = r.payload.data()[r.payload.size() + pv::segment::kPayloadPadding - 1];
      if (!r.key.empty()) sink = r.key.back();
      if (!r.source_id.empty()) sink = r.source_id.back();
      (void)sink;
    }
    records += block.size();
  }
  if (records > info.records) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReadEverything(data, size);
  std::string repaired(reinterpret_cast<const char*>(data), size);
  RepairChecksums(&repaired);
  ReadEverything(reinterpret_cast<const uint8_t*>(repaired.data()), repaired.size());
  return 0;
}
