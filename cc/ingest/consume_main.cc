// consume: local Kafka topic -> segment files (and the MongoDB raw store with
// --mongo), exactly once into segments across crashes, restarts and group
// rebalances.
//
//   eval "$(tools/services/all.sh env)"
//   bazel run //cc/ingest:consume -- --topic=product_views --segments=/data/segments
//
// Exactly-once design: the published segments in --segments are the only
// record of what was consumed. When the group assigns a partition, consume
// reads the footers of the published segments of the topic and starts the
// partition at (largest last_offset) + 1, or at the beginning when there is
// none; Kafka's committed offsets are written after each publish for lag
// tools only and never read. Records accumulate in one open segment (a hidden
// temporary file), published (fsync + rename) when it reaches --segment-mb or
// --segment-seconds, before partitions are revoked, and at shutdown. A crash
// at any moment loses only the unpublished temporary file, whose records are
// consumed again after the restart. When the assignment is lost (session
// timeout) the open segment is discarded instead of published, since another
// member may already own the partitions. Every member of a group must use the
// same --segments directory (it is where the offsets live).
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/mirror_settings.h"
#include "cc/ingest/mongo_records.h"
#include "cc/ingest/offsets.h"
#include "cc/kafka/kafka.h"
#include "cc/mongo/mongo.h"
#include "cc/segment/segment.h"

ABSL_FLAG(std::string, brokers, "",
          "Kafka bootstrap servers (env KAFKA_BROKERS, then PV_KAFKA_BROKERS).");
ABSL_FLAG(std::string, topic, "", "Topic to consume (env KAFKA_TOPIC; default product_views).");
ABSL_FLAG(std::string, group, "", "Consumer group id (env KAFKA_GROUP_ID; default pv-consume).");
ABSL_FLAG(std::string, security_protocol, "",
          "PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL (env KAFKA_SECURITY_PROTOCOL; default "
          "SASL_PLAINTEXT when a SASL user is set, else PLAINTEXT).");
ABSL_FLAG(std::string, sasl_mechanism, "", "SASL mechanism (env KAFKA_SASL_MECHANISM; PLAIN).");
ABSL_FLAG(std::string, sasl_username, "",
          "SASL user (env KAFKA_SASL_USERNAME, then PV_KAFKA_USER). The password is read only "
          "from env KAFKA_SASL_PASSWORD or PV_KAFKA_PASSWORD, literally or as @/path/to/file.");
ABSL_FLAG(std::string, segments, "",
          "Output directory for segment files (env PV_SEGMENTS_DIR); created if missing. It "
          "also holds the consumed offsets: every member of the group must use the same one.");
ABSL_FLAG(int, segment_mb, 256, "Publish the open segment after this many MB of payload.");
ABSL_FLAG(int, segment_seconds, 300,
          "Publish the open segment when its first record is this old, even on a quiet topic.");
ABSL_FLAG(std::string, codec, "zstd", "Block compression: zstd, lz4 or none.");
ABSL_FLAG(int64_t, max_messages, 0, "Stop after this many messages (0: run until signalled).");
ABSL_FLAG(bool, exit_at_end, false,
          "Stop once every assigned partition has been read up to its high watermark.");
ABSL_FLAG(std::string, offset_reset, "error",
          "When a resume offset is no longer in Kafka (deleted by retention): 'error' stops "
          "with the partition and offset named; 'earliest' accepts the loss and goes on.");
ABSL_FLAG(bool, mongo, false, "Also insert every record into the MongoDB raw store.");
ABSL_FLAG(std::string, mongo_uri, "",
          "MongoDB URI (env MONGO_URI, then PV_MONGO_URI, else mongodb://MONGO_HOST:MONGO_PORT/).");
ABSL_FLAG(std::string, mongo_db, "", "Database (env MONGO_DB; default kafka_data_db).");
ABSL_FLAG(std::string, mongo_collection, "",
          "Collection (env MONGO_COLLECTION; default product_views_records).");
