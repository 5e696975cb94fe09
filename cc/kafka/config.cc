#include "cc/kafka/config.h"

#include <cstdlib>
#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "cc/common/status.h"

namespace pv::kafka {

// ---------------------------------------------------------------------------
// KafkaConfig

KafkaConfig& KafkaConfig::Set(absl::string_view key, absl::string_view value) {
  for (auto& [k, v] : properties_) {
    if (k == key) {
      v = std::string(value);
      return *this;
    }
  }
  properties_.emplace_back(std::string(key), std::string(value));
  return *this;
}

KafkaConfig& KafkaConfig::SetBrokers(absl::string_view brokers) {
  return Set("bootstrap.servers", brokers);
}

KafkaConfig& KafkaConfig::SetSecurityProtocol(absl::string_view protocol) {
  return Set("security.protocol", protocol);
}

KafkaConfig& KafkaConfig::SetSasl(absl::string_view mechanism, absl::string_view user,
                                  absl::string_view password) {
  if (Get("security.protocol").empty()) SetSecurityProtocol("SASL_PLAINTEXT");
  Set("sasl.mechanisms", mechanism);
  Set("sasl.username", user);
  return Set("sasl.password", password);
}

absl::Status KafkaConfig::SetFromAssignment(absl::string_view key_equals_value) {
  const size_t eq = key_equals_value.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    // Do not echo the text: it may be a secret missing its key.
    return absl::InvalidArgumentError("Kafka property must be key=value");
  }
  Set(absl::StripAsciiWhitespace(key_equals_value.substr(0, eq)),
      key_equals_value.substr(eq + 1));
  return absl::OkStatus();
}

std::string KafkaConfig::Get(absl::string_view key) const {
  for (const auto& [k, v] : properties_) {
    if (k == key) return v;
  }
  return "";
}

std::string KafkaConfig::DebugString() const {
  std::vector<std::string> parts;
  parts.reserve(properties_.size());
  for (const auto& [k, v] : properties_) {
    parts.push_back(absl::StrCat(k, "=", pv::IsSecretKey(k) ? "***" : v));
  }
  return absl::StrJoin(parts, ", ");
}

KafkaConfig& KafkaConfig::SetDefault(absl::string_view key, absl::string_view value) {
  if (Get(key).empty()) Set(key, value);
  return *this;
}

absl::StatusOr<KafkaConfig> KafkaConfig::FromEnv(absl::string_view prefix) {
  auto name = [&](absl::string_view suffix) { return absl::StrCat(prefix, "_", suffix); };
  auto env = [&](absl::string_view suffix) -> std::string {
    const char* v = std::getenv(name(suffix).c_str());
    return v == nullptr ? "" : v;
  };
  ClusterSettings settings;
  settings.role = std::string(prefix);
  settings.brokers = env("BROKERS");
  if (settings.brokers.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(name("BROKERS"), " is not set (start the services with "
                                      "tools/services/all.sh start and eval its env)"));
  }
  settings.security_protocol = env("SECURITY_PROTOCOL");
  settings.sasl_mechanism = env("SASL_MECHANISM");
  settings.sasl_username = env("USER");
  const std::string password = env("PASSWORD");
  if (settings.sasl_username.empty() != password.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("set both ", name("USER"), " and ", name("PASSWORD"), ", or neither"));
  }
  if (!password.empty()) {
    PV_ASSIGN_OR_RETURN(settings.sasl_password, ReadSecret(password, name("PASSWORD")));
  }
  return BuildKafkaConfig(settings, {});
}

// ---------------------------------------------------------------------------
// Where settings come from

ClusterSource LocalCluster(absl::string_view role, absl::string_view report_prefix) {
  ClusterSource s;
  s.role = std::string(role);
  s.report_prefix = std::string(report_prefix);
  s.brokers_env = {"KAFKA_BROKERS", "PV_KAFKA_BROKERS"};
  s.security_protocol_env = {"KAFKA_SECURITY_PROTOCOL", "PV_KAFKA_SECURITY_PROTOCOL"};
  s.sasl_mechanism_env = {"KAFKA_SASL_MECHANISM", "PV_KAFKA_SASL_MECHANISM"};
  s.sasl_username_env = {"KAFKA_SASL_USERNAME", "PV_KAFKA_USER"};
  s.password_env = {"KAFKA_SASL_PASSWORD", "PV_KAFKA_PASSWORD"};
  return s;
}

