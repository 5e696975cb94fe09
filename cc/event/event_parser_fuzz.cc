// libFuzzer entry point for EventParser, with simdjson's DOM parser as the
// oracle: a full, independent validation of the same bytes.
//
// Checked on every input:
//  - Parse() never crashes and is deterministic (same result twice);
//  - the verdict agrees with DOM: valid JSON object -> kOk or a local_time
//    reason; valid non-object -> kNotObject; invalid -> kNotJson (inputs DOM
//    cannot judge, such as integers beyond 64 bits, are skipped);
//  - on kOk, every string, boolean, null and $oid field decodes to what DOM
//    decodes (U+0000 as U+FFFD), numbers to a JSON number token, local_time
//    to its parse, and every decoded field is text PostgreSQL can store
//    (valid UTF-8, no NUL).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cc/event/event.h"
#include "cc/star/calendar.h"
#include "simdjson.h"

namespace pv::event {
namespace {

[[noreturn]] void Violation(const char* what, const uint8_t* data, size_t size) {
  std::fprintf(stderr, "event_parser_fuzz: %s (input of %zu bytes)\n", what, size);
  std::abort();
}

// Deepest nesting in a DOM element (the root object counts as 1).
int Depth(simdjson::dom::element element) {
  int deepest = 0;
  if (element.is_array()) {
    const simdjson::dom::array array = element.get_array().value_unsafe();
    for (auto child : array) {
      deepest = std::max(deepest, Depth(child));
    }
    return deepest + 1;
  }
  if (element.is_object()) {
    const simdjson::dom::object object = element.get_object().value_unsafe();
    for (auto field : object) {
      deepest = std::max(deepest, Depth(field.value));
    }
    return deepest + 1;
  }
  return 0;
}

bool IsIdKey(std::string_view key) {
  return key == "_id" || key == "product_id" || key == "store_id" ||
         key == "device_id";
}

// Checks `decoded` against DOM's view of the same first-occurrence field.
void CheckDimension(std::string_view key, simdjson::dom::element value,
                    absl::string_view decoded_absl, const uint8_t* data,
                    size_t size) {
  const std::string_view decoded(decoded_absl.data(), decoded_absl.size());
  using simdjson::dom::element_type;
  switch (value.type()) {
    case element_type::STRING: {
      // DOM's string, with U+0000 decoded to U+FFFD (see event.h).
      std::string_view dom_string;
      if (value.get_string().get(dom_string) != simdjson::SUCCESS) {
        Violation("DOM string unreadable", data, size);
      }
      std::string expected;
      for (char c : dom_string) {
        if (c == '\0') {
          expected.append("\xEF\xBF\xBD");
        } else {
          expected.push_back(c);
        }
      }
      if (decoded != expected) Violation("string field differs from DOM", data, size);
      return;
    }
    case element_type::NULL_VALUE:
      if (!decoded.empty()) Violation("null field is not empty", data, size);
      return;
    case element_type::BOOL:
      if (decoded != (value.get_bool().value_unsafe() ? "true" : "false")) {
        Violation("boolean field differs", data, size);
      }
      return;
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: {
      if (decoded.empty()) Violation("number field is empty", data, size);
      // The token text must itself be a JSON number equal to DOM's value.
      std::string padded(decoded);
      simdjson::dom::parser number_parser;
      simdjson::dom::element number;
      if (number_parser.parse(padded).get(number) != simdjson::SUCCESS ||
          number.type() != value.type()) {
        Violation("number field is not the number's token", data, size);
      }
      return;
    }
    case element_type::OBJECT: {
      auto object = value.get_object().value_unsafe();
      if (IsIdKey(key) && object.size() == 1 &&
          (*object.begin()).key == "$oid" &&
          (*object.begin()).value.is_string()) {
        if (decoded != (*object.begin()).value.get_string().value_unsafe()) {
          Violation("$oid differs", data, size);
        }
        return;
      }
      [[fallthrough]];
    }
    case element_type::ARRAY: {
      // Raw text: must re-parse to the same minified JSON.
      std::string padded(decoded);
      simdjson::dom::parser raw_parser;
      simdjson::dom::element raw;
      if (raw_parser.parse(padded).get(raw) != simdjson::SUCCESS ||
          simdjson::minify(raw) != simdjson::minify(value)) {
        Violation("raw JSON field differs", data, size);
      }
      return;
    }
  }
}

void CheckAgainstDom(const uint8_t* data, size_t size, Invalid reason,
                     const Event& event) {
  simdjson::dom::parser dom_parser;
  simdjson::dom::element root;
  auto error = dom_parser.parse(data, size).get(root);
  if (error == simdjson::NUMBER_ERROR ||
      error == simdjson::DEPTH_ERROR) {
    return;  // DOM cannot judge (numbers beyond its range, deep nesting)
  }
  if (error) {
    if (reason != Invalid::kNotJson) {
      Violation("DOM rejects the JSON but the parser did not", data, size);
    }
    return;
  }
  if (!root.is_object()) {
    if (reason != Invalid::kNotObject) {
      Violation("DOM sees a non-object root, the parser did not say so", data,
                size);
    }
    return;
  }
  if (Depth(root) > kMaxNesting) {
    if (reason != Invalid::kNotJson) Violation("nesting limit not enforced", data, size);
    return;
  }
  if (reason == Invalid::kNotJson || reason == Invalid::kNotObject) {
    Violation("DOM accepts the object but the parser rejected it", data, size);
  }
  // First occurrence of each key, as the parser promises.
  const std::pair<std::string_view, absl::string_view> dimensions[] = {
      {"_id", event.id},
      {"product_id", event.product_id},
      {"store_id", event.store_id},
      {"referrer_url", event.referrer_url},
      {"device_id", event.device_id},
      {"current_url", event.current_url},
      {"user_agent", event.user_agent}};
  const simdjson::dom::object root_object = root.get_object().value_unsafe();
  bool seen_time = false;
  simdjson::dom::element time_value;
  for (auto [key, decoded] : dimensions) {
    // What COPY sends to a text column must be storable: valid UTF-8
    // without NUL (PostgreSQL refuses both, failing the whole load).
    if (reason == Invalid::kOk &&
        (decoded.find('\0') != absl::string_view::npos ||
         !simdjson::validate_utf8(decoded.data(), decoded.size()))) {
      Violation("decoded text PostgreSQL cannot store", data, size);
    }
    bool found = false;
    for (auto field : root_object) {
      if (field.key != key) continue;
      found = true;
      if (reason == Invalid::kOk) CheckDimension(key, field.value, decoded, data, size);
      break;
    }
    if (!found && !decoded.empty()) Violation("missing field not empty", data, size);
  }
  for (auto field : root_object) {
    if (field.key == "local_time") {
      seen_time = true;
      time_value = field.value;
      break;
    }
  }
  Invalid expected = Invalid::kOk;
  int64_t seconds = 0;
  if (!seen_time || time_value.is_null()) {
    expected = Invalid::kMissingLocalTime;
  } else if (!time_value.is_string() ||
             !ParseLocalTime(absl::string_view(time_value.get_string().value_unsafe().data(), time_value.get_string().value_unsafe().size()), &seconds)) {
    expected = Invalid::kBadLocalTime;
  }
  if (reason != expected) Violation("local_time verdict differs", data, size);
  if (reason == Invalid::kOk &&
      (event.local_time != seconds ||
       event.day != star::DayFromUnixSeconds(seconds))) {
    Violation("local_time value differs", data, size);
  }
}

}  // namespace
}  // namespace pv::event

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pv::event;
  // The parser's contract: kPadding readable bytes after the payload.
  std::vector<char> buffer(data, data + size);
  buffer.resize(size + kPadding, '\0');
  const absl::string_view payload(buffer.data(), size);

  static EventParser* parser = new EventParser();  // reused, as in production
  Event event;
  const Invalid reason = parser->Parse(payload, &event);
  if (reason != Invalid::kOk && parser->error_detail().empty()) {
    Violation("invalid record without error_detail", data, size);
  }
  CheckAgainstDom(data, size, reason, event);

  EventParser fresh;
  Event again;
  if (fresh.Parse(payload, &again) != reason ||
      (reason == Invalid::kOk &&
       (std::string(again.product_id) != std::string(event.product_id) ||
       std::string(again.id) != std::string(event.id) ||
        std::string(again.referrer_url) != std::string(event.referrer_url) ||
        again.time_stamp != event.time_stamp))) {
    Violation("not deterministic", data, size);
  }
  return 0;
}