ABSL_FLAG(int, mongo_batch, 1000, "Documents per unordered insert_many.");

namespace pv::ingest {
namespace {

constexpr char kUsage[] =
    "Kafka topic -> segment files (and MongoDB with --mongo), exactly once.\n"
    "\n"
    "  consume --topic=T --segments=DIR [--group=G] [--mongo] [-X key=value ...]\n"
    "\n"
    "Offsets come from the footers of the segments published in DIR, never from\n"
    "Kafka's committed offsets (those are written for lag tools). -X passes a\n"
    "librdkafka property (repeatable; not for secrets). Exit codes: 0 done (also\n"
    "after SIGINT/SIGTERM once the open segment is published); 1 failed\n"
    "(published segments stay valid); 2 bad usage; 130 interrupted before a\n"
    "clean finish.";

// Documents to the raw store in unordered batches.
class MongoSink {
 public:
  MongoSink(std::unique_ptr<mongo::MongoClient> client, const std::string& db,
            const std::string& collection, size_t batch)
      : client_(std::move(client)),
        collection_(client_->GetCollection(db, collection)),
        batch_(batch) {}

  absl::Status Add(absl::string_view topic, int32_t partition, int64_t offset,
                   absl::string_view payload) {
    bool raw = false;
    docs_.push_back(RawStoreDocument(KafkaRecordId(topic, partition, offset), payload, &raw));
    if (raw) ++raw_;
    if (docs_.size() >= batch_) return Flush();
    return absl::OkStatus();
  }

  absl::Status Flush() {
    if (docs_.empty()) return absl::OkStatus();
    absl::StatusOr<mongo::InsertManyResult> result = collection_.InsertMany(docs_);
    if (!result.ok()) {
      return Annotate(result.status(), absl::StrCat("MongoDB sink, batch of ", docs_.size()));
    }
    inserted_ += result->inserted;
    duplicates_ += result->duplicate_indexes.size();
    docs_.clear();
    return absl::OkStatus();
  }

  int64_t inserted() const { return inserted_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t raw() const { return raw_; }
  const std::string& name() const { return collection_.full_name(); }

 private:
  std::unique_ptr<mongo::MongoClient> client_;
  mongo::Collection collection_;
  size_t batch_;
  std::vector<mongo::Document> docs_;
  int64_t inserted_ = 0, duplicates_ = 0, raw_ = 0;
};

struct Totals {
  uint64_t messages = 0, bytes = 0, segments = 0, segment_bytes = 0;
  uint64_t duplicates_dropped = 0, gaps = 0, abandoned = 0;
};

// The open segment and the assigned partitions' positions. Runs on the
// polling thread only (librdkafka calls the listener from Poll and Close).
class SegmentSink : public kafka::RebalanceListener {
 public:
  SegmentSink(std::string dir, std::string topic, segment::Codec codec, uint64_t roll_bytes,
              absl::Duration roll_age, MongoSink* mongo)
      : dir_(std::move(dir)),
        topic_(std::move(topic)),
        codec_(codec),
        roll_bytes_(roll_bytes),
        roll_age_(roll_age),
        mongo_(mongo),
        published_(dir_),
        namer_(topic_) {}

  ~SegmentSink() override {
    if (writer_ != nullptr) writer_->Abandon();
  }

  absl::Status Init() { return published_.Refresh(); }
  size_t published_at_start() const { return published_.size(); }
  void set_consumer(kafka::Consumer* consumer) { consumer_ = consumer; }

