// mirror: a topic of the source Kafka (remote, SASL) -> the local Kafka.
//
//   export SOURCE_SASL_PASSWORD=... KAFKA_SASL_PASSWORD=...
//   bazel run //cc/ingest:mirror -- --source-brokers=remote:9094
//       --source-sasl-username=reader --destination-brokers=localhost:9092
//       --destination-sasl-username=kafka
//
// Exactly-once across crashes by default (transactions, checkpoints in the
// destination); --delivery=at-least-once for clusters without transactions.
// See cc/ingest/mirror.h.
#include <prometheus/registry.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/metrics_server.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/ingest/mirror.h"
#include "cc/ingest/stage_metrics.h"
#include "cc/kafka/config.h"

ABSL_FLAG(std::string, source_brokers, "",
          "Source bootstrap servers (env SOURCE_BROKERS, PV_KAFKA_SOURCE_BROKERS).");
ABSL_FLAG(std::string, source_topic, "",
          "Source topic (env SOURCE_TOPIC; default product_view).");
ABSL_FLAG(std::string, source_security_protocol, "",
          "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL (env SOURCE_SECURITY_PROTOCOL, "
          "PV_KAFKA_SOURCE_SECURITY_PROTOCOL; default SASL_PLAINTEXT with a user, else "
          "PLAINTEXT).");
ABSL_FLAG(std::string, source_sasl_mechanism, "",
          "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (env SOURCE_SASL_MECHANISM, "
          "PV_KAFKA_SOURCE_SASL_MECHANISM; default PLAIN).");
ABSL_FLAG(std::string, source_sasl_username, "",
          "Source SASL user (env SOURCE_SASL_USERNAME, PV_KAFKA_SOURCE_USER).");
ABSL_FLAG(std::string, source_sasl_password, "",
          "Source SASL password as @/path/to/file only (a literal would show in ps); "
          "otherwise env SOURCE_SASL_PASSWORD or PV_KAFKA_SOURCE_PASSWORD (which may also "
          "be @file).");
ABSL_FLAG(std::string, destination_brokers, "",
          "Local (destination) bootstrap servers (env DESTINATION_BROKERS, KAFKA_BROKERS, "
          "PV_KAFKA_BROKERS).");
ABSL_FLAG(std::string, destination_topic, "",
          "Destination topic (env DESTINATION_TOPIC; default product_views).");
ABSL_FLAG(std::string, destination_security_protocol, "",
          "As --source-security-protocol (env KAFKA_SECURITY_PROTOCOL, "
          "PV_KAFKA_SECURITY_PROTOCOL).");
ABSL_FLAG(std::string, destination_sasl_mechanism, "",
          "As --source-sasl-mechanism (env KAFKA_SASL_MECHANISM, PV_KAFKA_SASL_MECHANISM).");
ABSL_FLAG(std::string, destination_sasl_username, "",
          "Destination SASL user (env KAFKA_SASL_USERNAME, PV_KAFKA_USER).");
ABSL_FLAG(std::string, destination_sasl_password, "",
          "Destination SASL password as @/path/to/file only; otherwise env "
          "KAFKA_SASL_PASSWORD or PV_KAFKA_PASSWORD.");
ABSL_FLAG(std::string, delivery, "",
          "exactly-once (records and source offsets committed in one destination "
          "transaction) or at-least-once (idempotent producer, offsets committed to the "
          "source group; for clusters that do not allow transactions) (env MIRROR_DELIVERY; "
          "default exactly-once).");
ABSL_FLAG(std::string, group, "",
          "Name of this mirror: at-least-once, the consumer group on the source whose "
          "committed offsets are the position; exactly-once, the start of the default "
          "--transactional-id (env SOURCE_GROUP_ID; default pv-mirror).");
ABSL_FLAG(std::string, source_partitions, "",
          "Exactly-once: mirror only these source partitions, comma-separated (e.g. 0,2), "
          "so several processes can share a topic; each list is its own identity. Empty: "
          "all partitions (env SOURCE_PARTITIONS).");
ABSL_FLAG(std::string, transactional_id, "",
          "Exactly-once: the identity of this mirror, stable across restarts; a second "
          "process with the same one fences the first (env MIRROR_TRANSACTIONAL_ID; "
          "default <group>.<source topic>[.p<partitions>]).");
ABSL_FLAG(bool, resume_from_group, false,
          "Exactly-once: source partitions without a checkpoint start where --group "
          "committed on the source (the at-least-once mode's position) rather than at the "
          "beginning; for the first run after switching from --delivery=at-least-once.");
