// mongo_export: a MongoDB collection -> segment files (kind mongodb, source
// "db.collection"), streaming and resumable.
//
//   bazel run //cc/ingest:mongo_export -- --mongo-db=kafka_data_db
//       --mongo-collection=product_views_records --segments=/data/segments
//   (one command line)
//
// Documents are read sorted by _id ascending through a cursor (--batch-size
// documents per round trip, so memory stays bounded) and written as relaxed
// extended JSON, the shape the batch job's EventParser reads (documents
// written by `consume --mongo` become the original Kafka payloads again; see
// cc/ingest/mongo_records.h). Each record carries the document's _id as text
// (source_id) and, in its key, the typed _id, so a later run resumes after
// the _id of the last record of the newest published segment of that
// collection: an interrupted export finishes without duplicates. Resuming
// only picks up documents inserted since when their _id sorts after every
// exported one (ObjectIds, as the seed's store has); for anything else start
// a fresh --segments directory.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/mongo_records.h"
#include "cc/mongo/mongo.h"
#include "cc/mongo/target.h"
#include "cc/segment/catalogue.h"
#include "cc/segment/naming.h"
#include "cc/segment/rolling_writer.h"
#include "cc/segment/segment.h"

ABSL_FLAG(std::string, mongo_uri, "",
          "MongoDB URI (env MONGO_URI, then PV_MONGO_URI, else mongodb://MONGO_HOST:MONGO_PORT/).");
ABSL_FLAG(std::string, mongo_db, "", "Database (env MONGO_DB; default kafka_data_db).");
ABSL_FLAG(std::string, mongo_collection, "",
          "Collection (env MONGO_COLLECTION; default product_views_records).");
ABSL_FLAG(std::string, segments, "",
          "Output directory for segment files (env PV_SEGMENTS_DIR); created if missing.");
ABSL_FLAG(int, segment_mb, 256, "Roll to a new segment after this many MB of payload.");
ABSL_FLAG(std::string, codec, "zstd", "Block compression: zstd, lz4 or none.");
ABSL_FLAG(int, batch_size, 1000, "Documents per cursor round trip.");
ABSL_FLAG(int64_t, max_documents, 0, "Stop after this many documents (0: all).");

namespace pv::ingest {
namespace {

constexpr char kUsage[] =
    "MongoDB collection -> segment files, resumable by _id.\n"
    "\n"
    "  mongo_export --mongo-db=DB --mongo-collection=C --segments=DIR\n"
    "\n"
    "A second run exports only documents after the last exported _id. Exit\n"
    "codes: 0 done (also after SIGINT/SIGTERM once the open segment is\n"
    "published); 1 failed (published segments stay valid); 2 bad usage.";

// Where the previous exports of `source` ended: the typed _id of the last
// record of the newest segment, and the next sequence number.
absl::Status FindResumePoint(const segment::SegmentCatalogue& published,
                             const std::string& source,
                             std::string* after_id_json, int64_t* next_seq) {
  const segment::SegmentInfo* newest = published.Newest(segment::SourceKind::kMongoDb, source);
  if (newest == nullptr) return absl::OkStatus();
  PV_ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(newest->path));
  if (reader->block_count() == 0) return absl::OkStatus();
  segment::Block block;
  PV_RETURN_IF_ERROR(reader->ReadBlock(reader->block_count() - 1, &block));
  const segment::RecordView& last = block.record(block.size() - 1);
  if (last.key.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("file ", newest->path, ": last record has no typed _id (key); cannot "
                     "resume (written by another tool?)"));
  }
  *after_id_json = std::string(last.key);
  for (const segment::PartitionRange& r : newest->ranges) {
    if (r.partition == -1) *next_seq = r.last_offset + 1;
  }
  PV_LOG(INFO) << "resuming after _id " << last.source_id << " (last record of "
               << newest->path << ")";
  return absl::OkStatus();
}