  absl::Status OnAssign(std::vector<kafka::TopicPartitionOffset>* partitions) override {
    PV_RETURN_IF_ERROR(published_.Refresh(), "reading published segments in ", dir_);
    const absl::flat_hash_map<int32_t, int64_t> next = published_.NextKafkaOffsets(topic_);
    std::vector<std::string> where;
    for (kafka::TopicPartitionOffset& tp : *partitions) {
      if (tp.topic != topic_) {
        return absl::InternalError(absl::StrCat("assigned topic ", tp.topic, ", expected ", topic_));
      }
      auto it = next.find(tp.partition);
      tp.offset = it == next.end() ? kafka::kOffsetBeginning : it->second;
      next_[tp.partition] = it == next.end() ? -1 : it->second;
      where.push_back(absl::StrCat(tp.partition, "@",
                                   it == next.end() ? "beginning" : absl::StrCat(it->second)));
    }
    PV_LOG(INFO) << "assigned " << topic_ << " partitions " << absl::StrJoin(where, ", ")
                 << " (resume points from " << published_.size() << " published segments)";
    return absl::OkStatus();
  }

  absl::Status OnRevoke(const std::vector<kafka::TopicPartitionOffset>& partitions,
                        bool lost) override {
    absl::Status status;
    if (lost) {
      Abandon("the assignment was lost (session timeout?): other members may own the "
              "partitions now");
    } else {
      status = PublishOpen();
    }
    std::vector<std::string> names;
    for (const kafka::TopicPartitionOffset& tp : partitions) {
      next_.erase(tp.partition);
      names.push_back(absl::StrCat(tp.partition));
    }
    PV_LOG(INFO) << (lost ? "lost " : "revoked ") << topic_ << " partitions "
                 << absl::StrJoin(names, ", ");
    return status;
  }

  absl::Status Append(const kafka::Message& m, Progress& progress) {
    auto it = next_.find(m.partition());
    if (it == next_.end()) {  // left over from a revoked assignment
      ++totals_.duplicates_dropped;
      return absl::OkStatus();
    }
    const int64_t offset = m.offset();
    if (it->second >= 0 && offset < it->second) {
      ++totals_.duplicates_dropped;
      return absl::OkStatus();
    }
    if (it->second >= 0 && offset > it->second) {
      ++totals_.gaps;
      PV_LOG(WARNING) << "topic " << topic_ << " partition " << m.partition()
                      << ": expected offset " << it->second << ", got " << offset << " ("
                      << offset - it->second
                      << " offsets absent: compaction, transaction markers or retention)";
    }
    if (writer_ == nullptr) {
      segment::WriterOptions o;
      o.dir = dir_;
      o.kind = segment::SourceKind::kKafka;
      o.source = topic_;
      o.codec = codec_;
      o.name = namer_.Next();
      PV_ASSIGN_OR_RETURN(writer_, segment::SegmentWriter::Create(o));
      opened_ = absl::Now();
    }
    segment::RecordMeta meta;
    meta.partition = m.partition();
    meta.offset = offset;
    meta.timestamp_ms = m.timestamp_ms();
    meta.key = m.key();
    PV_RETURN_IF_ERROR(writer_->Append(meta, m.value()), "topic ", topic_, " partition ",
                       m.partition(), " offset ", offset);
    if (mongo_ != nullptr) {
      PV_RETURN_IF_ERROR(mongo_->Add(topic_, m.partition(), offset, m.value()), "topic ",
                         topic_, " partition ", m.partition(), " offset ", offset);
    }
    it->second = offset + 1;
    ++totals_.messages;
    totals_.bytes += m.value().size();
    progress.Add(1, m.value().size());
    return absl::OkStatus();
  }

  absl::Status MaybeRoll() {
    if (writer_ == nullptr) return absl::OkStatus();
    if (writer_->payload_bytes() >= roll_bytes_ || absl::Now() - opened_ >= roll_age_) {
      return PublishOpen();
    }
    return absl::OkStatus();
  }

