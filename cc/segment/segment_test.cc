#include "cc/segment/segment.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cc/segment/coding.h"
#include "cc/segment/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv::segment {
namespace {

using ::testing::HasSubstr;

std::string MakeTempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base ? base : "/tmp", "/segment_test.XXXXXX");
  char* dir = mkdtemp(templ.data());
  EXPECT_NE(dir, nullptr);
  return templ;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// One record as the test expects to read it back.
struct Expected {
  int32_t partition;
  int64_t offset;
  int64_t timestamp_ms;
  std::string key, source_id, payload;
};

std::string JsonLikePayload(std::mt19937_64& random, size_t i) {
  std::string p = absl::StrFormat(
      R"js({"_id":"%024x","time_stamp":%d,"current_url":"https://www.glamira.de/)js"
      R"js(ring-%d.html?alloy=white-585&diamond=sapphire&utm=%x","user_agent":)js"
      R"js("Mozilla/5.0 (Windows NT 10.0; Win64; x64)","product_id":"%d"})js",
      random(), 1590000000 + static_cast<int>(i), static_cast<int>(random() % 5000),
      random(), static_cast<int>(random() % 100000));
  switch (i % 50) {
    case 0:
      return "";  // empty payloads are legal
    case 1:
      return std::string(20000 + random() % 5000, 'x');  // larger than a block
    case 2: {
      std::string binary(300, '\0');  // incompressible bytes, untouched
      for (char& c : binary) c = static_cast<char>(random());
      return binary;
    }
    default:
      return p;
  }
}

// Appends `n` records spread over three partitions to `writer`, continuing
// each partition's offsets from `next_offset`.
void AppendRecords(SegmentWriter* writer, size_t n, std::mt19937_64& random,
                   std::vector<int64_t>* next_offset, std::vector<Expected>* expected) {
  for (size_t i = 0; i < n; ++i) {
    Expected e;
    e.partition = static_cast<int32_t>(random() % 3);
    e.offset = (*next_offset)[e.partition];
    (*next_offset)[e.partition] += 1 + static_cast<int64_t>(random() % 3);  // gaps happen
    e.timestamp_ms = 1700000000000 + static_cast<int64_t>(random() % 100000) - 50000;
    e.key = i % 7 == 0 ? "" : absl::StrCat("user-", random() % 1000);
    e.source_id = i % 5 == 0 ? absl::StrCat("id", i) : "";
    e.payload = JsonLikePayload(random, i);
    RecordMeta meta;
    meta.partition = e.partition;
    meta.offset = e.offset;
    meta.timestamp_ms = e.timestamp_ms;
    meta.key = e.key;
    meta.source_id = e.source_id;
    ASSERT_TRUE(writer->Append(meta, e.payload).ok());
    expected->push_back(std::move(e));
  }
}

// Reads every record of a segment, checking padding and block counts.
std::vector<Expected> ReadAll(const std::string& path) {
  std::vector<Expected> out;
  auto reader = SegmentReader::Open(path);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  Block block;  // reused across blocks on purpose
  for (size_t b = 0; b < (*reader)->block_count(); ++b) {
    absl::Status status = (*reader)->ReadBlock(b, &block);
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_EQ(block.size(), (*reader)->block_records(b));
    for (size_t i = 0; i < block.size(); ++i) {
      const RecordView& r = block.record(i);
      // The padding promise: readable (ASan checks this read).
      volatile char last = r.payload.data()[r.payload.size() + kPayloadPadding - 1];
      (void)last;
      out.push_back({r.partition, r.offset, r.timestamp_ms, std::string(r.key),
                     std::string(r.source_id), std::string(r.payload)});
    }
  }
  return out;
}

