// How Kafka records are stored in the MongoDB raw store (consume --mongo) and
// turned back into event payloads (mongo_export).
//
// Raw-store document of the Kafka record at (topic, partition, offset):
//
//   payload is a JSON object that MongoDB accepts as a document:
//     { "_id": "<topic>:<partition>:<offset>",
//       "_source_id": <the event's own _id, or null when it has none>,
//       ...every other field of the event, in order... }
//   anything else (not JSON, not an object, invalid UTF-8, keys MongoDB
//   refuses such as "$x" or "a.b", an event with its own "_source_id" field):
//     { "_id": "<topic>:<partition>:<offset>", "raw": "<payload text>" }
//     (BSON binary instead of a string when the bytes are not UTF-8)
//
// The _id is a function of the Kafka coordinate, so replaying a partition
// inserts only duplicate keys, which the sink counts and ignores: the
// collection holds each record once. (The seed inserted the JSON as-is, with
// the event's own _id, which made replays fail or duplicate.)
//
// ExportRecord inverts this: a "_source_id" document becomes the event again
// (its _id restored from _source_id, first), a "raw" document gives back the
// raw bytes, and a document of any other shape (e.g. loaded by the seed) is
// exported whole. Payloads are relaxed extended JSON, so an ObjectId _id
// reads {"$oid": "..."}, which the EventParser decodes to the same text.
// Numbers go through BSON: integers and plain decimals come back as written
// ("12.5"), but a non-canonical token does not ("12.50" -> "12.5", "1e3" ->
// "1000.0"): the dimension text of such a field may differ between the Kafka
// and the MongoDB path.
#ifndef PV_INGEST_MONGO_RECORDS_H_
#define PV_INGEST_MONGO_RECORDS_H_

#include <cstdint>
#include <string>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/ingest/raw_store.h"
#include "cc/mongo/mongo.h"

namespace pv::ingest {

// "<topic>:<partition>:<offset>".
std::string KafkaRecordId(absl::string_view topic, int32_t partition, int64_t offset);

// The raw-store document of one Kafka payload (see above). `raw` (if not
// null) is set when the payload was stored under "raw".
mongo::Document RawStoreDocument(absl::string_view id, absl::string_view payload,
                                 bool* raw = nullptr);

// One exported document.
struct ExportedRecord {
  std::string source_id;  // the document's _id as text: a string as is,
                          // an ObjectId as 24 hex digits, others as JSON
  std::string id_json;    // canonical extended JSON {"_id": <value>}: typed,
                          // for resuming after this document
  std::string payload;    // the event, as described above
};

// Errors (InvalidArgument) for a document without _id.
absl::StatusOr<ExportedRecord> ExportRecord(const bson_t* doc);

// The filter {"_id": {"$gt": <value>}} for the _id held by `id_json` (as
// ExportedRecord::id_json), as canonical extended JSON.
absl::StatusOr<std::string> AfterIdFilter(absl::string_view id_json);

// The raw store of consume --mongo: RawStoreDocument()s inserted in
// unordered batches of `batch` documents; duplicate keys (a replay) are
// counted, not errors. One thread.
class MongoRawStore : public RawStore {
 public:
  MongoRawStore(std::unique_ptr<mongo::MongoClient> client, const std::string& db,
                const std::string& collection, size_t batch);

  absl::Status Add(absl::string_view topic, int32_t partition, int64_t offset,
                   absl::string_view payload) override;
  absl::Status Flush() override;

  int64_t inserted() const { return inserted_; }
  int64_t duplicates() const { return duplicates_; }
  int64_t raw() const { return raw_; }  // stored as {_id, raw}
  int64_t errors() const { return errors_; }  // failed batch inserts
  const std::string& name() const { return collection_.full_name(); }

 private:
  std::unique_ptr<mongo::MongoClient> client_;
  mongo::Collection collection_;
  size_t batch_;
  std::vector<mongo::Document> docs_;
  int64_t inserted_ = 0, duplicates_ = 0, raw_ = 0, errors_ = 0;
};

}  // namespace pv::ingest

#endif  // PV_INGEST_MONGO_RECORDS_H_
