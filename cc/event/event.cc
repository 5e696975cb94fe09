#include "cc/event/event.h"

#include <cstring>
#include <deque>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cc/star/calendar.h"
#include "simdjson.h"

namespace pv::event {
namespace {

namespace od = simdjson::ondemand;

static_assert(kPadding >= simdjson::SIMDJSON_PADDING,
              "callers' padding must cover what simdjson reads ahead");

// The fields Parse() extracts. Bits of a "seen" mask, so that the first
// occurrence of a duplicated key wins.
enum Field : uint32_t {
  kFieldId = 0,
  kFieldProductId,
  kFieldStoreId,
  kFieldReferrerUrl,
  kFieldDeviceId,
  kFieldCurrentUrl,
  kFieldUserAgent,
  kFieldLocalTime,
  kFieldTimeStamp,
  kFieldOther,
};

constexpr absl::string_view kFieldNames[] = {
    "_id",        "product_id",  "store_id",   "referrer_url", "device_id",
    "current_url", "user_agent", "local_time", "time_stamp",   "?"};

// Maps a decoded key to the field it names. Switching on the length first
// keeps the common miss (the ~11 fields we ignore) to one or two compares.
Field FieldOfKey(absl::string_view key) {
  switch (key.size()) {
    case 3:
      if (key == "_id") return kFieldId;
      break;
    case 8:
      if (key == "store_id") return kFieldStoreId;
      break;
    case 9:
      if (key == "device_id") return kFieldDeviceId;
      break;
    case 10:
      if (key == "product_id") return kFieldProductId;
      if (key == "local_time") return kFieldLocalTime;
      if (key == "time_stamp") return kFieldTimeStamp;
      if (key == "user_agent") return kFieldUserAgent;
      break;
    case 11:
      if (key == "current_url") return kFieldCurrentUrl;
      break;
    case 12:
      if (key == "referrer_url") return kFieldReferrerUrl;
      break;
  }
  return kFieldOther;
}

bool IsIdField(Field f) {
  return f == kFieldId || f == kFieldProductId || f == kFieldStoreId ||
         f == kFieldDeviceId;
}

// Debian's Abseil has its own string_view type; simdjson hands out std's.
inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

absl::string_view TrimTrailingSpace(absl::string_view s) {
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
// Checked on the token text so that integers of any length (ids) are valid,
// whatever simdjson's number parser would say about their range.
bool IsJsonNumber(absl::string_view s) {
  size_t i = 0, n = s.size();
  if (i < n && s[i] == '-') ++i;
  if (i >= n) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && IsDigit(s[i])) ++i;
  } else {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= n || !IsDigit(s[i])) return false;
    while (i < n && IsDigit(s[i])) ++i;
  }
  return i == n;
}