ClusterSource SourceCluster(absl::string_view role, absl::string_view report_prefix) {
  ClusterSource s;
  s.role = std::string(role);
  s.report_prefix = std::string(report_prefix);
  s.brokers_env = {"SOURCE_BROKERS", "PV_KAFKA_SOURCE_BROKERS"};
  s.security_protocol_env = {"SOURCE_SECURITY_PROTOCOL", "PV_KAFKA_SOURCE_SECURITY_PROTOCOL"};
  s.sasl_mechanism_env = {"SOURCE_SASL_MECHANISM", "PV_KAFKA_SOURCE_SASL_MECHANISM"};
  s.sasl_username_env = {"SOURCE_SASL_USERNAME", "PV_KAFKA_SOURCE_USER"};
  s.password_env = {"SOURCE_SASL_PASSWORD", "PV_KAFKA_SOURCE_PASSWORD"};
  return s;
}

namespace {

// FlagOrEnv over a runtime list of variable names.
std::string Resolve(const std::string& flag, const std::vector<const char*>& env,
                    const std::string& default_value, std::string* source) {
  if (!flag.empty()) {
    *source = "flag";
    return flag;
  }
  for (const char* name : env) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      *source = absl::StrCat("env ", name);
      return v;
    }
  }
  *source = default_value.empty() ? "" : "default";
  return default_value;
}

}  // namespace

absl::StatusOr<ClusterSettings> ResolveCluster(const ClusterSource& source,
                                               ConfigReport* report) {
  ClusterSettings s;
  s.role = source.role;
  std::string from;
  auto add = [&](absl::string_view name, const std::string& value) {
    if (report != nullptr) report->Add(absl::StrCat(source.report_prefix, name), value, from);
  };
  s.brokers = Resolve(source.flags.brokers, source.brokers_env, source.default_brokers, &from);
  add("brokers", s.brokers);
  s.security_protocol =
      Resolve(source.flags.security_protocol, source.security_protocol_env, "", &from);
  add("security_protocol", s.security_protocol);
  s.sasl_mechanism = Resolve(source.flags.sasl_mechanism, source.sasl_mechanism_env, "", &from);
  add("sasl_mechanism", s.sasl_mechanism);
  s.sasl_username = Resolve(source.flags.sasl_username, source.sasl_username_env, "", &from);
  add("sasl_username", s.sasl_username);
  const std::string& file = source.flags.password_file;
  if (!file.empty() && file[0] != '@') {
    return absl::InvalidArgumentError(absl::StrCat(
        source.role, " Kafka: the password flag takes @/path/to/file only; pass the "
                     "password itself through the environment (",
        absl::StrJoin(source.password_env, " or "), ")"));
  }
  const std::string raw = Resolve(file, source.password_env, "", &from);
  if (!raw.empty()) {
    PV_ASSIGN_OR_RETURN(s.sasl_password,
                        ReadSecret(raw, absl::StrCat(source.role, " Kafka SASL password")));
  }
  if (report != nullptr) {
    report->Add(absl::StrCat(source.report_prefix, "sasl_password"), s.sasl_password, from,
                /*secret=*/true);
  }
  return s;
}

