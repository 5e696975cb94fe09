// Segment files: the durable hand-off between ingestion (Kafka consumer,
// MongoDB export, file import) and the nightly batch job.
//
// A segment file holds raw event payloads (bytes untouched) with their source
// coordinates, in CRC32C-checked compressed blocks, and a footer that records
// the offset range of every Kafka partition, so ingestion can resume exactly
// where the last published segment ended. The format is described in
// cc/segment/FORMAT.md; its constants are in cc/segment/format.h.
//
// Writing (one writer per output file, one thread at a time):
//
//   pv::segment::WriterOptions options;
//   options.dir = "/data/segments";
//   options.kind = pv::segment::SourceKind::kKafka;
//   options.source = "product_views";
//   PV_ASSIGN_OR_RETURN(auto writer, pv::segment::SegmentWriter::Create(options));
//   for (...) PV_RETURN_IF_ERROR(writer->Append(meta, payload));
//   PV_ASSIGN_OR_RETURN(pv::segment::SegmentInfo info, writer->Publish());
//
// Reading (blocks may be read concurrently, one Block per thread):
//
//   PV_ASSIGN_OR_RETURN(auto paths, pv::segment::ListSegments(dir));
//   PV_ASSIGN_OR_RETURN(auto reader, pv::segment::SegmentReader::Open(paths[0]));
//   pv::segment::Block block;
//   for (size_t b = 0; b < reader->block_count(); ++b) {
//     PV_RETURN_IF_ERROR(reader->ReadBlock(b, &block));
//     for (size_t i = 0; i < block.size(); ++i) Use(block.record(i).payload);
//   }
//
// Durability: a segment becomes visible under its final name only once it is
// complete and fsynced (temporary name, fsync, rename, fsync of the
// directory). A crash leaves at most a hidden ".*.tmp" file, which
// ListSegments never returns and which is never a published name.
//
// Errors: every failure to read names the file; block-level failures name the
// block index and its byte offset in the file; see FORMAT.md, "Errors".
#ifndef PV_SEGMENT_SEGMENT_H_
#define PV_SEGMENT_SEGMENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::segment {

// Bytes that may be read after the end of every payload a Block hands out, so
// simdjson can parse payloads in place (>= simdjson::SIMDJSON_PADDING). After
// the last payload of a block these bytes are zero.
inline constexpr size_t kPayloadPadding = 64;

// Where the records of a segment came from.
enum class SourceKind : uint8_t { kKafka = 1, kMongoDb = 2, kFile = 3 };

// Block compression. The default (kZstd, level 1) was chosen by measurement
// on clickstream JSON; the figures are in FORMAT.md.
enum class Codec : uint8_t { kNone = 0, kZstd = 1, kLz4 = 2 };

absl::string_view SourceKindName(SourceKind kind);  // "kafka", "mongodb", "file"
absl::string_view CodecName(Codec codec);            // "none", "zstd", "lz4"
// The codec named by `name` (as CodecName prints it), for command lines.
absl::StatusOr<Codec> ParseCodec(absl::string_view name);

// Source coordinates of one record, given to SegmentWriter::Append.
//   kafka:   partition, offset, timestamp_ms of the message; key = message key.
//   mongodb: partition -1; offset = export sequence number; source_id = the
//            document's _id as text.
//   file:    partition -1; offset = line number (1-based) in the input file.
struct RecordMeta {
  int32_t partition = -1;
  int64_t offset = 0;
  int64_t timestamp_ms = 0;
  absl::string_view key;        // may be empty
  absl::string_view source_id;  // MongoDB _id text for exported records, else empty
};

// One record of a decoded Block. Views stay valid while the Block that
// produced them lives and is not passed to ReadBlock again.
struct RecordView {
  // payload.data()[0 .. payload.size() + kPayloadPadding) is readable memory.
  absl::string_view payload;
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;
  absl::string_view key;
  absl::string_view source_id;
};