ABSL_FLAG(std::string, checkpoint_topic, "pv_mirror_checkpoints",
          "Exactly-once: compacted topic of the destination cluster holding the next "
          "source offset per partition, written in each transaction (created when "
          "missing).");
ABSL_FLAG(absl::Duration, transaction_interval, absl::Milliseconds(250),
          "Exactly-once: commit a transaction this long after its first record; what a "
          "read_committed reader (consume) waits at most, and what a crash re-reads.");
ABSL_FLAG(uint64_t, transaction_messages, 100000,
          "Exactly-once: commit a transaction at the latest after this many records.");
ABSL_FLAG(absl::Duration, transaction_timeout, absl::Seconds(60),
          "Exactly-once: transaction.timeout.ms; the brokers abort (and fence) a "
          "transaction open longer, and hold read_committed readers back at most this long "
          "after a crash nobody restarts from.");
ABSL_FLAG(int, partitions, 3, "Partitions of the destination topic when it is created.");
ABSL_FLAG(int, replication_factor, 3, "Replication factor of a created destination topic.");
ABSL_FLAG(int, min_insync_replicas, 2,
          "min.insync.replicas of a created destination topic (capped at the RF).");
ABSL_FLAG(std::string, max_messages, "",
          "Stop after this many messages; 0 = run until stopped (env MAX_MESSAGES; "
          "default 0, where the seed defaulted to 100000).");
ABSL_FLAG(bool, exit_at_end, false,
          "Stop once every assigned source partition has been read to its end.");
ABSL_FLAG(absl::Duration, commit_interval, absl::Seconds(5),
          "At-least-once: how often acknowledged source offsets are committed (and at the "
          "end).");
ABSL_FLAG(absl::Duration, message_timeout, absl::Minutes(5),
          "How long a message may wait for the destination's acknowledgement before the "
          "run fails.");
ABSL_FLAG(std::string, metrics_address, "",
          "Serve Prometheus metrics on http://HOST:PORT/metrics and health on /healthz, e.g. "
          "127.0.0.1:9465 (0.0.0.0:9464 in a container; port 0: any free one) (env "
          "PV_METRICS_ADDRESS; default: off).");
ABSL_FLAG(absl::Duration, stall_timeout, absl::Minutes(2),
          "With --metrics-address: /healthz answers 503 (and pv_mirror_healthy is 0) when "
          "nothing was mirrored for this long while source messages are waiting, and while "
          "the last transaction (or offset commit) failed.");
// Listed for --help only: ExtractPropertyArgs takes these out of argv before
// absl sees them (absl would split values on commas and keep the last one).
ABSL_FLAG(std::vector<std::string>, source_property, {},
          "librdkafka property for the source client, key=value; repeatable; also "
          "-X key=value as in kcat (e.g. -X ssl.ca.location=/etc/ssl/ca.pem).");
ABSL_FLAG(std::vector<std::string>, destination_property, {},
          "librdkafka property for the destination client, key=value; repeatable; also "
          "-Y key=value.");