void ExpectSame(const std::vector<Expected>& got, const std::vector<Expected>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].partition, want[i].partition) << i;
    EXPECT_EQ(got[i].offset, want[i].offset) << i;
    EXPECT_EQ(got[i].timestamp_ms, want[i].timestamp_ms) << i;
    EXPECT_EQ(got[i].key, want[i].key) << i;
    EXPECT_EQ(got[i].source_id, want[i].source_id) << i;
    EXPECT_EQ(got[i].payload, want[i].payload) << i;
  }
}

// The start offset of every block, found by walking the block headers as
// FORMAT.md describes (independently of the reader).
std::vector<uint64_t> BlockOffsets(const std::string& bytes) {
  using internal::GetFixed32;
  using internal::GetFixed64;
  uint64_t footer_at = GetFixed64(&bytes[bytes.size() - format::kTrailerSize +
                                        format::kTrailerFooterOffsetOffset]);
  std::vector<uint64_t> offsets;
  uint64_t at = GetFixed32(&bytes[format::kHeaderSizeOffset]);
  while (at < footer_at) {
    offsets.push_back(at);
    at += format::kBlockHeaderSize + GetFixed32(&bytes[at + format::kBlockStoredSizeOffset]);
  }
  EXPECT_EQ(at, footer_at);
  return offsets;
}

class SegmentCodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(SegmentCodecTest, RoundTripManyRecordsAcrossBlocksAndFiles) {
  const std::string dir = MakeTempDir();
  std::mt19937_64 random(7);
  std::vector<int64_t> next_offset = {0, 1000, 5};
  std::vector<std::vector<Expected>> files;
  std::vector<std::string> published;
  for (int f = 0; f < 3; ++f) {
    WriterOptions options;
    options.dir = dir;
    options.source = "product_views";
    options.codec = GetParam();
    options.block_bytes = 16 << 10;
    auto writer = SegmentWriter::Create(options);
    ASSERT_TRUE(writer.ok()) << writer.status();
    std::vector<Expected> expected;
    std::vector<int64_t> first_offset = next_offset;
    AppendRecords(writer->get(), 1500, random, &next_offset, &expected);
    EXPECT_EQ((*writer)->records(), 1500u);
    uint64_t payload_bytes = 0;
    for (const Expected& e : expected) payload_bytes += e.payload.size();
    EXPECT_EQ((*writer)->payload_bytes(), payload_bytes);

    auto info = (*writer)->Publish();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->records, 1500u);
    EXPECT_GT(info->blocks, 10u);
    EXPECT_EQ(info->payload_bytes, payload_bytes);
    EXPECT_EQ(info->file_bytes, ReadFile(info->path).size());
    ASSERT_EQ(info->ranges.size(), 3u);
    for (int p = 0; p < 3; ++p) {
      EXPECT_EQ(info->ranges[p].partition, p);
      EXPECT_EQ(info->ranges[p].first_offset, first_offset[p]);
      EXPECT_LT(info->ranges[p].last_offset, next_offset[p]);
    }
    published.push_back(info->path);
    files.push_back(std::move(expected));
  }

  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(*listed, published);  // generated names sort in publish order

  for (size_t f = 0; f < files.size(); ++f) {
    auto reader = SegmentReader::Open(published[f]);
    ASSERT_TRUE(reader.ok()) << reader.status();
    const SegmentInfo& info = (*reader)->info();
    EXPECT_EQ(info.kind, SourceKind::kKafka);
    EXPECT_EQ(info.source, "product_views");
    EXPECT_EQ(info.codec, GetParam());
    EXPECT_EQ(info.records, 1500u);
    EXPECT_EQ(info.blocks, (*reader)->block_count());
    EXPECT_EQ(info.ranges.size(), 3u);
    uint64_t range_records = 0;
    for (const PartitionRange& r : info.ranges) range_records += r.records;
    EXPECT_EQ(range_records, 1500u);
    EXPECT_EQ(info.first_source_id, "id0");
    EXPECT_EQ(info.last_source_id, "");  // record 1499 has none
    ExpectSame(ReadAll(published[f]), files[f]);
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, SegmentCodecTest,
                         ::testing::Values(Codec::kZstd, Codec::kLz4, Codec::kNone),
                         [](const auto& info) { return std::string(CodecName(info.param)); });

