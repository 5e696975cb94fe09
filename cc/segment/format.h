// On-disk constants of the segment file format, version 2 (readers also
// read version 1).
//
// This header and FORMAT.md (beside it) are the one description of the
// format: every reader, writer, test and tool that touches segment bytes takes
// its offsets and sizes from here. All fixed-width integers are little-endian;
// "varint" is unsigned LEB128 (7 bits per byte, low group first) and
// "zigzag varint" maps signed values n to (n << 1) ^ (n >> 63) first.
//
// File layout:
//
//   [file header][block 0]...[block n-1][footer][trailer]
//
// Changing any layout below requires a new kFormatVersion.
#ifndef PV_SEGMENT_FORMAT_H_
#define PV_SEGMENT_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace pv::segment::format {

// Published segment files end with this suffix; temporary files being written
// start with "." and end with kTempSuffix, so no reader or listing sees them.
inline constexpr char kSegmentSuffix[] = ".pvseg";
inline constexpr char kTempPrefix[] = ".";
inline constexpr char kTempSuffix[] = ".tmp";

// Writers write kFormatVersion; readers accept kMinFormatVersion up to it.
// Version 2 added each partition's start and end positions to the footer.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kMinFormatVersion = 1;

// ---- File header (at offset 0) ------------------------------------------
// 0   8  kFileMagic
// 8   4  format version (u32)            -- position fixed for all versions
// 12  4  header size in bytes (u32), including the trailing CRC
// 16  1  source kind (1 kafka, 2 mongodb, 3 file)
// 17  1  codec the writer was configured with (0 none, 1 zstd, 2 lz4)
// 18  2  reserved, zero
// 20  8  creation time, Unix milliseconds (i64)
// 28  4  source name length N (u32)
// 32  N  source name bytes (topic, db.collection or input file)
// 32+N 4 CRC32C of bytes [0, 32+N)
inline constexpr size_t kMagicSize = 8;
inline constexpr unsigned char kFileMagic[kMagicSize] = {'P',  'V',  'S',  'E',
                                                         'G',  0x00, 0x0D, 0x0A};
inline constexpr size_t kHeaderVersionOffset = 8;
inline constexpr size_t kHeaderSizeOffset = 12;
inline constexpr size_t kHeaderKindOffset = 16;
inline constexpr size_t kHeaderCodecOffset = 17;
inline constexpr size_t kHeaderCreatedOffset = 20;
inline constexpr size_t kHeaderSourceLengthOffset = 28;
inline constexpr size_t kHeaderFixedSize = 32;  // up to the source name
inline constexpr size_t kCrcSize = 4;
inline constexpr size_t kMaxSourceNameBytes = 4096;

// ---- Block (kBlockHeaderSize bytes of header, then stored bytes) ---------
// 0   4  uncompressed body size (u32)
// 4   4  stored (compressed) size S (u32)
// 8   4  record count (u32, >= 1)
// 12  1  codec of this block (0 none, 1 zstd, 2 lz4); a block that does not
//        shrink is stored with codec 0 whatever the file's codec
// 13  3  reserved, zero
// 16  4  CRC32C of header bytes [0, 16) followed by the S stored bytes
// 20  S  stored bytes
inline constexpr size_t kBlockHeaderSize = 20;
inline constexpr size_t kBlockUncompressedSizeOffset = 0;
inline constexpr size_t kBlockStoredSizeOffset = 4;
inline constexpr size_t kBlockRecordCountOffset = 8;
inline constexpr size_t kBlockCodecOffset = 12;
inline constexpr size_t kBlockCrcOffset = 16;
// Bound on one block's uncompressed body, so a corrupt size can never make a
// reader allocate without limit. Writers cut blocks far below this.
inline constexpr uint32_t kMaxBlockBodyBytes = 1u << 30;

// Block body, after decompression: record_count records back to back, each
//   zigzag varint  partition delta from the previous record (first: from -1)
//   zigzag varint  offset delta from the previous record (first: from 0)
//   zigzag varint  timestamp_ms delta from the previous record (first: from 0)
//   varint length + key bytes
//   varint length + source_id bytes
//   varint length + payload bytes
// The body must be consumed exactly. The smallest record is 6 bytes.
inline constexpr size_t kMinRecordBytes = 6;

// ---- Footer (at footer_offset, footer_size bytes) -------------------------
//   varint total records
//   varint total payload bytes
//   varint block count B, then B entries:
//     varint file offset of the block header
//     varint block size on disk (kBlockHeaderSize + stored size)
//     varint uncompressed body size
//     varint record count
//   varint partition count P, then P entries sorted by partition:
//     zigzag varint partition (-1: records without a partition)
//     zigzag varint first offset (of the first record appended)
//     zigzag varint last offset (of the last record appended)
//     varint record count
//     version 2 only:
//     zigzag varint start position (<= first offset: where the writer's
//       source stood before the first record, e.g. a consumer's position)
//     zigzag varint end position (> last offset: where it stood after the
//       last record, past offsets that were never records)
//   varint length + first record's source_id
//   varint length + last record's source_id
//   u32 CRC32C of all preceding footer bytes
// The footer must be consumed exactly.

// ---- Trailer (last kTrailerSize bytes of the file) -----------------------
// 0   8  footer offset (u64)
// 8   4  footer size (u32), including its CRC
// 12  4  CRC32C of trailer bytes [0, 12)
// 16  8  kEndMagic
inline constexpr size_t kTrailerSize = 24;
inline constexpr size_t kTrailerFooterOffsetOffset = 0;
inline constexpr size_t kTrailerFooterSizeOffset = 8;
inline constexpr size_t kTrailerCrcOffset = 12;
inline constexpr size_t kTrailerEndMagicOffset = 16;
inline constexpr unsigned char kEndMagic[kMagicSize] = {'P', 'V', 'S', 'E',
                                                        'G', 'E', 'N', 'D'};

}  // namespace pv::segment::format

#endif  // PV_SEGMENT_FORMAT_H_
