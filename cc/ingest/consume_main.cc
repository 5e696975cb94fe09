// consume: local Kafka topic -> segment files (and the MongoDB raw store with
// --mongo), exactly once into segments across crashes, restarts and group
// rebalances.
//
//   eval "$(tools/services/all.sh env)"
//   bazel run //cc/ingest:consume -- --topic=product_views --segments=/data/segments
//
// Flags and wiring only: the exactly-once logic is KafkaSegmentSink
// (cc/ingest/kafka_segment_sink.h), the MongoDB raw store MongoRawStore
// (cc/ingest/mongo_records.h).
#include <prometheus/registry.h>
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
#include "cc/common/metrics_server.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/kafka_segment_sink.h"
#include "cc/ingest/mongo_records.h"
#include "cc/ingest/stage_metrics.h"
#include "cc/kafka/config.h"
#include "cc/kafka/kafka.h"
#include "cc/mongo/mongo.h"
#include "cc/mongo/target.h"
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
ABSL_FLAG(std::string, host, "",
          "Host name in segment names and the writer lock (env PV_SEGMENT_HOST; default this "
          "machine's). Processes sharing one segments directory (on several machines, or "
          "several of one group on one) each need their own.");
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
ABSL_FLAG(bool, mongo, false,
          "Also insert every record into the MongoDB raw store (also when env PV_MONGO_SINK "
          "is 1 or true).");
ABSL_FLAG(std::string, mongo_uri, "",
          "MongoDB URI (env MONGO_URI, then PV_MONGO_URI, else mongodb://MONGO_HOST:MONGO_PORT/).");
ABSL_FLAG(std::string, mongo_db, "", "Database (env MONGO_DB; default kafka_data_db).");
ABSL_FLAG(std::string, mongo_collection, "",
          "Collection (env MONGO_COLLECTION; default product_views_records).");
ABSL_FLAG(int, mongo_batch, 1000, "Documents per unordered insert_many.");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics on http://HOST:PORT/metrics and health on /healthz, e.g. "
          "127.0.0.1:9464 (0.0.0.0:9464 in a container; port 0: any free one) (env "
          "PV_METRICS_ADDRESS; default: off).");
ABSL_FLAG(absl::Duration, stall_timeout, absl::Minutes(2),
          "With --metrics-address: /healthz answers 503 (and pv_consume_healthy is 0) when "
          "nothing was consumed for this long while messages are waiting.");