TEST(SegmentTest, Lz4HighCompressionRoundTrip) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.codec = Codec::kLz4;
  options.level = 9;
  options.block_bytes = 8 << 10;
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  std::mt19937_64 random(3);
  std::vector<int64_t> next = {0, 0, 0};
  std::vector<Expected> expected;
  AppendRecords(writer->get(), 300, random, &next, &expected);
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok()) << info.status();
  ExpectSame(ReadAll(info->path), expected);
}

TEST(SegmentTest, MongoExportKeepsSourceIdsAndExtremeValues) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.kind = SourceKind::kMongoDb;
  options.source = "glamira.summary";
  options.name = "mongo-0001";
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  std::vector<Expected> expected = {
      {-1, 0, INT64_MIN, "", "5ed8cb2bc671fc36b74653ad", "{}"},
      {-1, INT64_MAX, INT64_MAX, "k", "5ed8cb2bc671fc36b74653ae", "{\"a\":1}"},
      {-1, INT64_MIN, 0, "", "5ed8cb2bc671fc36b74653af", "[]"},
  };
  for (const Expected& e : expected) {
    RecordMeta meta{e.partition, e.offset, e.timestamp_ms, e.key, e.source_id};
    ASSERT_TRUE((*writer)->Append(meta, e.payload).ok());
  }
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path, dir + "/mongo-0001.pvseg");
  auto reader = SegmentReader::Open(info->path);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ((*reader)->info().kind, SourceKind::kMongoDb);
  EXPECT_EQ((*reader)->info().source, "glamira.summary");
  EXPECT_EQ((*reader)->info().first_source_id, "5ed8cb2bc671fc36b74653ad");
  EXPECT_EQ((*reader)->info().last_source_id, "5ed8cb2bc671fc36b74653af");
  ASSERT_EQ((*reader)->info().ranges.size(), 1u);
  EXPECT_EQ((*reader)->info().ranges[0].partition, -1);
  EXPECT_EQ((*reader)->info().ranges[0].records, 3u);
  ExpectSame(ReadAll(info->path), expected);
}

TEST(SegmentTest, EmptySegmentPublishesAndReads) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.kind = SourceKind::kFile;
  options.source = "events.ndjson";
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok()) << info.status();
  auto reader = SegmentReader::Open(info->path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->block_count(), 0u);
  EXPECT_EQ((*reader)->info().records, 0u);
  Block block;
  EXPECT_EQ((*reader)->ReadBlock(0, &block).code(), absl::StatusCode::kOutOfRange);
}

TEST(SegmentTest, PaddingAfterLastPayloadOfEveryBlockIsZero) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.block_bytes = 1000;
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  for (int i = 0; i < 200; ++i) {
    std::string payload(static_cast<size_t>(i * 7 % 300), static_cast<char>('a' + i % 26));
    ASSERT_TRUE((*writer)->Append({0, i, i, "", ""}, payload).ok());
  }
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok());
  auto reader = SegmentReader::Open(info->path);
  ASSERT_TRUE(reader.ok());
  Block block;
  ASSERT_GT((*reader)->block_count(), 5u);
  // Read blocks in an order that shrinks and grows the reused buffer.
  for (size_t b : {size_t{3}, size_t{0}, (*reader)->block_count() - 1, size_t{1}}) {
    ASSERT_TRUE((*reader)->ReadBlock(b, &block).ok());
    const RecordView& last = block.record(block.size() - 1);
    for (size_t k = 0; k < kPayloadPadding; ++k) {
      ASSERT_EQ(last.payload.data()[last.payload.size() + k], '\0') << "block " << b;
    }
  }
}

