// Stage configuration: flags first, the seed's environment variable names as
// fallback, and secrets kept out of logs, argv and error messages.
//
//   ABSL_FLAG(std::string, kafka_brokers, "", "bootstrap servers");
//   ABSL_FLAG(std::string, pg_password, "", "password, or @/path/to/file");
//   ...
//   std::string source;
//   std::string brokers = pv::FlagOrEnv(absl::GetFlag(FLAGS_kafka_brokers),
//                                       {"KAFKA_BROKERS"}, "localhost:9092",
//                                       &source);
//   pv::ConfigReport report;
//   report.Add("kafka_brokers", brokers, source);
//   PV_ASSIGN_OR_RETURN(std::string pw,
//       pv::ReadSecret(pv::FlagOrEnv(absl::GetFlag(FLAGS_pg_password),
//                                    {"POSTGRES_PASSWORD"}, ""),
//                      "pg_password"));
//   report.Add("pg_password", pw, "env", /*secret=*/true);
//   PV_LOG(INFO) << "configuration:\n" << report.ToString();
//
// Secret flags must have an empty default (--help prints defaults), and
// operators should pass the password through the environment or as
// `@/path/to/file`, never literally on the command line (argv is visible to
// every user of the machine through ps).
//
// All functions are thread-compatible; FlagOrEnv reads the environment, so it
// must not race with setenv/unsetenv.
#ifndef PV_COMMON_CONFIG_H_
#define PV_COMMON_CONFIG_H_

#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv {

// Returns `flag_value` if non-empty, else the value of the first variable in
// `env_names` that is set and non-empty, else `default_value`. If `source` is
// non-null it receives where the value came from: "flag", "env NAME" or
// "default".
std::string FlagOrEnv(absl::string_view flag_value,
                      std::initializer_list<const char*> env_names,
                      absl::string_view default_value,
                      std::string* source = nullptr);

// Resolves a secret given either literally or as `@/path/to/file`: the file's
// content with trailing newlines ("\n", "\r\n") stripped. `@@x` stands for the
// literal `@x`. `name` (e.g. "pg_password") only labels errors. Errors name the
// file and the secret's name, never its content. An empty file is an error.
absl::StatusOr<std::string> ReadSecret(absl::string_view value,
                                       absl::string_view name);

// The one rule for which configuration keys name a secret, used for flags,
// environment variables, libpq conninfo keywords and librdkafka properties
// alike: the key contains, ignoring case, one of password, passwd, pwd,
// secret, token, credential, jaas, oauthbearer or key.pem, or is ssl_key.
// Covers sasl.password, sasl.jaas.config, ssl.key.password, ssl.key.pem,
// sasl.oauthbearer.config, PV_KAFKA_PASSWORD, PGPASSWORD, ...
bool IsSecretKey(absl::string_view key);

// Returns `text` with passwords replaced by `***` (the one redaction rule for
// URIs, conninfo strings and Kafka properties):
//   URIs with userinfo   postgres://u:pw@h/db     -> postgres://u:***@h/db
//                        (any scheme: postgresql, mongodb, mongodb+srv, ...)
//   key=value pairs whose key IsSecretKey, unquoted (up to whitespace) or
//   quoted with ' or " (backslash escapes honoured), which covers libpq
//   conninfo (password=x, password = 'a b'), librdkafka properties
//   (sasl.password=x) and JAAS (password="x").
// Errs toward hiding: an unquoted secret value runs to the next whitespace.
std::string RedactSecrets(absl::string_view text);

// A stage's effective configuration, printed once at start-up.
class ConfigReport {
 public:
  // Records one setting. `source` is what FlagOrEnv reported (may be empty).
  // The value is printed as `***` when `secret` is true or `name`
  // IsSecretKey; otherwise it is passed through RedactSecrets, so a conninfo
  // or URI holding a password is safe to Add as-is.
  void Add(absl::string_view name, absl::string_view value,
           absl::string_view source = "", bool secret = false);

  // One line per setting, in Add order, names and values aligned:
  //   kafka_brokers = localhost:9092  (env KAFKA_BROKERS)
  //   pg_password   = ***             (flag)
  // An empty secret prints as `(not set)`. Each line ends with '\n'.
  std::string ToString() const;

 private:
  struct Entry {
    std::string name;
    std::string shown_value;  // already redacted
    std::string source;
  };
  std::vector<Entry> entries_;
};

}  // namespace pv

#endif  // PV_COMMON_CONFIG_H_