namespace pv::ingest {
namespace {

constexpr char kUsage[] =
    "Kafka topic -> segment files (and MongoDB with --mongo), exactly once.\n"
    "\n"
    "  consume --topic=T --segments=DIR [--group=G] [--mongo] [-X key=value ...]\n"
    "\n"
    "Offsets come from the footers of the segments published in DIR, never from\n"
    "Kafka's committed offsets (those are written for lag tools). -X passes a\n"
    "librdkafka property (repeatable; not for secrets). --metrics-address=HOST:PORT\n"
    "serves /metrics (Prometheus) and /healthz (200 ok, 503 stuck or failing).\n"
    "Exit codes: 0 done (also after SIGINT/SIGTERM once the open segment is\n"
    "published); 1 failed (published segments stay valid); 2 bad usage; 130\n"
    "interrupted before a clean finish.";

// Waits until `topic` exists on every broker (the mirror creates it), saying
// so every 30 s; returns early on a shutdown request, fails on other
// metadata errors.
absl::Status AwaitTopic(const kafka::KafkaConfig& config, const std::string& topic,
                        const std::string& brokers) {
  PV_ASSIGN_OR_RETURN(std::unique_ptr<kafka::Admin> admin, kafka::Admin::Create(config));
  absl::Time next_log = absl::Now();
  while (!ShutdownRequested()) {
    absl::StatusOr<int> partitions = admin->PartitionCount(topic, absl::Seconds(10));
    if (partitions.ok()) {
      // Known to one broker; the consumer may ask another.
      return Annotate(admin->AwaitTopicOnEveryBroker(topic, absl::Now() + absl::Minutes(1)),
                      absl::StrCat("brokers ", brokers));
    }
    if (!absl::IsNotFound(partitions.status())) {
      return Annotate(partitions.status(), absl::StrCat("brokers ", brokers, " topic ", topic));
    }
    if (absl::Now() >= next_log) {
      PV_LOG(INFO) << "topic " << topic << " does not exist yet on " << brokers
                   << ": waiting for it (the mirror creates it)";
      next_log = absl::Now() + absl::Seconds(30);
    }
    absl::SleepFor(absl::Milliseconds(250));
  }
  return absl::OkStatus();
}

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
  kafka::ClusterSource cluster_from = kafka::LocalCluster("local");
  cluster_from.flags.brokers = absl::GetFlag(FLAGS_brokers);
  cluster_from.flags.security_protocol = absl::GetFlag(FLAGS_security_protocol);
  cluster_from.flags.sasl_mechanism = absl::GetFlag(FLAGS_sasl_mechanism);
  cluster_from.flags.sasl_username = absl::GetFlag(FLAGS_sasl_username);
  absl::StatusOr<kafka::ClusterSettings> cluster = kafka::ResolveCluster(cluster_from, &report);
  if (!cluster.ok()) {
    PV_LOG(ERROR) << cluster.status().message();
    return 2;
  }
  const std::string& brokers = cluster->brokers;
  const std::string topic =
      flag_or_env("topic", absl::GetFlag(FLAGS_topic), {"KAFKA_TOPIC"}, "product_views");
  const std::string group =
      flag_or_env("group", absl::GetFlag(FLAGS_group), {"KAFKA_GROUP_ID"}, "pv-consume");
  const std::string dir =
      flag_or_env("segments", absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  const int segment_mb = absl::GetFlag(FLAGS_segment_mb);
  const int segment_seconds = absl::GetFlag(FLAGS_segment_seconds);
  const std::string offset_reset = absl::GetFlag(FLAGS_offset_reset);
  const std::string mongo_env = FlagOrEnv("", {"PV_MONGO_SINK"}, "");
  const bool use_mongo = absl::GetFlag(FLAGS_mongo) || mongo_env == "1" || mongo_env == "true";

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

  absl::StatusOr<kafka::KafkaConfig> config = kafka::BuildKafkaConfig(*cluster, properties);
  if (!config.ok()) {
    PV_LOG(ERROR) << config.status().message() << " (see --help)";
    return 2;
  }
  for (const std::string& p : properties) {
    const size_t eq = p.find('=');
    report.Add(absl::StrCat("-X ", p.substr(0, eq)), p.substr(eq + 1), "flag");
  }
  report.Add("segment_mb", absl::StrCat(segment_mb), "");
  report.Add("segment_seconds", absl::StrCat(segment_seconds), "");
  report.Add("codec", c, "");
  report.Add("max_messages", absl::StrCat(absl::GetFlag(FLAGS_max_messages)), "");
  report.Add("exit_at_end", absl::GetFlag(FLAGS_exit_at_end) ? "true" : "false", "");
  const std::string host = FlagOrEnv(absl::GetFlag(FLAGS_host), {"PV_SEGMENT_HOST"}, "", &src);
  report.Add("host", host.empty() ? "(this machine's)" : host, src);

  std::unique_ptr<MongoRawStore> mongo_sink;
  mongo::MongoTarget mongo_target;
  if (use_mongo) {
    mongo_target = mongo::ResolveMongoTarget(absl::GetFlag(FLAGS_mongo_uri),
                                             absl::GetFlag(FLAGS_mongo_db),
                                             absl::GetFlag(FLAGS_mongo_collection), &report);
  }
  const std::string metrics_address =
      FlagOrEnv(absl::GetFlag(FLAGS_metrics_address), {"PV_METRICS_ADDRESS"}, "", &src);
  if (!metrics_address.empty()) report.Add("metrics_address", metrics_address, src);
  PV_LOG(INFO) << "configuration:\n" << report.ToString();

  // The operations endpoint, before anything connects: a port in use fails at once.
  auto registry = std::make_shared<prometheus::Registry>();
  StageHealth health(absl::GetFlag(FLAGS_stall_timeout));
  ConsumeMetrics metrics(*registry, &health);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(metrics_address, "consume", registry, &health);
    if (!started.ok()) {
      PV_LOG(ERROR) << "--metrics-address: " << started.status().message();
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    metrics_server = std::move(*started);
    PV_LOG(INFO) << "metrics on http://" << metrics_server->address()
                 << "/metrics, health on /healthz";
  }

  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    PV_LOG(ERROR) << ErrnoStatus(errno, "create directory", dir);
    return 1;
  }
  if (use_mongo) {
    absl::StatusOr<std::unique_ptr<mongo::MongoClient>> client =
        mongo::MongoClient::Connect(mongo_target.uri);
    if (!client.ok()) {
      PV_LOG(ERROR) << client.status();
      return 1;
    }
    mongo_sink = std::make_unique<MongoRawStore>(std::move(*client), mongo_target.db,
                                                 mongo_target.collection,
                                                 absl::GetFlag(FLAGS_mongo_batch));
  }