TEST(SegmentTest, KafkaOffsetsMustIncreaseWithinAPartition) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append({0, 10, 0, "", ""}, "a").ok());
  ASSERT_TRUE((*writer)->Append({1, 5, 0, "", ""}, "b").ok());
  absl::Status dup = (*writer)->Append({0, 10, 0, "", ""}, "dup");
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.message(), HasSubstr("partition 0 offset 10"));
  // The rejected record changed nothing; the writer goes on.
  ASSERT_TRUE((*writer)->Append({0, 11, 0, "", ""}, "c").ok());
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->records, 3u);
  ASSERT_EQ(info->ranges.size(), 2u);
  EXPECT_EQ(info->ranges[0].first_offset, 10);
  EXPECT_EQ(info->ranges[0].last_offset, 11);
  EXPECT_EQ(info->ranges[0].records, 2u);
  EXPECT_EQ(ReadAll(info->path).size(), 3u);
}

TEST(SegmentTest, PositionsAroundTheOffsetsAreKeptAndChecked) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append({0, 10, 0, "", ""}, "a").ok());
  ASSERT_TRUE((*writer)->Append({0, 12, 0, "", ""}, "b").ok());  // 11: a marker, say
  ASSERT_TRUE((*writer)->Append({1, 5, 0, "", ""}, "c").ok());
  (*writer)->SetPositions(0, 9, 14);  // the consumer stood at 9, then 14
  auto info = (*writer)->Publish();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->format_version, 2u);
  ASSERT_EQ(info->ranges.size(), 2u);
  EXPECT_EQ(info->ranges[0].start_position, 9);
  EXPECT_EQ(info->ranges[0].end_position, 14);
  // Without positions: [first, last + 1).
  EXPECT_EQ(info->ranges[1].start_position, 5);
  EXPECT_EQ(info->ranges[1].end_position, 6);
  auto reader = SegmentReader::Open(info->path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->info().ranges[0].start_position, 9);
  EXPECT_EQ((*reader)->info().ranges[0].end_position, 14);
  EXPECT_EQ((*reader)->info().footer_crc, info->footer_crc);
  EXPECT_NE(info->footer_crc, 0u);

  // Positions that do not cover the offsets are refused at publish.
  auto bad = SegmentWriter::Create(options);
  ASSERT_TRUE(bad.ok());
  ASSERT_TRUE((*bad)->Append({0, 10, 0, "", ""}, "a").ok());
  (*bad)->SetPositions(0, 11, 20);
  auto refused = (*bad)->Publish();
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.status().message(), HasSubstr("positions [11, 20)"));
}

// A file written by the version-1 writer (the import of three lines, kept in
// testdata) still reads; its positions are [first, last + 1).
TEST(SegmentTest, VersionOneFilesStillRead) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const std::string path =
      absl::StrCat(srcdir ? srcdir : ".", "/productview/cc/segment/testdata/v1_three_lines.pvseg");
  auto reader = SegmentReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const SegmentInfo& info = (*reader)->info();
  EXPECT_EQ(info.format_version, 1u);
  EXPECT_EQ(info.kind, SourceKind::kFile);
  EXPECT_EQ(info.records, 3u);
  ASSERT_EQ(info.ranges.size(), 1u);
  EXPECT_EQ(info.ranges[0].first_offset, 1);
  EXPECT_EQ(info.ranges[0].last_offset, 3);
  EXPECT_EQ(info.ranges[0].start_position, 1);
  EXPECT_EQ(info.ranges[0].end_position, 4);
  std::vector<std::string> payloads;
  Block block;
  for (size_t b = 0; b < (*reader)->block_count(); ++b) {
    ASSERT_TRUE((*reader)->ReadBlock(b, &block).ok());
    for (size_t i = 0; i < block.size(); ++i) payloads.emplace_back(block.record(i).payload);
  }
  ASSERT_EQ(payloads.size(), 3u);
  EXPECT_EQ(payloads[1], "not json");
}

