#include "cc/common/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cc/common/status.h"

namespace pv {
namespace {

constexpr char kRedacted[] = "***";

// A secret file holds one password or key, never megabytes; a bigger file is
// almost certainly the wrong path.
constexpr size_t kMaxSecretFileBytes = 64 * 1024;

bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
         c == '_' || c == '-';
}

bool IsSpace(char c) { return absl::ascii_isspace(static_cast<unsigned char>(c)); }

// Ends a URI token: whitespace or a quote around the URI.
bool EndsUriToken(char c) { return IsSpace(c) || c == '"' || c == '\''; }

// Replaces the password of every scheme://user:password@host in `text`.
std::string RedactUriPasswords(absl::string_view text) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t sep = text.find("://", pos);
    if (sep == absl::string_view::npos) break;
    size_t start = sep + 3;
    size_t end = start;
    while (end < text.size() && !EndsUriToken(text[end])) ++end;
    absl::string_view token = text.substr(start, end - start);
    // The userinfo ends at the last '@' of the authority; if the authority
    // has none, a password with an unescaped '/' may hide a later '@', so
    // fall back to the last '@' of the token (over-redacting at worst).
    absl::string_view authority = token.substr(0, token.find_first_of("/?#"));
    size_t at = authority.rfind('@');
    if (at == absl::string_view::npos) at = token.rfind('@');
    size_t colon = at == absl::string_view::npos
                       ? absl::string_view::npos
                       : token.substr(0, at).find(':');
    if (colon == absl::string_view::npos || colon + 1 == at) {
      absl::StrAppend(&out, text.substr(pos, end - pos));
    } else {
      absl::StrAppend(&out, text.substr(pos, start + colon + 1 - pos),
                      kRedacted, token.substr(at));
    }
    pos = end;
  }
  absl::StrAppend(&out, text.substr(pos));
  return out;
}

// Replaces the value of every key=value pair whose key IsSecretKey.
std::string RedactKeyValueSecrets(absl::string_view text) {
  std::string out;
  size_t copied = 0;  // text[0, copied) is in `out`
  size_t eq = 0;
  while ((eq = text.find('=', eq)) != absl::string_view::npos) {
    size_t key_end = eq;
    while (key_end > copied && text[key_end - 1] == ' ') --key_end;
    size_t key_begin = key_end;
    while (key_begin > copied && IsKeyChar(text[key_begin - 1])) --key_begin;
    size_t value_begin = eq + 1;
    while (value_begin < text.size() && text[value_begin] == ' ') ++value_begin;
    if (key_begin == key_end ||
        !IsSecretKey(text.substr(key_begin, key_end - key_begin)) ||
        value_begin == text.size()) {
      ++eq;
      continue;
    }
    char quote = text[value_begin];
    size_t secret_begin = value_begin;
    size_t secret_end = value_begin;
    size_t resume;
    if (quote == '\'' || quote == '"') {
      secret_begin = value_begin + 1;
      secret_end = secret_begin;
      while (secret_end < text.size() && text[secret_end] != quote) {
        secret_end += text[secret_end] == '\\' ? 2 : 1;
      }
      secret_end = std::min(secret_end, text.size());
      resume = std::min(secret_end + 1, text.size());  // past closing quote
    } else {
      while (secret_end < text.size() && !IsSpace(text[secret_end])) {
        ++secret_end;
      }
      resume = secret_end;
    }
    if (secret_end > secret_begin) {
      absl::StrAppend(&out, text.substr(copied, secret_begin - copied),
                      kRedacted);
      copied = secret_end;
    }
    eq = resume;
  }
  absl::StrAppend(&out, text.substr(copied));
  return out;
}

}  // namespace

std::string FlagOrEnv(absl::string_view flag_value,
                      std::initializer_list<const char*> env_names,
                      absl::string_view default_value, std::string* source) {
  if (!flag_value.empty()) {
    if (source != nullptr) *source = "flag";
    return std::string(flag_value);
  }
  for (const char* name : env_names) {
    const char* value = std::getenv(name);
    if (value != nullptr && value[0] != '\0') {
      if (source != nullptr) *source = absl::StrCat("env ", name);
      return value;
    }
  }
  if (source != nullptr) *source = "default";
  return std::string(default_value);
}

absl::StatusOr<std::string> ReadSecret(absl::string_view value,
                                       absl::string_view name) {
  if (absl::StartsWith(value, "@@")) return std::string(value.substr(1));
  if (!absl::StartsWith(value, "@")) return std::string(value);
  const std::string path(value.substr(1));
  const std::string context = absl::StrCat("secret ", name);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Annotate(ErrnoStatus(errno, "open", path), context);
  }
  std::string content;
  content.resize(kMaxSecretFileBytes + 1);
  in.read(&content[0], static_cast<std::streamsize>(content.size()));
  if (in.bad()) return Annotate(ErrnoStatus(errno, "read", path), context);
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > kMaxSecretFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": file ", path, " is larger than ",
                     kMaxSecretFileBytes, " bytes"));
  }
  while (!content.empty() && (content.back() == '\n' || content.back() == '\r')) {
    content.pop_back();
  }
  if (content.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": file ", path, " is empty"));
  }
  return content;
}

bool IsSecretKey(absl::string_view key) {
  static constexpr const char* kSecretWords[] = {
      "password", "passwd", "pwd",         "secret", "token",
      "credential", "jaas", "oauthbearer", "key.pem"};
  const std::string lower = absl::AsciiStrToLower(key);
  if (lower == "ssl_key") return true;
  for (const char* word : kSecretWords) {
    if (absl::StrContains(lower, word)) return true;
  }
  return false;
}

std::string RedactSecrets(absl::string_view text) {
  return RedactKeyValueSecrets(RedactUriPasswords(text));
}

void ConfigReport::Add(absl::string_view name, absl::string_view value,
                       absl::string_view source, bool secret) {
  std::string shown;
  if (secret || IsSecretKey(name)) {
    shown = value.empty() ? "(not set)" : kRedacted;
  } else {
    shown = RedactSecrets(value);
  }
  entries_.push_back({std::string(name), std::move(shown), std::string(source)});
}

std::string ConfigReport::ToString() const {
  size_t name_width = 0;
  size_t value_width = 0;
  for (const Entry& e : entries_) {
    name_width = std::max(name_width, e.name.size());
    value_width = std::max(value_width, e.shown_value.size());
  }
  std::string out;
  for (const Entry& e : entries_) {
    absl::StrAppend(&out, e.name, std::string(name_width - e.name.size(), ' '),
                    " = ", e.shown_value);
    if (!e.source.empty()) {
      absl::StrAppend(&out,
                      std::string(value_width - e.shown_value.size(), ' '),
                      "  (", e.source, ")");
    }
    out += '\n';
  }
  return out;
}

}  // namespace pv