  // The sink outlives the consumer: Close() and the destructor call it.
  KafkaSegmentSinkOptions sink_options;
  sink_options.dir = dir;
  sink_options.topic = topic;
  sink_options.codec = codec;
  sink_options.roll_bytes = static_cast<uint64_t>(segment_mb) << 20;
  sink_options.roll_age = absl::Seconds(segment_seconds);
  sink_options.host = host;
  KafkaSegmentSink sink(sink_options, mongo_sink.get());
  if (absl::Status s = sink.Init(); !s.ok()) {
    PV_LOG(ERROR) << s;
    return 1;
  }
  PV_LOG(INFO) << sink.published_at_start() << " published segments in " << dir << "; removed "
               << sink.temp_files_removed_at_start()
               << " temporary files of dead writers under this host name";
  kafka::ConsumerOptions options;
  options.group_id = group;
  options.auto_offset_reset = offset_reset;
  // Only committed records: the mirror's aborted transactions never reach a
  // segment (their offsets, and the markers', are skipped).
  options.isolation_level = "read_committed";
  options.rebalance_listener = &sink;
  if (metrics_server != nullptr) {
    options.on_statistics = [&metrics](absl::string_view json) { metrics.OnStatistics(json); };
  }
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(*config, options);
  if (!consumer.ok()) {
    PV_LOG(ERROR) << consumer.status();
    return 1;
  }
  sink.set_consumer(consumer->get());
  // Not before the topic exists: a group member that joins while it does
  // not gets an empty assignment, which a restarted static member
  // (group.instance.id) is handed again without a rebalance until the group
  // leader's next metadata refresh (5 minutes).
  if (absl::Status s = AwaitTopic(*config, topic, brokers); !s.ok()) {
    PV_LOG(ERROR) << s;
    return 1;
  }
  if (ShutdownRequested()) return 0;
  absl::Status status = (*consumer)->Subscribe({topic});