TEST(SegmentTest, ExplicitNamesAreValidatedAndNeverReplaced) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.name = "orders-000001.pvseg";
  auto first = SegmentWriter::Create(options);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE((*first)->Append({0, 1, 0, "", ""}, "first").ok());
  // A second writer for the same name, created before the first publishes,
  // must not replace it at publish time.
  auto second = SegmentWriter::Create(options);
  EXPECT_FALSE(second.ok());  // its temporary name is taken
  ASSERT_TRUE((*first)->Publish().ok());
  auto third = SegmentWriter::Create(options);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kAlreadyExists);

  for (const char* bad : {".hidden", "a/b", ".pvseg"}) {
    options.name = bad;
    EXPECT_EQ(SegmentWriter::Create(options).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{dir + "/orders-000001.pvseg"});
  ExpectSame(ReadAll(dir + "/orders-000001.pvseg"), {{0, 1, 0, "", "", "first"}});
}

TEST(SegmentTest, PublishNeverReplacesAFileThatAppearedMeanwhile) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.name = "race";
  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append({0, 1, 0, "", ""}, "mine").ok());
  WriteFile(dir + "/race.pvseg", "someone else's");
  auto info = (*writer)->Publish();
  EXPECT_EQ(info.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ReadFile(dir + "/race.pvseg"), "someone else's");
  EXPECT_FALSE(Exists((*writer)->temp_path()));
}

TEST(SegmentTest, GeneratedNamesSortInPublishOrder) {
  const std::string dir = MakeTempDir();
  std::vector<std::string> published;
  for (int i = 0; i < 30; ++i) {
    WriterOptions options;
    options.dir = dir;
    options.source = "topic/with odd:chars";
    auto writer = SegmentWriter::Create(options);
    ASSERT_TRUE(writer.ok());
    ASSERT_TRUE((*writer)->Append({0, i, 0, "", ""}, "x").ok());
    auto info = (*writer)->Publish();
    ASSERT_TRUE(info.ok());
    EXPECT_THAT(info->path, HasSubstr("/topic_with_odd_chars-"));
    published.push_back(info->path);
  }
  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, published);
}

// ---------------------------------------------------------------- Torn files

TEST(SegmentTest, UnpublishedWriterLeavesNothingVisible) {
  const std::string dir = MakeTempDir();
  WriterOptions options;
  options.dir = dir;
  options.name = "pending";
  std::string temp_path;
  {
    auto writer = SegmentWriter::Create(options);
    ASSERT_TRUE(writer.ok());
    temp_path = (*writer)->temp_path();
    EXPECT_EQ(temp_path, dir + "/.pending.pvseg.tmp");
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE((*writer)->Append({0, i, 0, "", ""}, std::string(5000, 'p')).ok());
    }
    EXPECT_TRUE(Exists(temp_path));
    auto listed = ListSegments(dir);
    ASSERT_TRUE(listed.ok());
    EXPECT_TRUE(listed->empty());
  }  // destroyed without Publish
  EXPECT_FALSE(Exists(temp_path));
  EXPECT_FALSE(Exists(dir + "/pending.pvseg"));

  auto writer = SegmentWriter::Create(options);
  ASSERT_TRUE(writer.ok());
  (*writer)->Abandon();
  EXPECT_FALSE(Exists(temp_path));
  EXPECT_FALSE((*writer)->Publish().ok());
}

