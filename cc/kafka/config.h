// Kafka client configuration: the one path from what an operator gives
// (flags, the seed's environment names, kcat-style `-X key=value`) to the
// librdkafka properties of a client. Every stage and tool goes through it.
//
//   pv::kafka::PropertyArgs props;
//   PV_ASSIGN_OR_RETURN(std::vector<std::string> rest,
//                       pv::kafka::ExtractPropertyArgs(args, &props));
//   ...  // parse `rest` with absl flags
//   pv::kafka::ClusterSource source = pv::kafka::LocalCluster("local");
//   source.flags.brokers = absl::GetFlag(FLAGS_brokers);  // "" falls back to env
//   PV_ASSIGN_OR_RETURN(pv::kafka::ClusterSettings settings,
//                       pv::kafka::ResolveCluster(source, &report));
//   PV_ASSIGN_OR_RETURN(pv::kafka::KafkaConfig config,
//                       pv::kafka::BuildKafkaConfig(settings, props.source));
//
// Secrets: passwords come from the environment or a file (`@/path`), never
// from argv; a secret property given with -X is refused. What is secret is
// decided by pv::IsSecretKey (cc/common/config.h), the one rule for every
// stage. No librdkafka here: the values are checked when a client is created
// (kafka.h). Thread-compatible.
#ifndef PV_KAFKA_CONFIG_H_
#define PV_KAFKA_CONFIG_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/common/config.h"

namespace pv::kafka {

// librdkafka client properties, kept in insertion order (a later Set of the
// same key replaces the earlier value). Copyable value type.
class KafkaConfig {
 public:
  KafkaConfig() = default;

  // bootstrap.servers, e.g. "127.0.0.1:9092,127.0.0.1:9093".
  KafkaConfig& SetBrokers(absl::string_view brokers);
  // security.protocol: PLAINTEXT, SASL_PLAINTEXT, SASL_SSL, SSL.
  KafkaConfig& SetSecurityProtocol(absl::string_view protocol);
  // sasl.mechanisms / sasl.username / sasl.password; also sets
  // security.protocol to SASL_PLAINTEXT unless one was set before.
  KafkaConfig& SetSasl(absl::string_view mechanism, absl::string_view user,
                       absl::string_view password);
  // Any other librdkafka property (what `-X key=value` means for kcat).
  KafkaConfig& Set(absl::string_view key, absl::string_view value);
  // Sets `key` only if it has no value yet (a stage's default that -X may
  // override).
  KafkaConfig& SetDefault(absl::string_view key, absl::string_view value);
  // Parses "key=value" (as given to a -X flag).
  absl::Status SetFromAssignment(absl::string_view key_equals_value);

  // Reads <prefix>_BROKERS (required), <prefix>_USER and <prefix>_PASSWORD
  // (SASL when both are set; the password literal or @file),
  // <prefix>_SECURITY_PROTOCOL and <prefix>_SASL_MECHANISM (optional), and
  // builds the configuration as BuildKafkaConfig does. FromEnv("PV_KAFKA")
  // reads PV_KAFKA_BROKERS, ...; FromEnv("PV_KAFKA_SOURCE") the source
  // cluster's. FailedPrecondition when the brokers are missing or only one
  // of user and password is set.
  static absl::StatusOr<KafkaConfig> FromEnv(absl::string_view prefix);

  // The value of `key`, or "" when unset.
  std::string Get(absl::string_view key) const;
  std::string brokers() const { return Get("bootstrap.servers"); }

  // "key=value, ..." with every secret value written as ***. Safe to log.
  std::string DebugString() const;

  const std::vector<std::pair<std::string, std::string>>& properties() const {
    return properties_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> properties_;
};

// One cluster's connection, already resolved from flags and environment
// (the password already read from its file when given as @file).
struct ClusterSettings {
  std::string role;               // "source", "destination", "local": labels errors
  std::string brokers;            // required
  std::string security_protocol;  // empty: SASL_PLAINTEXT with a user, else PLAINTEXT
  std::string sasl_mechanism;     // empty: PLAIN
  std::string sasl_username;      // empty: no SASL
  std::string sasl_password;      // secret: never logged or echoed
};

// Where one cluster's settings come from: each flag value when non-empty,
// else the first of its environment variables that is set, else the
// default. The password has no literal flag: `password_file` may only be
// `@/path/to/file`; otherwise the password variables (literal or @file).
struct ClusterSource {
  std::string role;
  // Prefix of the names in the ConfigReport ("source_" -> source_brokers).
  std::string report_prefix;
  struct Flags {
    std::string brokers, security_protocol, sasl_mechanism, sasl_username,
        password_file;
  } flags;
  std::vector<const char*> brokers_env, security_protocol_env, sasl_mechanism_env,
      sasl_username_env, password_env;
  std::string default_brokers;
};

// The local cluster as consume and the tools read it: KAFKA_BROKERS,
// KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME,
// KAFKA_SASL_PASSWORD, each then its PV_KAFKA_* twin (BROKERS,
// SECURITY_PROTOCOL, SASL_MECHANISM, USER, PASSWORD). The mirror's
// destination adds DESTINATION_BROKERS first.
ClusterSource LocalCluster(absl::string_view role, absl::string_view report_prefix = "");
// The remote source cluster: SOURCE_BROKERS, SOURCE_SECURITY_PROTOCOL,
// SOURCE_SASL_MECHANISM, SOURCE_SASL_USERNAME, SOURCE_SASL_PASSWORD, each
// then its PV_KAFKA_SOURCE_* twin.
ClusterSource SourceCluster(absl::string_view role, absl::string_view report_prefix);

// Resolves `source` (reads the environment and the password file) and adds
// each setting to *report when it is not null (the password as ***).
// InvalidArgument when the password flag is not @file or the file cannot be
// read (the message names the file, never its content).
absl::StatusOr<ClusterSettings> ResolveCluster(const ClusterSource& source,
                                               ConfigReport* report);

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
//   - a property without '=', or one whose key IsSecretKey (secrets never
//     travel in argv: use the environment).
// Protocol and mechanism are accepted in any case and normalized to upper.
absl::StatusOr<KafkaConfig> BuildKafkaConfig(const ClusterSettings& settings,
                                             const std::vector<std::string>& properties);

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

}  // namespace pv::kafka

#endif  // PV_KAFKA_CONFIG_H_
