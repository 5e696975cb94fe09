// RawStore: where consume also writes every record it takes from Kafka (the
// MongoDB raw store with --mongo), behind an interface so that the
// exactly-once segment logic (kafka_segment_sink.h) is tested without a
// database.
#ifndef PV_INGEST_RAW_STORE_H_
#define PV_INGEST_RAW_STORE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pv::ingest {

class RawStore {
 public:
  virtual ~RawStore() = default;
  // Takes one record; may buffer it. Replays of a record must be harmless
  // (the store keys records by their Kafka coordinate).
  virtual absl::Status Add(absl::string_view topic, int32_t partition, int64_t offset,
                           absl::string_view payload) = 0;
  // Writes what is buffered. Called before every segment is published.
  virtual absl::Status Flush() = 0;
};

}  // namespace pv::ingest

#endif  // PV_INGEST_RAW_STORE_H_