  Progress progress("consume", "messages");
  const int64_t max_messages = absl::GetFlag(FLAGS_max_messages);
  const bool exit_at_end = absl::GetFlag(FLAGS_exit_at_end);
  absl::Time next_lag_report = absl::Now() + absl::Seconds(10);
  absl::Time next_metrics = absl::InfinitePast();
  absl::Time next_idle_commit = absl::InfinitePast();
  auto update_metrics = [&] {
    if (metrics_server == nullptr) return;
    const ConsumeTotals& t = sink.totals();
    ConsumeFigures f;
    f.messages = t.messages;
    f.bytes = t.bytes;
    f.segments = t.segments;
    f.segment_bytes = t.segment_bytes;
    f.last_segment = t.last_published;
    if (mongo_sink != nullptr) {
      f.mongo_inserted = mongo_sink->inserted();
      f.mongo_duplicates = mongo_sink->duplicates();
      f.mongo_errors = mongo_sink->errors();
    }
    f.kafka_errors = (*consumer)->errors();
    sink.LagText(&f.backlog);
    metrics.Update(f);
  };
  bool reached_end = false;
  while (status.ok() && !ShutdownRequested()) {
    if (max_messages > 0 && sink.totals().messages >= static_cast<uint64_t>(max_messages)) break;
    absl::StatusOr<kafka::Message> m = (*consumer)->Poll(absl::Milliseconds(200));
    if (!m.ok()) {
      status = Annotate(m.status(), absl::StrCat("brokers ", brokers, " topic ", topic));
      break;
    }
    if (!m->empty()) {
      status = sink.Append(m->record());
      if (status.ok()) progress.Add(1, m->value().size());
    } else if (absl::Now() >= next_idle_commit) {
      // Idle: positions past trailing transaction markers, for lag tools.
      sink.CommitIdlePositions();
      next_idle_commit = absl::Now() + absl::Seconds(1);
    }
    if (m->empty() && exit_at_end) {
      absl::StatusOr<bool> at_end = sink.AtEnd();
      if (!at_end.ok()) {
        PV_LOG(WARNING) << "checking for the end of the topic: " << at_end.status();
      } else if (*at_end) {
        reached_end = true;
        break;
      }
    }
    if (status.ok()) status = sink.PublishIfDue();
    if (absl::Now() >= next_metrics) {
      update_metrics();
      next_metrics = absl::Now() + absl::Milliseconds(500);
    }
    if (absl::Now() >= next_lag_report) {
      int64_t lag = 0;
      const std::string text = sink.LagText(&lag);
      PV_LOG(INFO) << "lag " << lag << " messages: " << text;
      next_lag_report = absl::Now() + absl::Seconds(10);
    }
  }
  // What was appended while the partitions were ours is published whole,
  // also after an error elsewhere (the records before it are good; an
  // append or publish error has discarded the open segment already).
  absl::Status published = sink.PublishOpen();
  if (!published.ok()) {
    PV_LOG(ERROR) << published;
    if (status.ok()) status = published;
  }
  update_metrics();
  if (!status.ok()) health.SetFailing(status.message());
  int64_t lag = 0;
  const std::string lag_text = sink.LagText(&lag);
  absl::Status closed = (*consumer)->Close();
  if (!closed.ok()) PV_LOG(WARNING) << closed;
  progress.Finish();

  const ConsumeTotals& t = sink.totals();
  const double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  std::fprintf(stdout,
               "\nconsume %s\n  topic      %s (group %s)\n"
               "  messages   %llu (%.1f MB payload)\n"
               "  segments   %llu published (%.1f MB) -> %s\n"
               "  skipped    %llu already-consumed, %llu open segments discarded; %llu "
               "offsets without a record (transaction markers, aborted transactions)\n"
               "  lag        %s\n",
               status.ok() ? (reached_end ? "done (end of topic)" : "done") : "FAILED",
               topic.c_str(), group.c_str(), static_cast<unsigned long long>(t.messages),
               t.bytes / 1e6, static_cast<unsigned long long>(t.segments),
               t.segment_bytes / 1e6, dir.c_str(),
               static_cast<unsigned long long>(t.duplicates_dropped),
               static_cast<unsigned long long>(t.abandoned),
               static_cast<unsigned long long>(t.offsets_skipped), lag_text.c_str());
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
  pv::kafka::PropertyArgs props;
  absl::StatusOr<std::vector<std::string>> rest =
      pv::kafka::ExtractPropertyArgs(std::vector<std::string>(argv, argv + argc), &props);
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
