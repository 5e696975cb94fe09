// Deterministic generator of Glamira-like clickstream events (NDJSON records).
//
// Used by the datagen tool, by tests that need realistic input, and by
// benchmarks that generate their workload in-process. The sequence of
// records is a pure function of GeneratorOptions (seed included): the same
// options give the same bytes on every machine and every run.
//
//   pv::datagen::GeneratorOptions options;
//   options.events = 1000;
//   pv::datagen::EventGenerator generator(options);
//   std::string record;
//   while (generator.remaining() > 0) {
//     record.clear();
//     pv::datagen::RecordKind kind = generator.AppendNext(&record);
//     ...
//   }
//
// Shape: ~20 fields as the Glamira feed has them (`_id` as {"$oid": ...},
// time_stamp, ip, user_agent, resolution, user_id_db, device_id, api_version,
// store_id, local_time, current_url, referrer_url, email_address, collection,
// product_id, option [...], ...), about 800 bytes on average. local_time runs
// from start_day 00:00:00 to the end of the span in record order (with a few
// minutes of jitter); time_stamp is local_time minus the storefront's UTC
// offset. Popularity of products, storefronts and referrers is Zipf-like.
//
// A fraction of records is deliberately messy (valid, but with numbers for
// ids, null/empty/missing fields, \/ and \u escapes, non-ASCII and very long
// URLs) or invalid in one of the ways pv::event::Invalid names. Each record's
// kind is drawn independently with the configured rates.
#ifndef PV_TOOLS_DATAGEN_GENERATOR_H_
#define PV_TOOLS_DATAGEN_GENERATOR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pv::datagen {

struct GeneratorOptions {
  uint64_t seed = 42;
  int64_t events = 100000;
  int32_t start_day = 18414;  // days since 1970-01-01; 2020-06-01
  int32_t days = 1;           // local_time spans [start_day, start_day + days)
  int32_t products = 20000;   // Zipf popularity, s = 1.1
  int64_t devices = 0;        // 0: 300,000 per 1,000,000 events (at least 100)
  int32_t referrers = 30000;  // distinct non-empty referrer URLs
  int32_t stores = 40;        // storefronts (store_id and current_url domain)
  // Probability of each kind of record; 0 disables a kind. The four invalid
  // kinds plus messy must sum to at most 1; the rest is clean.
  double rate_not_json = 0.001;
  double rate_not_object = 0.001;
  double rate_bad_time = 0.001;
  double rate_missing_time = 0.001;
  double rate_messy = 0.05;
};

// InvalidArgument naming the first option out of range.
absl::Status ValidateOptions(const GeneratorOptions& options);

// What the generator meant a record to be. The invalid kinds correspond to
// pv::event::Invalid (kNotJson -> kNotJson, ..., kMissingTime ->
// kMissingLocalTime); clean and messy records are valid events.
enum class RecordKind : uint8_t {
  kClean = 0,
  kMessy,
  kNotJson,
  kNotObject,
  kBadTime,
  kMissingTime,
  kCount,
};

// "clean", "messy", "not_json", "not_object", "bad_time", "missing_time".
absl::string_view RecordKindName(RecordKind kind);

// Produces the records of one GeneratorOptions. Not thread-safe; create one
// per thread (with different seeds) for parallel generation.
class EventGenerator {
 public:
  // REQUIRES: ValidateOptions(options).ok()
  explicit EventGenerator(const GeneratorOptions& options);
  ~EventGenerator();
  EventGenerator(const EventGenerator&) = delete;
  EventGenerator& operator=(const EventGenerator&) = delete;

  // Appends the next record (without a newline) to `*out` and returns its
  // kind. Records never contain a raw newline, so NDJSON framing holds.
  // REQUIRES: remaining() > 0
  RecordKind AppendNext(std::string* out);

  // Records not yet generated (options.events - records generated so far).
  int64_t remaining() const;

 private:
  struct Pools;
  GeneratorOptions options_;
  std::unique_ptr<Pools> pools_;
  int64_t next_index_ = 0;
  uint64_t rng_[4];  // xoshiro256** state
};

}  // namespace pv::datagen

#endif  // PV_TOOLS_DATAGEN_GENERATOR_H_