int Run() {
  const absl::Time started = absl::Now();
  ConfigReport report;
  std::string src;
  const mongo::MongoTarget target =
      mongo::ResolveMongoTarget(absl::GetFlag(FLAGS_mongo_uri), absl::GetFlag(FLAGS_mongo_db),
                                absl::GetFlag(FLAGS_mongo_collection), &report);
  const std::string& uri = target.uri;
  const std::string& db = target.db;
  const std::string& coll = target.collection;
  const std::string dir = FlagOrEnv(absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "", &src);
  report.Add("segments", dir, src);
  const int segment_mb = absl::GetFlag(FLAGS_segment_mb);
  const int batch_size = absl::GetFlag(FLAGS_batch_size);
  const int64_t max_documents = absl::GetFlag(FLAGS_max_documents);
  report.Add("segment_mb", absl::StrCat(segment_mb));
  report.Add("batch_size", absl::StrCat(batch_size));
  if (dir.empty()) {
    PV_LOG(ERROR) << "--segments (or PV_SEGMENTS_DIR) is required (see --help)";
    return 2;
  }
  if (segment_mb <= 0 || batch_size <= 0 || max_documents < 0) {
    PV_LOG(ERROR) << "--segment-mb and --batch-size must be positive, --max-documents >= 0";
    return 2;
  }
  const std::string c = absl::GetFlag(FLAGS_codec);
  absl::StatusOr<segment::Codec> parsed_codec = segment::ParseCodec(c);
  if (!parsed_codec.ok()) {
    PV_LOG(ERROR) << "--codec: " << parsed_codec.status().message();
    return 2;
  }
  const segment::Codec codec = *parsed_codec;
  report.Add("codec", c);
  PV_LOG(INFO) << "configuration:\n" << report.ToString();

  const std::string source = absl::StrCat(db, ".", coll);
  uint64_t documents = 0, bytes = 0;
  segment::RollingWriterOptions writer_options;
  writer_options.dir = dir;
  writer_options.kind = segment::SourceKind::kMongoDb;
  writer_options.source = source;
  writer_options.codec = codec;
  writer_options.roll_bytes = static_cast<uint64_t>(segment_mb) << 20;
  segment::RollingSegmentWriter writer(writer_options);
  Progress progress("mongo_export", "documents");
  auto run = [&]() -> absl::Status {
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", dir);
    }
    PV_RETURN_IF_ERROR(writer.Lock("mongo_export"));
    PV_RETURN_IF_ERROR(writer.RemoveDeadWritersTempFiles().status());
    segment::SegmentCatalogue published(dir);
    PV_RETURN_IF_ERROR(published.Refresh());
    std::string after_id_json;
    int64_t seq = 1;
    PV_RETURN_IF_ERROR(FindResumePoint(published, source, &after_id_json, &seq));
    std::string filter;
    if (!after_id_json.empty()) {
      PV_ASSIGN_OR_RETURN(filter, AfterIdFilter(after_id_json));
    }

    PV_ASSIGN_OR_RETURN(auto client, mongo::MongoClient::Connect(uri));
    mongo::Collection collection = client->GetCollection(db, coll);
    mongo::FindOptions find;
    find.batch_size = batch_size;
    find.sort_json = R"({"_id": 1})";
    PV_ASSIGN_OR_RETURN(mongo::Cursor cursor, collection.Find(filter, find));
    while (!ShutdownRequested()) {
      if (max_documents > 0 && documents >= static_cast<uint64_t>(max_documents)) break;
      const bson_t* doc = nullptr;
      PV_ASSIGN_OR_RETURN(bool more, cursor.Next(&doc));
      if (!more) break;
      absl::StatusOr<ExportedRecord> record = ExportRecord(doc);
      if (!record.ok()) {
        return Annotate(record.status(), absl::StrCat(source, " document ", seq));
      }
      segment::RecordMeta meta;
      meta.partition = -1;
      meta.offset = seq++;
      meta.key = record->id_json;
      meta.source_id = record->source_id;
      PV_RETURN_IF_ERROR(writer.Append(meta, record->payload), source, " _id ",
                         record->source_id);
      ++documents;
      bytes += record->payload.size();
      progress.Add(1, record->payload.size());
      PV_RETURN_IF_ERROR(writer.PublishIfDue().status());
    }
    return absl::OkStatus();
  };
  absl::Status status = run();
  // Documents exported before an error or a signal are published whole:
  // the next run resumes after them.
  absl::Status published = writer.Publish().status();
  if (status.ok()) status = published;
  progress.Finish();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  std::fprintf(stdout,
               "\nmongo_export %s\n  source     %s\n  documents  %llu (%.1f MB)\n"
               "  segments   %llu published (%.1f MB) -> %s\n"
               "  time       %.2f s (%.0f documents/s)\n",
               status.ok() ? (ShutdownRequested() ? "stopped (signal)" : "done") : "FAILED",
               source.c_str(), static_cast<unsigned long long>(documents), bytes / 1e6,
               static_cast<unsigned long long>(writer.segments_published()),
               writer.bytes_published() / 1e6, dir.c_str(), seconds,
               documents / std::max(seconds, 1e-9));
  std::fflush(stdout);
  if (!status.ok()) {
    PV_LOG(ERROR) << status;
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace pv::ingest

int main(int argc, char** argv) {
  pv::ParseCommandLine(argc, argv, pv::ingest::kUsage);
  pv::SetLogTag("mongo_export");
  pv::InstallShutdownHandlers();
  return pv::ingest::Run();
}