TEST(SegmentTest, CrashedWriterTempFileIsNeverListedOrReadable) {
  const std::string dir = MakeTempDir();
  const std::string temp_path = dir + "/.crashed.pvseg.tmp";
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // A writer process that dies mid-segment: no destructor, no cleanup.
    WriterOptions options;
    options.dir = dir;
    options.name = "crashed";
    options.block_bytes = 4096;
    auto writer = SegmentWriter::Create(options);
    if (!writer.ok()) _exit(1);
    for (int i = 0; i < 100; ++i) {
      if (!(*writer)->Append({0, i, 0, "", ""}, std::string(1000, 'c')).ok()) _exit(2);
    }
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  ASSERT_TRUE(Exists(temp_path));  // the half-file is there...
  // ...and hand-made temporary and hidden files too...
  WriteFile(dir + "/.manual.pvseg.tmp", "garbage");
  WriteFile(dir + "/.hidden.pvseg", "garbage");
  WriteFile(dir + "/notes.txt", "not a segment");
  mkdir((dir + "/subdir.pvseg").c_str(), 0755);
  // ...but never listed, and not readable as a segment.
  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  auto reader = SegmentReader::Open(temp_path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(reader.status().message(), HasSubstr(temp_path));
  EXPECT_THAT(reader.status().message(), HasSubstr("truncated or torn"));
}

// ---------------------------------------------------------------- Corruption

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir();
    WriterOptions options;
    options.dir = dir_;
    options.source = "product_views";
    options.name = "good";
    options.block_bytes = 2048;
    auto writer = SegmentWriter::Create(options);
    ASSERT_TRUE(writer.ok());
    std::mt19937_64 random(11);
    std::vector<int64_t> next = {0, 0, 0};
    AppendRecords(writer->get(), 120, random, &next, &expected_);
    auto info = (*writer)->Publish();
    ASSERT_TRUE(info.ok());
    good_ = ReadFile(info->path);
    offsets_ = BlockOffsets(good_);
    ASSERT_GT(offsets_.size(), 5u);
    path_ = dir_ + "/bad.pvseg";
  }

  absl::Status OpenStatus(const std::string& bytes) {
    WriteFile(path_, bytes);
    return SegmentReader::Open(path_).status();
  }

  std::string dir_, good_, path_;
  std::vector<uint64_t> offsets_;
  std::vector<Expected> expected_;
};

TEST_F(CorruptionTest, EmptyFile) {
  absl::Status s = OpenStatus("");
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("file " + path_ + ": empty file"));
  EXPECT_THAT(s.message(), HasSubstr("offset 0"));
}

TEST_F(CorruptionTest, BadMagic) {
  std::string bytes = good_;
  bytes[1] = 'X';
  absl::Status s = OpenStatus(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr("file " + path_ + ": bad magic at offset 0"));
  EXPECT_THAT(OpenStatus("{\"not\":\"a segment\"}\n").message(), HasSubstr("bad magic"));
}

TEST_F(CorruptionTest, UnknownVersion) {
  std::string bytes = good_;
  internal::PutFixed32(&bytes[format::kHeaderVersionOffset], 7);
  absl::Status s = OpenStatus(bytes);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(s.message(),
              HasSubstr("file " + path_ +
                        ": unsupported segment format version 7 (this build reads versions 1 to 2)"));
  EXPECT_THAT(s.message(), HasSubstr("offset 8"));
}

TEST_F(CorruptionTest, TruncatedInsideABlockNamesTheBlock) {
  for (size_t b : {size_t{0}, size_t{2}, offsets_.size() - 1}) {
    absl::Status s = OpenStatus(good_.substr(0, offsets_[b] + 30));
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(s.message(), HasSubstr("file " + path_ + ": truncated or torn"));
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("block ", b, " at offset ", offsets_[b])));
    EXPECT_THAT(s.message(), HasSubstr("cut short"));
  }
}

TEST_F(CorruptionTest, TruncatedAtEveryLengthIsAnError) {
  for (size_t n = 0; n < good_.size(); ++n) {
    absl::Status s = OpenStatus(good_.substr(0, n));
    ASSERT_FALSE(s.ok()) << "length " << n;
    EXPECT_THAT(s.message(), HasSubstr("file " + path_)) << n;
    EXPECT_THAT(s.message(), HasSubstr("offset")) << n;
  }
}

