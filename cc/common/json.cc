#include "cc/common/json.h"

#include "absl/strings/str_cat.h"

namespace pv {

void AppendJsonString(std::string* out, absl::string_view text, JsonEscaping escaping) {
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && escaping == JsonEscaping::kAscii)) {
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

std::string JsonString(absl::string_view text, JsonEscaping escaping) {
  std::string out;
  out.reserve(text.size() + 2);
  AppendJsonString(&out, text, escaping);
  return out;
}

}  // namespace pv
