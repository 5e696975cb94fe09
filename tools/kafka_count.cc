// kafka_count: messages per partition and in total of a topic, from the
// partitions' watermark offsets (the seed's count_kafka_total.py read every
// message to count them; this asks the brokers for two numbers per
// partition, so it takes the same time for a billion messages as for ten).
//
//   bazel run //tools:kafka_count -- --topic=product_views
//
// high - low counts what the brokers still store; on a compacted topic or
// one written with transactions it is an upper bound (removed records and
// commit markers still occupy offsets).
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/kafka/config.h"
#include "cc/kafka/kafka.h"

ABSL_FLAG(std::string, brokers, "",
          "Bootstrap servers (env KAFKA_BROKERS, PV_KAFKA_BROKERS; default localhost:9092).");
ABSL_FLAG(std::string, topic, "", "Topic (env KAFKA_TOPIC; default product_views).");
ABSL_FLAG(std::string, security_protocol, "",
          "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (env KAFKA_SECURITY_PROTOCOL, "
          "PV_KAFKA_SECURITY_PROTOCOL; default SASL_PLAINTEXT with a user, else PLAINTEXT).");
ABSL_FLAG(std::string, sasl_mechanism, "",
          "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env KAFKA_SASL_MECHANISM, "
          "PV_KAFKA_SASL_MECHANISM; default PLAIN).");
ABSL_FLAG(std::string, sasl_username, "",
          "SASL user (env KAFKA_SASL_USERNAME, PV_KAFKA_USER). The password comes from env "
          "KAFKA_SASL_PASSWORD or PV_KAFKA_PASSWORD (a value @/path reads that file).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30), "How long to wait for the brokers.");
// For --help only: ExtractPropertyArgs takes it out of argv first.
ABSL_FLAG(bool, delete_topic, false,
          "Delete the topic after counting it (for scripts that clean up after "
          "themselves, such as the benchmarks).");
ABSL_FLAG(std::vector<std::string>, property, {},
          "librdkafka property key=value, repeatable; also -X key=value as in kcat.");

namespace {

constexpr char kUsage[] =
    "messages per partition and in total of a topic, from watermarks.\n"
    "\n"
    "  kafka_count [--topic=product_views] [--brokers=HOST:PORT,...] [-X key=value ...]\n"
    "\n"
    "Prints one line per partition (low, high, messages = high - low) and the\n"
    "total (an upper bound of the records on a transactional topic: commit\n"
    "markers and aborted records take offsets too); --delete-topic then deletes\n"
    "it. Exit codes: 0 ok; 1 failed (e.g. topic not found); 2 bad usage;\n"
    "3 credentials rejected.";

int Run(const std::vector<std::string>& properties) {
  pv::ConfigReport report;
  std::string src;
  pv::kafka::ClusterSource from = pv::kafka::LocalCluster("local");
  from.default_brokers = "localhost:9092";
  from.flags.brokers = absl::GetFlag(FLAGS_brokers);
  from.flags.security_protocol = absl::GetFlag(FLAGS_security_protocol);
  from.flags.sasl_mechanism = absl::GetFlag(FLAGS_sasl_mechanism);
  from.flags.sasl_username = absl::GetFlag(FLAGS_sasl_username);
  absl::StatusOr<pv::kafka::ClusterSettings> resolved = pv::kafka::ResolveCluster(from, &report);
  if (!resolved.ok()) {
    PV_LOG(ERROR) << resolved.status().message();
    return 2;
  }
  const pv::kafka::ClusterSettings& cluster = *resolved;
  const std::string topic =
      pv::FlagOrEnv(absl::GetFlag(FLAGS_topic), {"KAFKA_TOPIC"}, "product_views", &src);
  report.Add("topic", topic, src);
  absl::StatusOr<pv::kafka::KafkaConfig> config =
      pv::kafka::BuildKafkaConfig(cluster, properties);
  if (!config.ok()) {
    PV_LOG(ERROR) << config.status().message() << " (see --help)";
    return 2;
  }
  PV_LOG(DEBUG) << "configuration:\n" << report.ToString();

  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  absl::StatusOr<std::unique_ptr<pv::kafka::Admin>> admin = pv::kafka::Admin::Create(*config);
  absl::StatusOr<std::vector<pv::kafka::PartitionWatermarks>> marks =
      admin.ok() ? (*admin)->Watermarks(topic, timeout) : admin.status();
  if (!marks.ok()) {
    PV_LOG(ERROR) << "topic " << topic << " (brokers " << cluster.brokers
                  << "): " << pv::RedactSecrets(std::string(marks.status().message()));
    return absl::IsUnauthenticated(marks.status()) || absl::IsPermissionDenied(marks.status())
               ? 3
               : 1;
  }
  std::printf("topic %s (brokers %s)\n", topic.c_str(), cluster.brokers.c_str());
  std::printf("%9s %14s %14s %14s\n", "partition", "low", "high", "messages");
  int64_t total = 0;
  for (const pv::kafka::PartitionWatermarks& w : *marks) {
    const int64_t n = w.high - w.low;
    total += n;
    std::printf("%9d %14lld %14lld %14lld\n", w.partition, static_cast<long long>(w.low),
                static_cast<long long>(w.high), static_cast<long long>(n));
  }
  std::printf("total %lld messages in %zu partitions\n", static_cast<long long>(total),
              marks->size());
  if (absl::GetFlag(FLAGS_delete_topic)) {
    const absl::Status deleted = (*admin)->DeleteTopic(topic, timeout);
    if (!deleted.ok()) {
      PV_LOG(ERROR) << "deleting topic " << topic << ": " << deleted.message();
      return 1;
    }
    std::printf("deleted topic %s\n", topic.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pv::SetLogTag("kafka_count");
  pv::kafka::PropertyArgs props;
  absl::StatusOr<std::vector<std::string>> rest =
      pv::kafka::ExtractPropertyArgs(std::vector<std::string>(argv, argv + argc), &props);
  if (!rest.ok()) {
    std::fprintf(stderr, "kafka_count: %s\n", std::string(rest.status().message()).c_str());
    return 2;
  }
  if (!props.destination.empty()) {
    std::fprintf(stderr, "kafka_count: -Y is the mirror's; use -X key=value here\n");
    return 2;
  }
  // --property is this tool's long spelling of -X (it talks to one cluster).
  std::vector<std::string> args;
  std::vector<std::string> properties = props.source;
  for (size_t i = 0; i < rest->size(); ++i) {
    const std::string& a = (*rest)[i];
    const std::string kLong = "--property";
    if (a.rfind(kLong + "=", 0) == 0) {
      properties.push_back(a.substr(kLong.size() + 1));
    } else if (a == kLong && i + 1 < rest->size()) {
      properties.push_back((*rest)[++i]);
    } else {
      args.push_back(a);
    }
  }
  std::vector<char*> ptrs;
  for (std::string& a : args) ptrs.push_back(a.data());
  const std::vector<std::string> positional =
      pv::ParseCommandLine(static_cast<int>(ptrs.size()), ptrs.data(), kUsage);
  if (!positional.empty()) {
    PV_LOG(ERROR) << "unexpected argument '" << positional[0] << "' (see --help)";
    return 2;
  }
  return Run(properties);
}