  // Flushes MongoDB, publishes the open segment (if any) and commits its
  // offsets to Kafka for lag tools.
  absl::Status PublishOpen() {
    if (mongo_ != nullptr) PV_RETURN_IF_ERROR(mongo_->Flush());
    if (writer_ == nullptr) return absl::OkStatus();
    if (consumer_ != nullptr && consumer_->AssignmentLost()) {
      Abandon("the assignment was lost before publishing");
      return absl::OkStatus();
    }
    PV_ASSIGN_OR_RETURN(segment::SegmentInfo info, writer_->Publish());
    writer_.reset();
    published_.Add(info);
    ++totals_.segments;
    totals_.segment_bytes += info.file_bytes;
    std::vector<kafka::TopicPartitionOffset> commit;
    std::vector<std::string> ranges;
    for (const segment::PartitionRange& r : info.ranges) {
      commit.push_back({topic_, r.partition, r.last_offset + 1});
      ranges.push_back(absl::StrCat(r.partition, ":", r.first_offset, "-", r.last_offset));
    }
    PV_LOG(INFO) << "published " << info.path << " (" << info.records << " records, "
                 << info.file_bytes << " bytes; partition:offsets "
                 << absl::StrJoin(ranges, " ") << ")";
    if (consumer_ != nullptr) {
      absl::Status committed = consumer_->Commit(commit);
      if (!committed.ok()) {
        PV_LOG(WARNING) << "offsets published but not committed to Kafka (only lag tools "
                           "read them): "
                        << committed;
      }
    }
    return absl::OkStatus();
  }

  // Whether every assigned partition has been read up to its high watermark
  // (asked from the leaders). False while nothing is assigned.
  absl::StatusOr<bool> AtEnd() {
    if (next_.empty() || consumer_ == nullptr) return false;
    for (const auto& [partition, next] : next_) {
      PV_ASSIGN_OR_RETURN(kafka::PartitionWatermarks w,
                          consumer_->QueryWatermarks(topic_, partition, absl::Seconds(10)));
      if (next >= 0 ? next < w.high : w.low < w.high) return false;
    }
    return true;
  }

  // "p0=12 p1=0 p2=?" from cached watermarks, and the total where known.
  std::string LagText(int64_t* total) const {
    std::vector<std::pair<int32_t, std::string>> parts;
    *total = 0;
    for (const auto& [partition, next] : next_) {
      kafka::PartitionWatermarks w = consumer_->CachedWatermarks(topic_, partition);
      std::string lag = "?";
      if (w.high >= 0) {
        const int64_t n = next >= 0 ? std::max<int64_t>(0, w.high - next) : w.high - w.low;
        *total += n;
        lag = absl::StrCat(n);
      }
      parts.emplace_back(partition, absl::StrCat("p", partition, "=", lag));
    }
    std::sort(parts.begin(), parts.end());
    std::vector<std::string> texts;
    for (auto& p : parts) texts.push_back(std::move(p.second));
    return texts.empty() ? "(no partitions assigned)" : absl::StrJoin(texts, " ");
  }

  const Totals& totals() const { return totals_; }

 private:
  void Abandon(absl::string_view why) {
    if (writer_ == nullptr) return;
    PV_LOG(WARNING) << "discarding the open segment (" << writer_->records()
                    << " records, consumed again by whoever owns the partitions): " << why;
    writer_->Abandon();
    writer_.reset();
    ++totals_.abandoned;
  }

