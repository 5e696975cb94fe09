// datagen: writes deterministic Glamira-like clickstream events as NDJSON.
//
//   bazel run //tools/datagen -- --events=1000000 --seed=7
//       --start_date=2020-06-01 --days=3 --output=/tmp/events.ndjson
//
// Output goes to stdout unless --output names a file (a regular file is
// written to FILE.tmp and renamed when complete; a device such as /dev/null
// is written in place). A summary (records, bytes, seconds, count per
// kind of record) goes to stderr. Exit code 0 on success, 2 on bad flags,
// 1 on I/O errors.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <string>

#include <sys/stat.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/event/event.h"
#include "cc/star/calendar.h"
#include "cc/kafka/kafka.h"
#include "cc/segment/rolling_writer.h"
#include "tools/datagen/generator.h"

ABSL_FLAG(int64_t, events, 100000, "number of records to generate");
ABSL_FLAG(uint64_t, seed, 42, "random seed; the output is a function of all flags");
ABSL_FLAG(std::string, start_date, "2020-06-01", "first local date, YYYY-MM-DD");
ABSL_FLAG(int32_t, days, 1, "number of days local_time spans");
ABSL_FLAG(int32_t, products, 20000, "distinct products (Zipf popularity, s=1.1)");
ABSL_FLAG(int64_t, devices, 0, "distinct devices; 0 = 300,000 per 1,000,000 events");
ABSL_FLAG(int32_t, referrers, 30000, "distinct non-empty referrer URLs");
ABSL_FLAG(int32_t, stores, 40, "storefronts (store_id with a glamira.* domain)");
ABSL_FLAG(double, rate_not_json, 0.001, "share of records that are not JSON");
ABSL_FLAG(double, rate_not_object, 0.001, "share of records that are JSON but not objects");
ABSL_FLAG(double, rate_bad_time, 0.001, "share of records with an invalid local_time");
ABSL_FLAG(double, rate_missing_time, 0.001, "share of records without local_time");
ABSL_FLAG(double, rate_messy, 0.05,
          "share of valid records with messy encodings (numbers for ids, "
          "null/empty/missing fields, escapes, non-ASCII and very long URLs)");
ABSL_FLAG(std::string, output, "", "output file (default: stdout)");
ABSL_FLAG(std::string, segments, "",
          "write the records straight into segment files in this directory "
          "(instead of NDJSON), as import would");
ABSL_FLAG(std::string, kafka_topic, "",
          "produce the records straight into this Kafka topic (instead of "
          "NDJSON), one message each, keyed by sequence number");
ABSL_FLAG(std::string, kafka_env, "PV_KAFKA",
          "with --kafka_topic: the prefix of the environment variables naming "
          "the cluster: <prefix>_BROKERS, <prefix>_USER, <prefix>_PASSWORD "
          "(e.g. PV_KAFKA_SOURCE for the demo's source cluster)");

