// Extraction of the warehouse's fields from one raw clickstream event.
//
// A raw event is the untouched Kafka message value (or MongoDB export): a JSON
// object shaped like the Glamira feed (see DESIGN.md "Events"). EventParser
// validates it and pulls out the dimension fields as the text they decode to,
// plus `local_time`, which every fact needs. It is built on simdjson
// On-Demand and visits the object once.
//
//   pv::event::EventParser parser;          // one per thread
//   pv::event::Event event;
//   // `buffer` holds the payload followed by >= kPadding readable bytes.
//   pv::event::Invalid reason = parser.Parse(payload, &event);
//   if (reason != pv::event::Invalid::kOk) {
//     Quarantine(payload, pv::event::InvalidName(reason), parser.error_detail());
//   } else {
//     Aggregate(event.day, event.product_id, ...);
//   }
//
// Decoding rules (what a dimension value "is"):
//  - a string is unescaped (`"https:\/\/x"` -> `https://x`, `\u00e9` -> é,
//    surrogate pairs -> one code point), except that `\u0000` decodes to
//    U+FFFD (the replacement character): PostgreSQL text cannot hold NUL,
//    and every other decoded string is storable as it is (valid UTF-8, no
//    NUL: raw control characters and lone surrogates are invalid JSON);
//  - a number is its JSON token exactly as written (`123`, `12.50`, `1e3`), so
//    the product 123 and the product "123" are one product;
//  - true / false -> "true" / "false";
//  - {"$oid": "abc"} (an object whose only member is "$oid" with a string
//    value) -> "abc", for every id field (`_id`, `product_id`, `store_id`,
//    `device_id`);
//  - any other object or array -> its JSON text as written (not reformatted);
//  - null, "" and a missing field -> empty, the Unknown member.
//
// Validation (which records are invalid, and why):
//  - not valid JSON -> kNotJson. This includes invalid UTF-8 anywhere in the
//    payload, invalid string escapes (also lone surrogates), malformed
//    literals or numbers in any field (also fields the warehouse ignores),
//    trailing content after the object (`{"a":1} xyz`), an empty payload, and
//    nesting deeper than kMaxNesting levels (a limit of ours, far above the
//    3 levels real events use), and raw control characters (below 0x20)
//    inside strings, which JSON requires to be escaped.
//  - valid JSON whose root is not an object (array, string, number, ...) ->
//    kNotObject.
//  - `local_time` missing or null -> kMissingLocalTime; any other value that
//    is not a string in one of the two accepted formats (wrong type, "",
//    malformed text, impossible date) -> kBadLocalTime.
//  JSON errors take precedence over local_time errors: a record with both is
//  kNotJson.
//  - Duplicate keys: the first occurrence of a field wins; later ones are
//    validated and ignored.
//  - Keys are compared after unescaping ("product\u005fid" is product_id).
#ifndef PV_EVENT_EVENT_H_
#define PV_EVENT_EVENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"

namespace pv::event {

// The caller guarantees that payload.data()[size .. size + kPadding) is
// readable memory (its content does not matter): simdjson reads ahead in
// SIMD-wide loads. Segment readers allocate their blocks with this slack.
inline constexpr size_t kPadding = 64;

// Deepest nesting of arrays/objects accepted, counting the root object as 1.
inline constexpr int kMaxNesting = 64;

// Why a record cannot be used. Values are stable (they index counters).
enum class Invalid : uint8_t {
  kOk = 0,
  kNotJson,
  kNotObject,
  kMissingLocalTime,
  kBadLocalTime,
  kCount,
};

// "ok", "not_json", "not_object", "missing_local_time", "bad_local_time"; the
// names used in counters and quarantine files.
absl::string_view InvalidName(Invalid reason);

// The fields of one valid event the warehouse uses.
//
// The string views point either into the payload passed to Parse() or into
// the parser's internal buffers: they stay valid until the next Parse() on the
// same parser, and no longer than the payload itself.
struct Event {
  int64_t local_time = 0;  // Unix seconds; local_time is a naive timestamp read as UTC
  int32_t day = 0;         // days since 1970-01-01 of local_time (floor)
  // Decoded UTF-8 text of each dimension field. Empty means Unknown (null, "",
  // missing). `id` is the record's `_id`.
  absl::string_view id, product_id, store_id, referrer_url, device_id,
      current_url, user_agent;
  // `time_stamp` when it is an integer JSON number or a string holding a
  // decimal integer (Unix seconds); otherwise has_time_stamp is false.
  int64_t time_stamp = 0;
  bool has_time_stamp = false;
};

// Parses raw events. One per thread: not thread-safe. Internal buffers grow
// to the largest payload seen and are reused, so steady-state parsing does not
// allocate (except to format error_detail() for invalid records).
class EventParser {
 public:
  EventParser();
  ~EventParser();
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Parses `payload` into `*event`. Returns kOk or the reason the record is
  // invalid; when invalid, `*event` holds no meaningful values.
  // REQUIRES: payload.data()[payload.size() .. + kPadding) is readable.
  Invalid Parse(absl::string_view payload, Event* event);

  // After an invalid Parse(): where and why, e.g. "local_time: '2024-13-01
  // 00:00:00' is not a valid date and time" or "byte 57 (field
  // 'product_id'): invalid number". Empty after kOk. Valid until the next
  // Parse(). Quotes at most a short excerpt of the payload.
  absl::string_view error_detail() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Parses "YYYY-MM-DD HH:MM:SS" or "YYYY-MM-DDTHH:MM:SS" (exactly 19 chars) as
// UTC into Unix seconds. False if malformed or out of range: year 0001-9999,
// month 1-12, day valid for the month (leap years included), hour 0-23,
// minute 0-59, second 0-59. No time-zone database is involved; the day of
// the result is cc/star/calendar.h's DayFromUnixSeconds.
bool ParseLocalTime(absl::string_view text, int64_t* unix_seconds);

}  // namespace pv::event

#endif  // PV_EVENT_EVENT_H_