// Offsets seen for one partition in a segment: first_offset of the first
// record appended for it, last_offset of the last one (for Kafka sources the
// writer enforces strictly increasing offsets, so these are min and max).
// [start_position, end_position) is the span of the source the segment
// covers: the Kafka consumer's position before its first record and after
// its last, so that offsets which were never records (transaction markers,
// aborted or compacted records) belong to a segment and consecutive segments
// of a partition meet exactly. Without positions (version 1 files, writers
// that set none) it is [first_offset, last_offset + 1).
struct PartitionRange {
  int32_t partition;
  int64_t first_offset;
  int64_t last_offset;
  uint64_t records;
  int64_t start_position = 0;
  int64_t end_position = 0;
};

// What a segment holds, from its header and footer.
struct SegmentInfo {
  std::string path;
  SourceKind kind;
  std::string source;      // topic, db.collection or input file
  Codec codec;             // the writer's codec (a block may be stored raw)
  uint64_t records = 0;
  uint64_t blocks = 0;
  uint64_t payload_bytes = 0;
  uint64_t file_bytes = 0;
  std::vector<PartitionRange> ranges;  // sorted by partition
  std::string first_source_id, last_source_id;  // of the first and last record
  int64_t created_unix_ms = 0;
  uint32_t format_version = 0;
  // CRC32C of the footer: with file_bytes, the identity of the segment's
  // bytes (two files with equal footers hold the same records).
  uint32_t footer_crc = 0;
};

struct WriterOptions {
  std::string dir;  // must exist; the segment is published here
  SourceKind kind = SourceKind::kKafka;
  std::string source;  // at most 4096 bytes
  Codec codec = Codec::kZstd;
  // zstd: compression level (1 = fastest). lz4: <= 1 fast mode, >= 2 LZ4HC at
  // that level.
  int level = 1;
  // Target uncompressed size of a block; a block is cut after the record that
  // reaches it (so one large record makes one large block).
  size_t block_bytes = 1 << 20;
  // File name of the published segment, without directory; ".pvseg" is
  // appended if missing. Must not start with "." or contain "/". Empty: the
  // next name of cc/segment/naming.h's scheme for `source`.
  std::string name;
};

// Writes one segment file. Not thread-safe; one writer per output file.
// Until Publish succeeds the data lives in a hidden temporary file
// ".<name>.tmp" in options.dir; Abandon or the destructor removes it.
class SegmentWriter {
 public:
  // Validates `options`, creates the temporary file and writes the header.
  // Fails with AlreadyExists if the final name already exists.
  static absl::StatusOr<std::unique_ptr<SegmentWriter>> Create(
      const WriterOptions& options);

  ~SegmentWriter();
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;

  // Appends one record; `payload` is stored byte for byte. Copies everything,
  // so the arguments need not outlive the call. For SourceKind::kKafka,
  // offsets must be strictly increasing within a partition (InvalidArgument
  // otherwise: the footer's ranges are what resumption trusts). After an I/O
  // error every later call fails with that error.
  absl::Status Append(const RecordMeta& meta, absl::string_view payload);

  // Writes the last block, footer and trailer, fsyncs the file, renames it to
  // its final name (never replacing an existing file) and fsyncs the
  // directory. Afterwards the writer is unusable. On failure the temporary
  // file is removed and nothing is published.
  absl::StatusOr<SegmentInfo> Publish();

  // Records where the source stood around this segment's records of
  // `partition` (see PartitionRange): `start` <= its first offset and `end`
  // > its last. Checked at Publish (InvalidArgument); may be called again to
  // move them. Partitions without positions get [first, last + 1).
  void SetPositions(int32_t partition, int64_t start, int64_t end);

  // Deletes the temporary file; the writer is unusable afterwards.
  void Abandon();

  uint64_t records() const { return records_; }
  uint64_t payload_bytes() const { return payload_bytes_; }