TEST_F(CorruptionTest, TruncatedAfterLastBlockSaysFooterMissing) {
  absl::Status s = OpenStatus(good_.substr(
      0, internal::GetFixed64(&good_[good_.size() - format::kTrailerSize])));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("after block ", offsets_.size() - 1)));
  EXPECT_THAT(s.message(), HasSubstr("footer"));
}

TEST_F(CorruptionTest, FlippedByteInBlockFailsOnlyThatBlock) {
  std::string bytes = good_;
  const size_t b = 3;
  bytes[offsets_[b] + format::kBlockHeaderSize + 10] ^= 0x01;
  WriteFile(path_, bytes);
  auto reader = SegmentReader::Open(path_);
  ASSERT_TRUE(reader.ok()) << reader.status();  // Open checks header/footer only
  Block block;
  for (size_t i = 0; i < (*reader)->block_count(); ++i) {
    absl::Status s = (*reader)->ReadBlock(i, &block);
    if (i != b) {
      EXPECT_TRUE(s.ok()) << s;
      continue;
    }
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("file ", path_, ": block 3 at offset ",
                                                    offsets_[b], ": CRC32C mismatch")));
    EXPECT_EQ(block.size(), 0u);
  }
}

TEST_F(CorruptionTest, FlippedByteInHeaderOrFooter) {
  std::string header_flip = good_;
  header_flip[format::kHeaderFixedSize + 2] ^= 0x20;  // inside the source name
  EXPECT_THAT(OpenStatus(header_flip).message(),
              HasSubstr("file " + path_ + ": header at offset 0: CRC32C mismatch"));

  std::string footer_flip = good_;
  const uint64_t footer_at = internal::GetFixed64(&good_[good_.size() - format::kTrailerSize]);
  footer_flip[footer_at + 3] ^= 0x04;
  EXPECT_THAT(OpenStatus(footer_flip).message(),
              HasSubstr(absl::StrCat("file ", path_, ": footer at offset ", footer_at,
                                     ": CRC32C mismatch")));
}

// No single flipped bit anywhere in the file goes unnoticed: either Open or
// the read of some block reports it.
TEST_F(CorruptionTest, EveryFlippedBitIsDetected) {
  for (size_t i = 0; i < good_.size(); ++i) {
    std::string bytes = good_;
    bytes[i] ^= static_cast<char>(1 << (i % 8));
    WriteFile(path_, bytes);
    auto reader = SegmentReader::Open(path_);
    if (!reader.ok()) {
      EXPECT_THAT(reader.status().message(), HasSubstr("offset")) << i;
      continue;
    }
    bool detected = false;
    Block block;
    for (size_t b = 0; b < (*reader)->block_count() && !detected; ++b) {
      absl::Status s = (*reader)->ReadBlock(b, &block);
      if (!s.ok()) {
        detected = true;
        EXPECT_THAT(s.message(), HasSubstr(absl::StrCat("block ", b, " at offset"))) << i;
      }
    }
    EXPECT_TRUE(detected) << "flip at byte " << i << " went unnoticed";
  }
}

TEST_F(CorruptionTest, BlocksReadConcurrentlyFromOneReader) {
  auto reader = SegmentReader::Open(dir_ + "/good.pvseg");
  ASSERT_TRUE(reader.ok());
  std::vector<uint64_t> records(2, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      Block block;  // one per thread, as the contract says
      for (int round = 0; round < 5; ++round) {
        for (size_t b = t; b < (*reader)->block_count(); b += 1) {
          if ((*reader)->ReadBlock(b, &block).ok()) records[t] += block.size();
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(records[0], 5 * expected_.size());
  EXPECT_EQ(records[1], 5 * (expected_.size() - (*reader)->block_records(0)));
}

TEST_F(CorruptionTest, GoodFileStillReads) { ExpectSame(ReadAll(dir_ + "/good.pvseg"), expected_); }

}  // namespace
}  // namespace pv::segment
