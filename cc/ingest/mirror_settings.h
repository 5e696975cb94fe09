// Kafka connection settings as an operator gives them on the command line:
// brokers, security protocol, SASL mechanism/user/password, and kcat-style
// `-X key=value` passthrough properties. Shared by the mirror (two clusters)
// and the Kafka utilities (//tools:kafka_count).
//
//   pv::ingest::PropertyArgs props;
//   std::vector<std::string> rest = pv::ingest::ExtractPropertyArgs(args, &props);
//   ...  // parse `rest` with absl flags, resolve flags/env into ClusterSettings
//   PV_ASSIGN_OR_RETURN(pv::kafka::KafkaConfig config,
//                       pv::ingest::BuildKafkaConfig(settings, props.source));
//
// Thread-compatible free functions; nothing here reads the environment.
#ifndef PV_INGEST_MIRROR_SETTINGS_H_
#define PV_INGEST_MIRROR_SETTINGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/kafka/kafka.h"

namespace pv::ingest {

// One cluster's connection, already resolved from flags and environment
// (the password already read from its file when given as @file).
struct ClusterSettings {
  std::string role;               // "source" or "destination": labels errors
  std::string brokers;            // required
  std::string security_protocol;  // empty: SASL_PLAINTEXT with a user, else PLAINTEXT
  std::string sasl_mechanism;     // empty: PLAIN
  std::string sasl_username;      // empty: no SASL
  std::string sasl_password;      // secret: never logged or echoed
};

// Validates `settings` and builds the librdkafka configuration; then applies
// `properties` ("key=value", as given to -X), which win over everything
// else (an operator may set ssl.ca.location, sasl.oauthbearer..., even
// override the protocol). Errors name the role and the setting, never a
// secret's value:
//   - brokers missing;
//   - security protocol not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL;
//   - mechanism not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512;
//   - a user without a password or the reverse; a SASL protocol without a
//     user; a user with a non-SASL protocol;
//   - a property without '='.
// Protocol and mechanism are accepted in any case and normalized to upper.
absl::StatusOr<kafka::KafkaConfig> BuildKafkaConfig(
    const ClusterSettings& settings, const std::vector<std::string>& properties);

// kcat-style properties taken out of a command line.
struct PropertyArgs {
  std::vector<std::string> source;       // -X k=v, -Xk=v, --source-property=k=v
  std::vector<std::string> destination;  // -Y k=v, -Yk=v, --destination-property=k=v
};

// Removes the property arguments from `args` (argv, program name first) and
// returns the rest, for absl flag parsing: absl's repeated vector flags
// split on commas and keep only the last occurrence, which breaks values
// such as broker lists or cipher suites. Accepts `-X k=v`, `-Xk=v`,
// `-X=k=v`, `--source-property=k=v`, `--source-property k=v` (and the
// underscore spelling); likewise -Y / --destination-property. Stops at
// "--". Fails on a trailing -X without its value.
absl::StatusOr<std::vector<std::string>> ExtractPropertyArgs(
    const std::vector<std::string>& args, PropertyArgs* out);

}  // namespace pv::ingest

#endif  // PV_INGEST_MIRROR_SETTINGS_H_