  const std::string& final_path() const { return final_path_; }
  const std::string& temp_path() const { return temp_path_; }

 private:
  struct Compressor;  // codec state, defined in segment_writer.cc

  explicit SegmentWriter(const WriterOptions& options);
  absl::Status FlushBlock();
  absl::Status WriteAll(const char* data, size_t size);
  absl::Status Fail(absl::Status status);

  WriterOptions options_;
  std::string final_path_;
  std::string temp_path_;
  int fd_ = -1;
  bool done_ = false;
  absl::Status error_;
  uint64_t file_offset_ = 0;
  int64_t created_unix_ms_ = 0;

  std::unique_ptr<Compressor> compressor_;
  std::string block_body_;
  std::string stored_;  // compressed bytes of the block being written
  uint32_t block_records_ = 0;
  int32_t prev_partition_ = -1;
  int64_t prev_offset_ = 0;
  int64_t prev_timestamp_ms_ = 0;

  struct BlockEntry {
    uint64_t offset;
    uint64_t disk_size;
    uint64_t body_size;
    uint64_t records;
  };
  std::vector<BlockEntry> blocks_;
  absl::flat_hash_map<int32_t, PartitionRange> ranges_;
  absl::flat_hash_map<int32_t, std::pair<int64_t, int64_t>> positions_;
  std::string first_source_id_, last_source_id_;
  uint64_t records_ = 0;
  uint64_t payload_bytes_ = 0;
};

// The decoded records of one block. Reusable: passing the same Block to
// ReadBlock again reuses its buffers (and invalidates earlier views), so a
// reading thread allocates only while blocks keep growing. Not thread-safe;
// use one Block per thread.
class Block {
 public:
  Block();
  ~Block();
  Block(Block&&) noexcept;
  Block& operator=(Block&&) noexcept;

  size_t size() const { return records_.size(); }
  // REQUIRES: i < size().
  const RecordView& record(size_t i) const { return records_[i]; }

 private:
  friend class SegmentReader;
  struct Buffers;  // defined in segment_reader.cc

  std::vector<RecordView> records_;
  std::unique_ptr<Buffers> buffers_;
};

// Reads one published segment file. Open validates the header, trailer and
// footer; each block is checked (CRC32C, sizes, record encoding) when read.
class SegmentReader {
 public:
  // Errors: NotFound etc. for an unopenable file; DataLoss for an empty,
  // truncated, torn or corrupt file or bad magic; Unimplemented for an
  // unknown format version. Messages name the file and the byte offset (and
  // for a file cut inside a block, the block index).
  static absl::StatusOr<std::unique_ptr<SegmentReader>> Open(
      const std::string& path);

  ~SegmentReader();
  SegmentReader(const SegmentReader&) = delete;
  SegmentReader& operator=(const SegmentReader&) = delete;

  const SegmentInfo& info() const { return info_; }
  size_t block_count() const { return blocks_.size(); }
  // REQUIRES: index < block_count().
  uint64_t block_records(size_t index) const { return blocks_[index].records; }

  // Reads, checks and decodes block `index` into `*block`. Thread-safe (uses
  // pread), given a distinct `block` per thread. Errors (DataLoss, or
  // OutOfRange for a bad index) name the file, "block N" and its byte offset.
  absl::Status ReadBlock(size_t index, Block* block) const;

 private:
  struct BlockEntry {
    uint64_t offset;
    uint64_t disk_size;
    uint64_t body_size;
    uint64_t records;
  };

  SegmentReader() = default;
  absl::Status Load();

  int fd_ = -1;
  SegmentInfo info_;
  std::vector<BlockEntry> blocks_;
};

// The published segments in `dir`: full paths of the regular files named
// "*.pvseg" that do not start with ".", sorted by file name. Temporary files
// are never returned.
absl::StatusOr<std::vector<std::string>> ListSegments(const std::string& dir);

}  // namespace pv::segment

#endif  // PV_SEGMENT_SEGMENT_H_