  const std::string dir_;
  const std::string topic_;
  const segment::Codec codec_;
  const uint64_t roll_bytes_;
  const absl::Duration roll_age_;
  MongoSink* const mongo_;
  kafka::Consumer* consumer_ = nullptr;
  PublishedSegments published_;
  SegmentNamer namer_;
  std::unique_ptr<segment::SegmentWriter> writer_;
  absl::Time opened_;
  // Assigned partitions -> next offset expected (-1: from the beginning,
  // whatever it is now).
  absl::flat_hash_map<int32_t, int64_t> next_;
  Totals totals_;
};

int Run(const std::vector<std::string>& properties) {
  const absl::Time started = absl::Now();
  ConfigReport report;
  std::string src;
  auto flag_or_env = [&](const char* name, const std::string& flag,
                         std::initializer_list<const char*> env, absl::string_view def,
                         bool show = true) {
    std::string v = FlagOrEnv(flag, env, def, &src);
    if (show) report.Add(name, v, src);
    return v;
  };
  const std::string brokers =
      flag_or_env("brokers", absl::GetFlag(FLAGS_brokers), {"KAFKA_BROKERS", "PV_KAFKA_BROKERS"}, "");
  const std::string topic =
      flag_or_env("topic", absl::GetFlag(FLAGS_topic), {"KAFKA_TOPIC"}, "product_views");
  const std::string group =
      flag_or_env("group", absl::GetFlag(FLAGS_group), {"KAFKA_GROUP_ID"}, "pv-consume");
  const std::string user = flag_or_env("sasl_username", absl::GetFlag(FLAGS_sasl_username),
                                       {"KAFKA_SASL_USERNAME", "PV_KAFKA_USER"}, "");
  const std::string protocol = flag_or_env(
      "security_protocol", absl::GetFlag(FLAGS_security_protocol),
      {"KAFKA_SECURITY_PROTOCOL", "PV_KAFKA_SECURITY_PROTOCOL"},
      user.empty() ? "PLAINTEXT" : "SASL_PLAINTEXT");
  const std::string mechanism =
      flag_or_env("sasl_mechanism", absl::GetFlag(FLAGS_sasl_mechanism),
                  {"KAFKA_SASL_MECHANISM", "PV_KAFKA_SASL_MECHANISM"}, "PLAIN");
  std::string password_src;
  const std::string password_value =
      FlagOrEnv("", {"KAFKA_SASL_PASSWORD", "PV_KAFKA_PASSWORD"}, "", &password_src);
  const std::string dir =
      flag_or_env("segments", absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  const int segment_mb = absl::GetFlag(FLAGS_segment_mb);
  const int segment_seconds = absl::GetFlag(FLAGS_segment_seconds);
  const std::string offset_reset = absl::GetFlag(FLAGS_offset_reset);
  const bool use_mongo = absl::GetFlag(FLAGS_mongo);

  if (brokers.empty() || dir.empty()) {
    PV_LOG(ERROR) << "--brokers (or KAFKA_BROKERS) and --segments (or PV_SEGMENTS_DIR) are "
                     "required (see --help)";
    return 2;
  }
  if (segment_mb <= 0 || segment_seconds <= 0 || absl::GetFlag(FLAGS_max_messages) < 0 ||
      absl::GetFlag(FLAGS_mongo_batch) <= 0) {
    PV_LOG(ERROR) << "--segment-mb, --segment-seconds and --mongo-batch must be positive, "
                     "--max-messages >= 0";
    return 2;
  }
  if (offset_reset != "error" && offset_reset != "earliest") {
    PV_LOG(ERROR) << "--offset-reset=" << offset_reset << ": expected error or earliest";
    return 2;
  }
  const std::string c = absl::GetFlag(FLAGS_codec);
  absl::StatusOr<segment::Codec> parsed_codec = segment::ParseCodec(c);
  if (!parsed_codec.ok()) {
    PV_LOG(ERROR) << "--codec: " << parsed_codec.status().message();
    return 2;
  }
  const segment::Codec codec = *parsed_codec;

  kafka::KafkaConfig config;
  config.SetBrokers(brokers).SetSecurityProtocol(protocol);
  if (!user.empty()) {
    absl::StatusOr<std::string> password = ReadSecret(password_value, "Kafka SASL password");
    if (!password.ok() || password->empty()) {
      PV_LOG(ERROR) << "SASL user " << user
                    << " needs a password in KAFKA_SASL_PASSWORD or PV_KAFKA_PASSWORD"
                    << (password.ok() ? "" : absl::StrCat(": ", password.status().message()));
      return 2;
    }
    config.SetSasl(mechanism, user, *password);
    report.Add("sasl_password", *password, password_src, /*secret=*/true);
  }
  for (const std::string& p : properties) {
    const size_t eq = p.find('=');
    if (eq != std::string::npos && kafka::KafkaConfig::IsSecretKey(p.substr(0, eq))) {
      PV_LOG(ERROR) << "-X " << p.substr(0, eq)
                    << ": secrets must not be passed on the command line (use the environment)";
      return 2;
    }
    if (absl::Status s = config.SetFromAssignment(p); !s.ok()) {
      PV_LOG(ERROR) << "-X: " << s.message();
      return 2;
    }
    report.Add(absl::StrCat("-X ", p.substr(0, eq)), p.substr(eq + 1), "flag");
  }
  report.Add("segment_mb", absl::StrCat(segment_mb), "");
  report.Add("segment_seconds", absl::StrCat(segment_seconds), "");
  report.Add("codec", c, "");
  report.Add("max_messages", absl::StrCat(absl::GetFlag(FLAGS_max_messages)), "");
  report.Add("exit_at_end", absl::GetFlag(FLAGS_exit_at_end) ? "true" : "false", "");

  std::unique_ptr<MongoSink> mongo_sink;
  std::string mongo_uri;
  if (use_mongo) {
    std::string uri_src;
    mongo_uri = FlagOrEnv(absl::GetFlag(FLAGS_mongo_uri), {"MONGO_URI", "PV_MONGO_URI"}, "",
                          &uri_src);
    if (mongo_uri.empty()) {
      const std::string host = FlagOrEnv("", {"MONGO_HOST"}, "localhost");
      const std::string port = FlagOrEnv("", {"MONGO_PORT"}, "27017");
      mongo_uri = absl::StrCat("mongodb://", host, ":", port, "/");
      uri_src = "env MONGO_HOST/MONGO_PORT";
    }
    report.Add("mongo_uri", mongo_uri, uri_src);
  }
  const std::string mongo_db = flag_or_env("mongo_db", absl::GetFlag(FLAGS_mongo_db),
                                           {"MONGO_DB"}, "kafka_data_db", use_mongo);
  const std::string mongo_coll =
      flag_or_env("mongo_collection", absl::GetFlag(FLAGS_mongo_collection),
                  {"MONGO_COLLECTION"}, "product_views_records", use_mongo);
  PV_LOG(INFO) << "configuration:\n" << report.ToString();

  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    PV_LOG(ERROR) << ErrnoStatus(errno, "create directory", dir);
    return 1;
  }
  if (absl::StatusOr<int> removed = RemoveDeadWritersTempFiles(dir); !removed.ok()) {
    PV_LOG(ERROR) << removed.status();
    return 1;
  }
  if (use_mongo) {
    absl::StatusOr<std::unique_ptr<mongo::MongoClient>> client =
        mongo::MongoClient::Connect(mongo_uri);
    if (!client.ok()) {
      PV_LOG(ERROR) << client.status();
      return 1;
    }
    mongo_sink = std::make_unique<MongoSink>(std::move(*client), mongo_db, mongo_coll,
                                             absl::GetFlag(FLAGS_mongo_batch));
  }

  // The sink outlives the consumer: Close() and the destructor call it.
  SegmentSink sink(dir, topic, codec, static_cast<uint64_t>(segment_mb) << 20,
                   absl::Seconds(segment_seconds), mongo_sink.get());
  if (absl::Status s = sink.Init(); !s.ok()) {
    PV_LOG(ERROR) << s;
    return 1;
  }
  PV_LOG(INFO) << sink.published_at_start() << " published segments in " << dir;
  kafka::ConsumerOptions options;
  options.group_id = group;
  options.auto_offset_reset = offset_reset;
  options.rebalance_listener = &sink;
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(config, options);
  if (!consumer.ok()) {
    PV_LOG(ERROR) << consumer.status();
    return 1;
  }
  sink.set_consumer(consumer->get());
  absl::Status status = (*consumer)->Subscribe({topic});

  Progress progress("consume", "messages");
  const int64_t max_messages = absl::GetFlag(FLAGS_max_messages);
  const bool exit_at_end = absl::GetFlag(FLAGS_exit_at_end);
  absl::Time next_lag_report = absl::Now() + absl::Seconds(10);
  bool reached_end = false;
  while (status.ok() && !ShutdownRequested()) {
    if (max_messages > 0 && sink.totals().messages >= static_cast<uint64_t>(max_messages)) break;
    absl::StatusOr<kafka::Message> m = (*consumer)->Poll(absl::Milliseconds(200));
    if (!m.ok()) {
      status = Annotate(m.status(), absl::StrCat("brokers ", brokers, " topic ", topic));
      break;
    }
    if (!m->empty()) {
      status = sink.Append(*m, progress);
    } else if (exit_at_end) {
      absl::StatusOr<bool> at_end = sink.AtEnd();
      if (!at_end.ok()) {
        PV_LOG(WARNING) << "checking for the end of the topic: " << at_end.status();
      } else if (*at_end) {
        reached_end = true;
        break;
      }
    }
    if (status.ok()) status = sink.MaybeRoll();
    if (absl::Now() >= next_lag_report) {
      int64_t lag = 0;
      const std::string text = sink.LagText(&lag);
      PV_LOG(INFO) << "lag " << lag << " messages: " << text;
      next_lag_report = absl::Now() + absl::Seconds(10);
    }
  }
  // What was appended while the partitions were ours is published whole,
  // also after an error (the records before it are good).
  absl::Status published = sink.PublishOpen();
  if (!published.ok()) {
    PV_LOG(ERROR) << published;
    if (status.ok()) status = published;
  }
  int64_t lag = 0;
  const std::string lag_text = sink.LagText(&lag);
  absl::Status closed = (*consumer)->Close();
  if (!closed.ok()) PV_LOG(WARNING) << closed;
  progress.Finish();

  const Totals& t = sink.totals();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  std::fprintf(stdout,
               "\nconsume %s\n  topic      %s (group %s)\n"
               "  messages   %llu (%.1f MB payload)\n"
               "  segments   %llu published (%.1f MB) -> %s\n"
               "  skipped    %llu already-consumed, %llu offset gaps, %llu open segments "
               "discarded\n"
               "  lag        %s\n",
               status.ok() ? (reached_end ? "done (end of topic)" : "done") : "FAILED",
               topic.c_str(), group.c_str(), static_cast<unsigned long long>(t.messages),
               t.bytes / 1e6, static_cast<unsigned long long>(t.segments),
               t.segment_bytes / 1e6, dir.c_str(),
               static_cast<unsigned long long>(t.duplicates_dropped),
               static_cast<unsigned long long>(t.gaps),
               static_cast<unsigned long long>(t.abandoned), lag_text.c_str());
  if (mongo_sink != nullptr) {
    std::fprintf(stdout, "  mongodb    %s: %lld inserted, %lld already there, %lld stored raw\n",
                 mongo_sink->name().c_str(), static_cast<long long>(mongo_sink->inserted()),
                 static_cast<long long>(mongo_sink->duplicates()),
                 static_cast<long long>(mongo_sink->raw()));
  }
  std::fprintf(stdout, "  time       %.2f s (%.0f messages/s, %.1f MB/s)\n", seconds,
               t.messages / std::max(seconds, 1e-9), t.bytes / 1e6 / std::max(seconds, 1e-9));
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
  pv::SetLogTag("consume");
  // -X key=value (kcat's spelling) is taken out of argv before flag parsing,
  // by the same parser as mirror's and kafka_count's.
  pv::ingest::PropertyArgs props;
  absl::StatusOr<std::vector<std::string>> rest =
      pv::ingest::ExtractPropertyArgs(std::vector<std::string>(argv, argv + argc), &props);
  if (!rest.ok()) {
    std::fprintf(stderr, "consume: %s\n", std::string(rest.status().message()).c_str());
    return 2;
  }
  if (!props.destination.empty()) {
    std::fprintf(stderr, "consume: -Y is the mirror's; use -X key=value here\n");
    return 2;
  }
  std::vector<char*> args;
  for (std::string& a : *rest) args.push_back(a.data());
  pv::ParseCommandLine(static_cast<int>(args.size()), args.data(), pv::ingest::kUsage);
  pv::InstallShutdownHandlers();
  return pv::ingest::Run(props.source);
}
