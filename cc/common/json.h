// JSON string literals for the files and columns the pipeline writes by hand
// (quarantine NDJSON, the ledger's jsonb columns).
//
//   std::string line = "{\"reason\":";
//   pv::AppendJsonString(&line, reason, pv::JsonEscaping::kAscii);
//
// Two escaping policies, because the texts differ in what they may hold:
//  - kAscii: every byte outside printable ASCII is written as \u00XX, one
//    escape per byte. For text that may not be valid UTF-8 (excerpts of
//    untrusted payloads): the output is plain ASCII and always valid JSON,
//    and the original bytes can be read back from the escapes.
//  - kUtf8: bytes >= 0x80 pass through untouched (the text is known to be
//    UTF-8, and PostgreSQL's jsonb must receive the real characters); only
//    control characters are escaped.
// Both escape '"', '\\' and the control characters (\n, \r, \t by name).
#ifndef PV_COMMON_JSON_H_
#define PV_COMMON_JSON_H_

#include <string>

#include "absl/strings/string_view.h"

namespace pv {

enum class JsonEscaping { kAscii, kUtf8 };

// Appends `text` as a quoted JSON string to *out.
void AppendJsonString(std::string* out, absl::string_view text, JsonEscaping escaping);

// `text` as a quoted JSON string.
std::string JsonString(absl::string_view text, JsonEscaping escaping);

}  // namespace pv

#endif  // PV_COMMON_JSON_H_