namespace pv::ingest {
namespace {

constexpr char kUsage[] =
    "copy a topic of a source Kafka cluster into the local cluster.\n"
    "\n"
    "  mirror --source-brokers=HOST:PORT --destination-brokers=HOST:PORT [flags]\n"
    "         [-X source.property=value ...] [-Y destination.property=value ...]\n"
    "\n"
    "Keys, values, headers and timestamps (CreateTime) are copied untouched into the\n"
    "partition with the source's number, order per partition kept.\n"
    "\n"
    "Exactly-once (the default): each transaction commits the records and, with them,\n"
    "the next source offset per partition (checkpoint topic, destination cluster). A\n"
    "restart fences the previous process with the same --transactional-id, resumes at\n"
    "the checkpoints within seconds, and a read_committed reader sees every source\n"
    "record exactly once, whatever moment the crash came. --delivery=at-least-once:\n"
    "source offsets committed to the source group for acknowledged messages; a crash\n"
    "re-sends what was acknowledged after the last commit.\n"
    "Passwords come from the environment or @/path/to/file, never from argv.\n"
    "--metrics-address=HOST:PORT serves /metrics (Prometheus) and /healthz (200 ok,\n"
    "503 stuck or failing).\n"
    "\n"
    "Exit codes: 0 done (--max-messages or --exit-at-end reached); 1 failed;\n"
    "2 bad usage; 3 credentials rejected; 4 fenced: another mirror with the same\n"
    "identity took over (nothing duplicated); 130 stopped by SIGINT/SIGTERM (after\n"
    "committing what was open).";

int Run(const kafka::PropertyArgs& props) {
  ConfigReport report;
  std::string src;
  MirrorOptions options;

  auto fail_usage = [](const absl::Status& s) {
    PV_LOG(ERROR) << s.message() << " (see --help)";
    return 2;
  };

  kafka::ClusterSource source_from = kafka::SourceCluster("source", "source_");
  source_from.flags = {absl::GetFlag(FLAGS_source_brokers),
                       absl::GetFlag(FLAGS_source_security_protocol),
                       absl::GetFlag(FLAGS_source_sasl_mechanism),
                       absl::GetFlag(FLAGS_source_sasl_username),
                       absl::GetFlag(FLAGS_source_sasl_password)};
  absl::StatusOr<kafka::ClusterSettings> source = kafka::ResolveCluster(source_from, &report);
  if (!source.ok()) return fail_usage(source.status());
  options.source_topic =
      FlagOrEnv(absl::GetFlag(FLAGS_source_topic), {"SOURCE_TOPIC"}, "product_view", &src);
  report.Add("source_topic", options.source_topic, src);

  kafka::ClusterSource destination_from = kafka::LocalCluster("destination", "destination_");
  destination_from.brokers_env.insert(destination_from.brokers_env.begin(),
                                      "DESTINATION_BROKERS");
  destination_from.flags = {absl::GetFlag(FLAGS_destination_brokers),
                            absl::GetFlag(FLAGS_destination_security_protocol),
                            absl::GetFlag(FLAGS_destination_sasl_mechanism),
                            absl::GetFlag(FLAGS_destination_sasl_username),
                            absl::GetFlag(FLAGS_destination_sasl_password)};
  absl::StatusOr<kafka::ClusterSettings> destination =
      kafka::ResolveCluster(destination_from, &report);
  if (!destination.ok()) return fail_usage(destination.status());
  options.destination_topic = FlagOrEnv(absl::GetFlag(FLAGS_destination_topic),
                                        {"DESTINATION_TOPIC"}, "product_views", &src);
  report.Add("destination_topic", options.destination_topic, src);

  options.group_id =
      FlagOrEnv(absl::GetFlag(FLAGS_group), {"SOURCE_GROUP_ID"}, "pv-mirror", &src);
  report.Add("group", options.group_id, src);
  const std::string delivery =
      FlagOrEnv(absl::GetFlag(FLAGS_delivery), {"MIRROR_DELIVERY"}, "exactly-once", &src);
  if (delivery == "exactly-once") {
    options.delivery = Delivery::kExactlyOnce;
  } else if (delivery == "at-least-once") {
    options.delivery = Delivery::kAtLeastOnce;
  } else {
    return fail_usage(absl::InvalidArgumentError(absl::StrCat(
        "delivery: '", delivery, "' is neither exactly-once nor at-least-once")));
  }
  report.Add("delivery", delivery, src);
  const std::string partition_list =
      FlagOrEnv(absl::GetFlag(FLAGS_source_partitions), {"SOURCE_PARTITIONS"}, "", &src);
  for (absl::string_view piece : absl::StrSplit(partition_list, ',', absl::SkipWhitespace())) {
    int32_t p = -1;
    if (!absl::SimpleAtoi(piece, &p) || p < 0) {
      return fail_usage(absl::InvalidArgumentError(absl::StrCat(
          "source partitions: '", piece, "' is not a partition number")));
    }
    options.source_partitions.push_back(p);
  }
  if (!partition_list.empty()) report.Add("source_partitions", partition_list, src);
  if (!options.source_partitions.empty() && options.delivery == Delivery::kAtLeastOnce) {
    return fail_usage(absl::InvalidArgumentError(
        "--source-partitions is for --delivery=exactly-once; at-least-once mirrors share a "
        "topic through their consumer group (--group)"));
  }
  if (options.delivery == Delivery::kExactlyOnce) {
    options.transactional_id =
        FlagOrEnv(absl::GetFlag(FLAGS_transactional_id), {"MIRROR_TRANSACTIONAL_ID"},
                  DefaultTransactionalId(options), &src);
    report.Add("transactional_id", options.transactional_id, src);
    options.checkpoint_topic = absl::GetFlag(FLAGS_checkpoint_topic);
    options.resume_from_group = absl::GetFlag(FLAGS_resume_from_group);
    if (options.resume_from_group) report.Add("resume_from_group", "true", "flag");
    options.transaction_interval = absl::GetFlag(FLAGS_transaction_interval);
    options.transaction_messages = absl::GetFlag(FLAGS_transaction_messages);
    options.transaction_timeout = absl::GetFlag(FLAGS_transaction_timeout);
    if (options.transaction_interval <= absl::ZeroDuration() ||
        options.transaction_messages == 0 ||
        options.transaction_timeout < absl::Seconds(1) ||
        options.transaction_interval * 2 > options.transaction_timeout) {
      return fail_usage(absl::InvalidArgumentError(
          "--transaction-interval and --transaction-messages must be > 0, "
          "--transaction-timeout >= 1s and at least twice --transaction-interval"));
    }
    report.Add("checkpoint_topic", options.checkpoint_topic);
    report.Add("transaction_interval", absl::FormatDuration(options.transaction_interval));
    report.Add("transaction_messages", absl::StrCat(options.transaction_messages));
    report.Add("transaction_timeout", absl::FormatDuration(options.transaction_timeout));
  }
  const std::string max_text =
      FlagOrEnv(absl::GetFlag(FLAGS_max_messages), {"MAX_MESSAGES"}, "0", &src);
  if (!absl::SimpleAtoi(max_text, &options.max_messages)) {
    return fail_usage(absl::InvalidArgumentError(
        absl::StrCat("max messages: '", max_text, "' is not a non-negative number")));
  }
  report.Add("max_messages", max_text, src);
  options.partitions = absl::GetFlag(FLAGS_partitions);
  options.replication_factor = absl::GetFlag(FLAGS_replication_factor);
  options.min_insync_replicas = absl::GetFlag(FLAGS_min_insync_replicas);
  if (options.partitions < 1 || options.replication_factor < 1) {
    return fail_usage(
        absl::InvalidArgumentError("--partitions and --replication-factor must be >= 1"));
  }
  report.Add("partitions", absl::StrCat(options.partitions));
  report.Add("replication_factor", absl::StrCat(options.replication_factor));
  options.exit_at_end = absl::GetFlag(FLAGS_exit_at_end);
  report.Add("exit_at_end", options.exit_at_end ? "true" : "false");
  options.commit_interval = absl::GetFlag(FLAGS_commit_interval);
  options.message_timeout = absl::GetFlag(FLAGS_message_timeout);
  if ((options.delivery == Delivery::kAtLeastOnce &&
       options.commit_interval <= absl::ZeroDuration()) ||
      options.message_timeout <= absl::ZeroDuration()) {
    return fail_usage(
        absl::InvalidArgumentError("--commit-interval and --message-timeout must be > 0"));
  }
  if (options.delivery == Delivery::kAtLeastOnce) {
    report.Add("commit_interval", absl::FormatDuration(options.commit_interval));
  }
  for (const auto* list : {&props.source, &props.destination}) {
    for (const std::string& p : *list) {
      const size_t eq = p.find('=');
      report.Add(absl::StrCat(list == &props.source ? "-X " : "-Y ", p.substr(0, eq)),
                 eq == std::string::npos ? "" : p.substr(eq + 1), "flag");
    }
  }

  absl::StatusOr<kafka::KafkaConfig> source_config =
      kafka::BuildKafkaConfig(*source, props.source);
  if (!source_config.ok()) return fail_usage(source_config.status());
  absl::StatusOr<kafka::KafkaConfig> destination_config =
      kafka::BuildKafkaConfig(*destination, props.destination);
  if (!destination_config.ok()) return fail_usage(destination_config.status());
  options.source = *source_config;
  options.destination = *destination_config;
  const std::string metrics_address =
      FlagOrEnv(absl::GetFlag(FLAGS_metrics_address), {"PV_METRICS_ADDRESS"}, "", &src);
  if (!metrics_address.empty()) report.Add("metrics_address", metrics_address, src);
  PV_LOG(INFO) << "configuration:\n" << report.ToString();

  // The operations endpoint, before anything connects: a port in use fails at once.
  auto registry = std::make_shared<prometheus::Registry>();
  StageHealth health(absl::GetFlag(FLAGS_stall_timeout));
  MirrorMetrics metrics(*registry, &health);
  std::unique_ptr<MetricsServer> metrics_server;
  if (!metrics_address.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(metrics_address, "mirror", registry, &health);
    if (!started.ok()) {
      PV_LOG(ERROR) << "--metrics-address: " << started.status().message();
      return absl::IsInvalidArgument(started.status()) ? 2 : 1;
    }
    metrics_server = std::move(*started);
    options.metrics = &metrics;
    PV_LOG(INFO) << "metrics on http://" << metrics_server->address()
                 << "/metrics, health on /healthz";
  }

  MirrorSummary summary;
  const absl::Status status = RunMirror(options, &summary);
  const double seconds = std::max(absl::ToDoubleSeconds(summary.elapsed), 1e-9);
  const double copying =
      std::max(absl::ToDoubleSeconds(summary.elapsed - summary.startup), 1e-9);
  std::vector<std::string> committed;
  for (const auto& [p, o] : summary.committed) committed.push_back(absl::StrCat("p", p, "=", o));
  const bool exactly_once = options.delivery == Delivery::kExactlyOnce;
  std::string position;
  if (exactly_once) {
    std::vector<std::string> resumed;
    for (const auto& [p, o] : summary.resumed_from) resumed.push_back(absl::StrCat("p", p, "=", o));
    position = absl::StrCat(
        "  resumed at   ", resumed.empty() ? "-" : absl::StrJoin(resumed, " "), "\n",
        "  checkpoint   ", committed.empty() ? "-" : absl::StrJoin(committed, " "), " (",
        options.checkpoint_topic, ")\n", "  transactions ", summary.transactions_committed,
        " committed, ", summary.transactions_aborted, " aborted and read again; commits took ",
        absl::StrFormat("%.0f ms on average, %.0f ms at most",
                        summary.transactions_committed + summary.transactions_aborted > 0
                            ? absl::ToDoubleMilliseconds(summary.commit_time) /
                                  (summary.transactions_committed + summary.transactions_aborted)
                            : 0.0,
                        absl::ToDoubleMilliseconds(summary.longest_commit)),
        "\n");
  } else {
    position = absl::StrCat("  committed    ",
                            committed.empty() ? "nothing new" : absl::StrJoin(committed, " "),
                            " (group ", options.group_id, ")\n");
  }
  std::fprintf(
      stdout,
      "\nmirror %s (%s)\n"
      "  guarantee    %s%s\n"
      "  source       %s @ %s, %d partitions\n"
      "  destination  %s @ %s, %d partitions%s\n"
      "  messages     %llu (%.1f MB key+value)%s; acknowledged %lld, failed %lld\n"
      "%s"
      "  lag          %s\n"
      "  time         %.2f s: start-up %.2f s, then %.0f msgs/s, %.1f MB/s\n",
      status.ok() ? "done" : "FAILED", StopReasonName(summary.reason),
      DeliveryName(options.delivery),
      exactly_once ? absl::StrCat(" (transactional.id ", options.transactional_id, ")").c_str()
                   : "",
      options.source_topic.c_str(), source->brokers.c_str(), summary.source_partitions,
      options.destination_topic.c_str(), destination->brokers.c_str(),
      summary.destination_partitions, summary.created_destination_topic ? " (created)" : "",
      static_cast<unsigned long long>(summary.messages), summary.bytes / 1e6,
      exactly_once ? " committed" : "", static_cast<long long>(summary.acknowledged),
      static_cast<long long>(summary.failed), position.c_str(),
      summary.lag < 0 ? "unknown" : absl::StrCat(summary.lag).c_str(), seconds,
      absl::ToDoubleSeconds(summary.startup), summary.messages / copying,
      summary.bytes / 1e6 / copying);
  std::fflush(stdout);
  if (!status.ok()) {
    // Status messages come from our code and librdkafka, neither of which
    // carries the password; redact anyway in case a property echoed one.
    PV_LOG(ERROR) << RedactSecrets(status.ToString());
    if (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status)) return 3;
    if (absl::IsCancelled(status)) return 130;
    if (kafka::IsFenced(status)) return 4;
    return 1;
  }
  return summary.reason == StopReason::kSignal ? 130 : 0;
}

}  // namespace
}  // namespace pv::ingest

int main(int argc, char** argv) {
  pv::SetLogTag("mirror");
  pv::kafka::PropertyArgs props;
  absl::StatusOr<std::vector<std::string>> rest =
      pv::kafka::ExtractPropertyArgs(std::vector<std::string>(argv, argv + argc), &props);
  if (!rest.ok()) {
    std::fprintf(stderr, "mirror: %s\n", std::string(rest.status().message()).c_str());
    return 2;
  }
  std::vector<char*> args;
  for (std::string& a : *rest) args.push_back(a.data());
  const std::vector<std::string> positional = pv::ParseCommandLine(
      static_cast<int>(args.size()), args.data(), pv::ingest::kUsage);
  if (!positional.empty()) {
    PV_LOG(ERROR) << "unexpected argument '" << positional[0] << "' (see --help)";
    return 2;
  }
  pv::InstallShutdownHandlers();
  return pv::ingest::Run(props);
}