// A short, printable excerpt of untrusted text for error messages.
std::string Excerpt(absl::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

absl::string_view InvalidName(Invalid reason) {
  switch (reason) {
    case Invalid::kOk:
      return "ok";
    case Invalid::kNotJson:
      return "not_json";
    case Invalid::kNotObject:
      return "not_object";
    case Invalid::kMissingLocalTime:
      return "missing_local_time";
    case Invalid::kBadLocalTime:
      return "bad_local_time";
    case Invalid::kCount:
      break;
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// local_time. The calendar is cc/star/calendar.h's (absl::CivilDay); events
// arrive clustered by day, so the day number of the last date seen is kept
// per thread and most records skip the calendar arithmetic.

bool ParseLocalTime(absl::string_view text, int64_t* unix_seconds) {
  // YYYY-MM-DD?HH:MM:SS
  // 0123456789012345678
  if (text.size() != 19) return false;
  const char* s = text.data();
  if (s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') ||
      s[13] != ':' || s[16] != ':') {
    return false;
  }
  static constexpr int kDigitPositions[] = {0,  1,  2,  3,  5,  6,  8,
                                            9,  11, 12, 14, 15, 17, 18};
  for (int pos : kDigitPositions) {
    if (!IsDigit(s[pos])) return false;
  }
  auto two = [s](int pos) { return (s[pos] - '0') * 10 + (s[pos + 1] - '0'); };
  const int year = two(0) * 100 + two(2);
  const int month = two(5), day = two(8);
  const int hour = two(11), minute = two(14), second = two(17);
  if (hour > 23 || minute > 59 || second > 59) return false;
  struct LastDate {
    char text[10] = {};
    int32_t day = 0;
  };
  thread_local LastDate last;
  int32_t day_number;
  if (std::memcmp(last.text, s, 10) == 0) {
    day_number = last.day;
  } else {
    if (!star::IsValidDate(year, month, day)) return false;
    day_number = star::DayFromCivil(year, month, day);
    std::memcpy(last.text, s, 10);
    last.day = day_number;
  }
  *unix_seconds = static_cast<int64_t>(day_number) * 86400 + hour * 3600 +
                  minute * 60 + second;
  return true;
}

// ---------------------------------------------------------------------------

constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

struct EventParser::Impl {
  od::parser parser;
  // Only for records whose root is not an object (rare): the full DOM parse
  // decides between kNotObject (valid JSON) and kNotJson. Created on first use.
  std::unique_ptr<simdjson::dom::parser> dom_parser;
  std::string error_detail;
  const char* payload_begin = nullptr;
  size_t payload_size = 0;
  od::document* document = nullptr;  // during Parse(), for error positions
  Field current_field = kFieldOther;
  // Decoded strings that held U+0000, with it replaced (see event.h); a
  // deque, so that views into earlier entries survive later ones.
  std::deque<std::string> replaced;

  Invalid Parse(absl::string_view payload, Event* event);

  // Records why the JSON is not valid, at `where` (a pointer into the payload
  // or null), and returns false so callers can `return Fail(...)`.
  bool Fail(const char* where, absl::string_view why);
  bool FailSimdjson(const char* where, simdjson::error_code error) {
    return Fail(where, simdjson::error_message(error));
  }

  // Validates `value` and everything in it, consuming it. `depth` is the
  // nesting level of `value` (the root object's members are at 2).
  bool ValidateValue(od::value& value, int depth);
  bool ValidateObject(od::object& object, int depth);
  bool ValidateString(od::value& value, absl::string_view token,
                      absl::string_view* decoded);

  // Validates `value` and decodes it as dimension text (see event.h).
  bool DecodeDimension(od::value& value, bool is_id, absl::string_view* out);

  Invalid ClassifyNonObject(absl::string_view payload);
};

bool EventParser::Impl::Fail(const char* where, absl::string_view why) {
  if (where == nullptr && document != nullptr) {
    // After an error simdjson still knows the token it stopped at.
    if (document->current_location().get(where) != simdjson::SUCCESS) {
      where = nullptr;
    }
  }
  if (where != nullptr &&
      (where < payload_begin || where > payload_begin + payload_size)) {
    where = nullptr;
  }
  if (where != nullptr) {
    error_detail = absl::StrCat("byte ", where - payload_begin);
  } else {
    error_detail = "document";
  }
  if (current_field != kFieldOther) {
    absl::StrAppend(&error_detail, " (field '", kFieldNames[current_field],
                    "')");
  }
  absl::StrAppend(&error_detail, ": ", why);
  return false;
}

// Consumes the string `value`. `token` is its raw token: the quoted string
// and trailing spaces.
// Strings without a backslash are returned as a view of the payload (no
// copy); others are unescaped by simdjson into the parser's string buffer,
// which also rejects invalid escapes and lone surrogates.
bool EventParser::Impl::ValidateString(od::value& value,
                                       absl::string_view token,
                                       absl::string_view* decoded) {
  token = TrimTrailingSpace(token);
  // Stage 1 matched the quotes, so the token is "...".
  absl::string_view inner = token.substr(1, token.size() - 2);
  if (std::memchr(inner.data(), '\\', inner.size()) == nullptr) {
    // Consume the value even though its text is already known: On-Demand's
    // skipping of an unread string cannot tell it from a key when a ':'
    // follows (`{"a":"b":1}`), and would accept that malformed input.
    od::raw_json_string unused;
    if (auto error = value.get_raw_json_string().get(unused)) {
      return FailSimdjson(token.data(), error);
    }
    *decoded = inner;
    return true;
  }
  std::string_view unescaped;
  if (auto error = value.get_string().get(unescaped)) {
    return FailSimdjson(token.data(), error);
  }
  *decoded = absl::string_view(unescaped.data(), unescaped.size());
  if (std::memchr(unescaped.data(), '\0', unescaped.size()) != nullptr) {
    // "\u0000": PostgreSQL text cannot hold NUL. U+FFFD, as for any
    // character a text cannot represent.
    std::string& text = replaced.emplace_back();
    text.reserve(unescaped.size() + 8);
    for (char c : unescaped) {
      if (c == '\0') {
        text.append(kReplacementCharacter);
      } else {
        text.push_back(c);
      }
    }
    *decoded = text;
  }
  return true;
}

bool EventParser::Impl::ValidateObject(od::object& object, int depth) {
  for (auto field_result : object) {
    od::field field;
    if (auto error = std::move(field_result).get(field)) {
      return FailSimdjson(nullptr, error);
    }
    const char* key = field.key().raw();
    // Keys without a backslash are valid as they are; others must unescape.
    const char* p = key;
    while (*p != '"' && *p != '\\') ++p;
    if (*p == '\\') {
      std::string_view unused;
      if (auto error = field.unescaped_key().get(unused)) {
        return FailSimdjson(key, error);
      }
    }
    if (!ValidateValue(field.value(), depth + 1)) return false;
  }
  return true;
}

bool EventParser::Impl::ValidateValue(od::value& value, int depth) {
  const absl::string_view token(AsAbsl(value.raw_json_token()));
  if (depth > kMaxNesting) {
    return Fail(token.data(), absl::StrCat("nesting deeper than ", kMaxNesting,
                                           " levels"));
  }
  od::json_type type;
  if (auto error = value.type().get(type)) {
    return FailSimdjson(token.data(), error);
  }
  switch (type) {
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) {
        return FailSimdjson(token.data(), error);
      }
      return ValidateObject(object, depth);
    }
    case od::json_type::array: {
      od::array array;
      if (auto error = value.get_array().get(array)) {
        return FailSimdjson(token.data(), error);
      }
      for (auto element_result : array) {
        od::value element;
        if (auto error = std::move(element_result).get(element)) {
          return FailSimdjson(nullptr, error);
        }
        if (!ValidateValue(element, depth + 1)) return false;
      }
      return true;
    }
    case od::json_type::string: {
      absl::string_view unused;
      return ValidateString(value, token, &unused);
    }
    case od::json_type::number:
      if (!IsJsonNumber(TrimTrailingSpace(token))) {
        return Fail(token.data(), absl::StrCat("invalid number '",
                                               Excerpt(token), "'"));
      }
      return true;
    case od::json_type::boolean: {
      absl::string_view literal = TrimTrailingSpace(token);
      if (literal != "true" && literal != "false") {
        return Fail(token.data(), absl::StrCat("invalid literal '",
                                               Excerpt(token), "'"));
      }
      return true;
    }
    case od::json_type::null:
      if (TrimTrailingSpace(token) != "null") {
        return Fail(token.data(), absl::StrCat("invalid literal '",
                                               Excerpt(token), "'"));
      }
      return true;
  }
  return Fail(token.data(), "unknown JSON type");
}

bool EventParser::Impl::DecodeDimension(od::value& value, bool is_id,
                                        absl::string_view* out) {
  const absl::string_view token(AsAbsl(value.raw_json_token()));
  od::json_type type;
  if (auto error = value.type().get(type)) {
    return FailSimdjson(token.data(), error);
  }
  switch (type) {
    case od::json_type::string:
      return ValidateString(value, token, out);
    case od::json_type::number: {
      absl::string_view number = TrimTrailingSpace(token);
      if (!IsJsonNumber(number)) {
        return Fail(token.data(), absl::StrCat("invalid number '",
                                               Excerpt(token), "'"));
      }
      *out = number;
      return true;
    }
    case od::json_type::boolean:
    case od::json_type::null: {
      if (!ValidateValue(value, 2)) return false;
      const absl::string_view literal = TrimTrailingSpace(token);
      *out = literal == "null" ? absl::string_view() : literal;
      return true;
    }
    case od::json_type::array:
      if (!ValidateValue(value, 2)) return false;
      break;
    case od::json_type::object: {
      od::object object;
      if (auto error = value.get_object().get(object)) {
        return FailSimdjson(token.data(), error);
      }
      // Recognize {"$oid": "<string>"} while validating the members.
      int members = 0;
      bool is_oid = false;
      absl::string_view oid;
      for (auto field_result : object) {
        od::field field;
        if (auto error = std::move(field_result).get(field)) {
          return FailSimdjson(nullptr, error);
        }
        ++members;
        const char* key = field.key().raw();
        const char* p = key;
        while (*p != '"' && *p != '\\') ++p;
        absl::string_view key_text(key, p - key);
        if (*p == '\\') {
          std::string_view unescaped;
          if (auto error = field.unescaped_key().get(unescaped)) {
            return FailSimdjson(key, error);
          }
          key_text = absl::string_view(unescaped.data(), unescaped.size());
        }
        od::value& member = field.value();
        const absl::string_view member_token(AsAbsl(member.raw_json_token()));
        if (members == 1 && is_id && key_text == "$oid" &&
            !member_token.empty() && member_token[0] == '"') {
          if (!ValidateString(member, member_token, &oid)) return false;
          is_oid = true;
        } else if (!ValidateValue(member, 3)) {
          return false;
        }
      }
      if (members == 1 && is_oid) {
        *out = oid;
        return true;
      }
      break;
    }
  }
  // An object or array: its text as written, from its opening bracket up to
  // the next token (the ',' or '}' that follows it in the root object).
  const char* end = nullptr;
  if (auto error = value.current_location().get(end)) {
    return FailSimdjson(token.data(), error);
  }
  *out = TrimTrailingSpace(absl::string_view(token.data(), end - token.data()));
  return true;
}

Invalid EventParser::Impl::ClassifyNonObject(absl::string_view payload) {
  if (dom_parser == nullptr) {
    dom_parser = std::make_unique<simdjson::dom::parser>();
  }
  simdjson::dom::element root;
  auto error = dom_parser->parse(payload.data(), payload.size(), false).get(root);
  if (error) {
    FailSimdjson(nullptr, error);
    return Invalid::kNotJson;
  }
  error_detail = "document: the record is valid JSON but not an object";
  return Invalid::kNotObject;
}

Invalid EventParser::Impl::Parse(absl::string_view payload, Event* event) {
  *event = Event();
  error_detail.clear();
  replaced.clear();
  payload_begin = payload.data();
  payload_size = payload.size();
  document = nullptr;
  current_field = kFieldOther;

  od::document doc;
  auto error =
      parser
          .iterate(simdjson::padded_string_view(
              payload.data(), payload.size(), payload.size() + kPadding))
          .get(doc);
  if (error) {
    FailSimdjson(nullptr, error);
    return Invalid::kNotJson;
  }
  document = &doc;
  struct ForgetDocument {
    od::document** slot;
    ~ForgetDocument() { *slot = nullptr; }
  } forget_document{&document};
  od::json_type root_type;
  if (auto type_error = doc.type().get(root_type)) {
    FailSimdjson(payload.data(), type_error);
    return Invalid::kNotJson;
  }
  if (root_type != od::json_type::object) return ClassifyNonObject(payload);

  od::object object;
  if (auto object_error = doc.get_object().get(object)) {
    FailSimdjson(payload.data(), object_error);
    return Invalid::kNotJson;
  }

  uint32_t seen = 0;
  // local_time is judged only after the whole document is known to be JSON,
  // so that the reason does not depend on field order.
  Invalid time_reason = Invalid::kMissingLocalTime;
  std::string time_detail;
  absl::string_view* const dimension_slot[] = {
      &event->id,        &event->product_id,  &event->store_id,
      &event->referrer_url, &event->device_id, &event->current_url,
      &event->user_agent};

  for (auto field_result : object) {
    current_field = kFieldOther;
    od::field field;
    if (auto field_error = std::move(field_result).get(field)) {
      FailSimdjson(nullptr, field_error);
      return Invalid::kNotJson;
    }
    const char* key = field.key().raw();
    const char* p = key;
    while (*p != '"' && *p != '\\') ++p;
    absl::string_view key_text(key, p - key);
    if (*p == '\\') {
      std::string_view unescaped;
      if (auto key_error = field.unescaped_key().get(unescaped)) {
        FailSimdjson(key, key_error);
        return Invalid::kNotJson;
      }
      key_text = absl::string_view(unescaped.data(), unescaped.size());
    }
    Field which = FieldOfKey(key_text);
    if (which != kFieldOther && (seen & (1u << which)) != 0) {
      which = kFieldOther;  // a duplicate: validate, ignore
    }
    current_field = which;
    od::value& value = field.value();
    switch (which) {
      case kFieldOther:
        if (!ValidateValue(value, 2)) return Invalid::kNotJson;
        break;
      case kFieldLocalTime: {
        const absl::string_view token(AsAbsl(value.raw_json_token()));
        if (!token.empty() && token[0] == '"') {
          absl::string_view text;
          if (!ValidateString(value, token, &text)) return Invalid::kNotJson;
          if (ParseLocalTime(text, &event->local_time)) {
            time_reason = Invalid::kOk;
          } else {
            time_reason = Invalid::kBadLocalTime;
            time_detail = absl::StrCat("local_time: '", Excerpt(text),
                                       "' is not a valid date and time "
                                       "(YYYY-MM-DD HH:MM:SS)");
          }
        } else {
          if (!ValidateValue(value, 2)) return Invalid::kNotJson;
          if (TrimTrailingSpace(token) == "null") {
            time_reason = Invalid::kMissingLocalTime;
          } else {
            time_reason = Invalid::kBadLocalTime;
            time_detail = absl::StrCat("local_time: '", Excerpt(token),
                                       "' is not a string");
          }
        }
        break;
      }
      case kFieldTimeStamp: {
        const absl::string_view token(AsAbsl(value.raw_json_token()));
        absl::string_view text;
        if (!token.empty() && token[0] == '"') {
          if (!ValidateString(value, token, &text)) return Invalid::kNotJson;
        } else {
          if (!ValidateValue(value, 2)) return Invalid::kNotJson;
          text = TrimTrailingSpace(token);
        }
        event->has_time_stamp = absl::SimpleAtoi(text, &event->time_stamp);
        // SimpleAtoi accepts surrounding spaces and '+'; a timestamp is digits.
        if (event->has_time_stamp &&
            (text.empty() || !(IsDigit(text[0]) || text[0] == '-') ||
             !IsDigit(text.back()))) {
          event->has_time_stamp = false;
        }
        if (!event->has_time_stamp) event->time_stamp = 0;
        break;
      }
      default:
        if (!DecodeDimension(value, IsIdField(which),
                             dimension_slot[which])) {
          return Invalid::kNotJson;
        }
        break;
    }
    if (which != kFieldOther) seen |= 1u << which;
  }
  current_field = kFieldOther;

  // The root object is consumed; anything after it is not JSON.
  const char* trailing = nullptr;
  const auto location_error = doc.current_location().get(trailing);
  if (location_error == simdjson::SUCCESS) {
    Fail(trailing, "content after the end of the object");
    return Invalid::kNotJson;
  }
  if (location_error != simdjson::OUT_OF_BOUNDS) {
    FailSimdjson(nullptr, location_error);
    return Invalid::kNotJson;
  }

  if (time_reason != Invalid::kOk) {
    error_detail = time_reason == Invalid::kMissingLocalTime
                       ? std::string("local_time: missing or null")
                       : std::move(time_detail);
    return time_reason;
  }
  event->day = star::DayFromUnixSeconds(event->local_time);
  return Invalid::kOk;
}

EventParser::EventParser() : impl_(std::make_unique<Impl>()) {}
EventParser::~EventParser() = default;

Invalid EventParser::Parse(absl::string_view payload, Event* event) {
  return impl_->Parse(payload, event);
}

absl::string_view EventParser::error_detail() const {
  return impl_->error_detail;
}

}  // namespace pv::event