namespace {

// Records straight into segment files (--segments) or a Kafka topic
// (--kafka_topic), for tests and demos that skip the NDJSON step.
int RunToSink(const pv::datagen::GeneratorOptions& options) {
  const absl::Time start = absl::Now();
  const std::string dir = absl::GetFlag(FLAGS_segments);
  const std::string topic = absl::GetFlag(FLAGS_kafka_topic);
  if (!dir.empty() && !topic.empty()) {
    std::fprintf(stderr, "datagen: --segments and --kafka_topic exclude each other\n");
    return 2;
  }
  if (!dir.empty() && ::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "datagen: cannot create %s: %s\n", dir.c_str(), std::strerror(errno));
    return 1;
  }
  pv::segment::RollingWriterOptions writer_options;
  writer_options.dir = dir;
  writer_options.kind = pv::segment::SourceKind::kFile;
  writer_options.source = "datagen";
  pv::segment::RollingSegmentWriter writer(writer_options);
  std::unique_ptr<pv::kafka::Producer> producer;
  auto fail = [](const absl::Status& status) {
    std::fprintf(stderr, "datagen: %s\n", std::string(status.message()).c_str());
    return 1;
  };
  if (!dir.empty()) {
    if (absl::Status status = writer.Lock("datagen"); !status.ok()) return fail(status);
  }
  if (!topic.empty()) {
    auto config = pv::kafka::KafkaConfig::FromEnv(absl::GetFlag(FLAGS_kafka_env));
    if (!config.ok()) return fail(config.status());
    auto created = pv::kafka::Producer::Create(*config, {});
    if (!created.ok()) return fail(created.status());
    producer = std::move(*created);
  }
  pv::datagen::EventGenerator generator(options);
  int64_t bytes = 0;
  std::string record;
  for (int64_t seq = 1; generator.remaining() > 0; ++seq) {
    record.clear();
    generator.AppendNext(&record);
    bytes += record.size();
    absl::Status status;
    if (producer != nullptr) {
      status = producer->Produce(topic, pv::kafka::kAnyPartition, absl::StrCat(seq), record);
    } else {
      pv::segment::RecordMeta meta;
      meta.offset = seq;
      status = writer.Append(meta, record);
      if (status.ok()) status = writer.PublishIfDue().status();
    }
    if (!status.ok()) return fail(status);
  }
  if (absl::Status status = writer.Publish().status(); !status.ok()) return fail(status);
  if (producer != nullptr) {
    absl::Status status = producer->Flush(absl::Minutes(5));
    if (!status.ok()) return fail(status);
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::fprintf(stderr, "datagen: %lld records, %lld bytes to %s in %.2f s (%.0f records/s)\n",
               static_cast<long long>(options.events), static_cast<long long>(bytes),
               topic.empty() ? absl::StrCat(writer.segments_published(), " segment(s) in ", dir).c_str()
                             : absl::StrCat("Kafka topic ", topic).c_str(),
               seconds, options.events / std::max(seconds, 1e-9));
  return 0;
}

int Run() {
  pv::datagen::GeneratorOptions options;
  options.seed = absl::GetFlag(FLAGS_seed);
  options.events = absl::GetFlag(FLAGS_events);
  options.days = absl::GetFlag(FLAGS_days);
  options.products = absl::GetFlag(FLAGS_products);
  options.devices = absl::GetFlag(FLAGS_devices);
  options.referrers = absl::GetFlag(FLAGS_referrers);
  options.stores = absl::GetFlag(FLAGS_stores);
  options.rate_not_json = absl::GetFlag(FLAGS_rate_not_json);
  options.rate_not_object = absl::GetFlag(FLAGS_rate_not_object);
  options.rate_bad_time = absl::GetFlag(FLAGS_rate_bad_time);
  options.rate_missing_time = absl::GetFlag(FLAGS_rate_missing_time);
  options.rate_messy = absl::GetFlag(FLAGS_rate_messy);
  int64_t start_seconds = 0;
  if (!pv::event::ParseLocalTime(absl::GetFlag(FLAGS_start_date) + " 00:00:00",
                                 &start_seconds)) {
    std::fprintf(stderr, "datagen: --start_date=%s is not a date (YYYY-MM-DD)\n",
                 absl::GetFlag(FLAGS_start_date).c_str());
    return 2;
  }
  options.start_day = pv::star::DayFromUnixSeconds(start_seconds);
  if (absl::Status status = pv::datagen::ValidateOptions(options); !status.ok()) {
    std::fprintf(stderr, "datagen: %s\n", std::string(status.message()).c_str());
    return 2;
  }

  if (!absl::GetFlag(FLAGS_segments).empty() || !absl::GetFlag(FLAGS_kafka_topic).empty()) {
    return RunToSink(options);
  }
  const std::string output = absl::GetFlag(FLAGS_output);
  // A regular file appears only when complete (FILE.tmp, then rename). An
  // existing non-regular path (/dev/null, a FIFO) is written in place: a
  // rename would replace the device node with a file.
  struct stat existing;
  const bool in_place =
      !output.empty() && ::stat(output.c_str(), &existing) == 0 &&
      !S_ISREG(existing.st_mode);
  const std::string temporary =
      output.empty() || in_place ? output : output + ".tmp";
  std::FILE* file =
      output.empty() ? stdout : std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) {
    std::fprintf(stderr, "datagen: cannot open %s: %s\n", temporary.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const std::string destination = output.empty() ? "stdout" : output;

  const absl::Time start = absl::Now();
  pv::datagen::EventGenerator generator(options);
  int64_t counts[static_cast<int>(pv::datagen::RecordKind::kCount)] = {};
  int64_t bytes = 0;
  bool write_failed = false;
  std::string buffer;
  constexpr size_t kFlushBytes = 8 << 20;
  buffer.reserve(kFlushBytes + (64 << 10));
  auto flush = [&]() {
    if (!buffer.empty() &&
        std::fwrite(buffer.data(), 1, buffer.size(), file) != buffer.size()) {
      write_failed = true;
    }
    bytes += buffer.size();
    buffer.clear();
  };
  while (generator.remaining() > 0 && !write_failed) {
    ++counts[static_cast<int>(generator.AppendNext(&buffer))];
    buffer.push_back('\n');
    if (buffer.size() >= kFlushBytes) flush();
  }
  flush();
  if (std::fflush(file) != 0) write_failed = true;
  if (!output.empty()) {
    if (std::fclose(file) != 0) write_failed = true;
    if (!write_failed && temporary != output &&
        std::rename(temporary.c_str(), output.c_str()) != 0) {
      write_failed = true;
    }
  }
  if (write_failed) {
    std::fprintf(stderr, "datagen: writing %s failed: %s\n", destination.c_str(),
                 std::strerror(errno));
    if (!output.empty() && temporary != output) std::remove(temporary.c_str());
    return 1;
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::string summary = absl::StrFormat(
      "datagen: %d records, %d bytes (%.0f bytes/record) to %s in %.2f s "
      "(%.0f records/s, %.1f MB/s)\n",
      options.events, bytes,
      options.events > 0 ? static_cast<double>(bytes) / options.events : 0.0,
      destination, seconds, options.events / std::max(seconds, 1e-9),
      bytes / 1e6 / std::max(seconds, 1e-9));
  absl::StrAppend(&summary, "datagen: by kind:");
  for (int k = 0; k < static_cast<int>(pv::datagen::RecordKind::kCount); ++k) {
    absl::StrAppend(&summary, " ",
                    pv::datagen::RecordKindName(static_cast<pv::datagen::RecordKind>(k)),
                    "=", counts[k]);
  }
  absl::StrAppend(&summary, "\n");
  std::fputs(summary.c_str(), stderr);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Writes deterministic Glamira-like clickstream events as NDJSON (stdout\n"
      "or --output), or straight into segment files (--segments) or a Kafka\n"
      "topic (--kafka_topic).");
  absl::ParseCommandLine(argc, argv);
  return Run();
}