absl::StatusOr<KafkaConfig> BuildKafkaConfig(
    const ClusterSettings& settings, const std::vector<std::string>& properties) {
  const std::string who = absl::StrCat(settings.role, " Kafka");
  if (settings.brokers.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(who, ": no brokers given"));
  }
  const bool has_user = !settings.sasl_username.empty();
  const bool has_password = !settings.sasl_password.empty();
  if (has_user != has_password) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": SASL needs both a user and a password (got only the ",
        has_user ? "user" : "password", ")"));
  }
  std::string protocol = absl::AsciiStrToUpper(settings.security_protocol);
  if (protocol.empty()) protocol = has_user ? "SASL_PLAINTEXT" : "PLAINTEXT";
  const bool sasl = protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL";
  if (!sasl && protocol != "PLAINTEXT" && protocol != "SSL") {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": security protocol ", protocol,
                     " is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"));
  }
  if (sasl && !has_user) {
    return absl::InvalidArgumentError(
        absl::StrCat(who, ": security protocol ", protocol, " needs a SASL user and password"));
  }
  if (!sasl && has_user) {
    return absl::InvalidArgumentError(absl::StrCat(
        who, ": a SASL user was given but the security protocol is ", protocol,
        " (use SASL_PLAINTEXT or SASL_SSL)"));
  }
  KafkaConfig config;
  config.SetBrokers(settings.brokers);
  config.SetSecurityProtocol(protocol);
  if (sasl) {
    std::string mechanism = absl::AsciiStrToUpper(settings.sasl_mechanism);
    if (mechanism.empty()) mechanism = "PLAIN";
    if (mechanism != "PLAIN" && mechanism != "SCRAM-SHA-256" && mechanism != "SCRAM-SHA-512") {
      return absl::InvalidArgumentError(
          absl::StrCat(who, ": SASL mechanism ", mechanism,
                       " is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"));
    }
    config.SetSasl(mechanism, settings.sasl_username, settings.sasl_password);
  }
  for (const std::string& p : properties) {
    const size_t eq = p.find('=');
    if (eq != std::string::npos && pv::IsSecretKey(p.substr(0, eq))) {
      return absl::InvalidArgumentError(absl::StrCat(
          who, " property ", p.substr(0, eq),
          ": secrets must not be given on the command line (argv is visible to every "
          "user of the machine); use the environment or @/path/to/file"));
    }
    PV_RETURN_IF_ERROR(config.SetFromAssignment(p), who, " property");
  }
  return config;
}

namespace {

// If `arg` is the short option `letter` (-X) or one of the long `names`,
// sets *inline_value to what follows it in the same argument ("" when the
// value is the next argument) and returns true.
bool MatchOption(const std::string& arg, char letter, std::initializer_list<const char*> names,
                 std::string* inline_value, bool* has_inline) {
  const std::string shrt = std::string("-") + letter;
  if (absl::StartsWith(arg, shrt) && !absl::StartsWith(arg, "--")) {
    std::string rest = arg.substr(2);
    if (absl::StartsWith(rest, "=")) rest = rest.substr(1);
    *has_inline = !rest.empty();
    *inline_value = rest;
    return true;
  }
  for (const char* name : names) {
    const std::string flag = absl::StrCat("--", name);
    if (arg == flag) {
      *has_inline = false;
      inline_value->clear();
      return true;
    }
    if (absl::StartsWith(arg, flag + "=")) {
      *has_inline = true;
      *inline_value = arg.substr(flag.size() + 1);
      return true;
    }
  }
  return false;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExtractPropertyArgs(
    const std::vector<std::string>& args, PropertyArgs* out) {
  std::vector<std::string> rest;
  size_t i = 0;
  if (!args.empty()) rest.push_back(args[i++]);
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      rest.insert(rest.end(), args.begin() + i, args.end());
      break;
    }
    std::string value;
    bool has_inline = false;
    std::vector<std::string>* target = nullptr;
    if (MatchOption(a, 'X', {"source-property", "source_property"}, &value, &has_inline)) {
      target = &out->source;
    } else if (MatchOption(a, 'Y', {"destination-property", "destination_property"}, &value,
                           &has_inline)) {
      target = &out->destination;
    }
    if (target == nullptr) {
      rest.push_back(a);
      continue;
    }
    if (!has_inline) {
      if (i + 1 >= args.size()) {
        // The option name is safe to show; there is no value to leak.
        return absl::InvalidArgumentError(absl::StrCat(a, " needs key=value after it"));
      }
      value = args[++i];
    }
    target->push_back(value);
  }
  return rest;
}

}  // namespace pv::kafka
