#include "cc/ingest/mirror_settings.h"

#include <initializer_list>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/common/status.h"

namespace pv::ingest {

absl::StatusOr<kafka::KafkaConfig> BuildKafkaConfig(
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
  kafka::KafkaConfig config;
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

}  // namespace pv::ingest
