// Thin RAII adapters over libmongoc/libbson 1.23 for the raw-event store.
//
//   PV_ASSIGN_OR_RETURN(auto client, pv::mongo::MongoClient::Connect(uri));
//   pv::mongo::Collection events = client->GetCollection("glamira", "events");
//   PV_ASSIGN_OR_RETURN(auto result, events.InsertMany(docs));  // unordered
//
// Errors are absl::Status naming database.collection and, for writes, the
// document index. Connection strings are never echoed with their password.
// A MongoClient and everything obtained from it are for one thread at a time
// (libmongoc's single-threaded client); use one client per thread.
#ifndef PV_MONGO_MONGO_H_
#define PV_MONGO_MONGO_H_

#include <mongoc/mongoc.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace pv::mongo {

// Initializes libmongoc once per process (thread-safe); mongoc_cleanup runs
// at exit. Every entry point below calls it, so callers need not.
void EnsureInitialized();

// An owned BSON document. Movable, not copyable.
class Document {
 public:
  Document();  // empty document {}
  ~Document();
  Document(Document&& other) noexcept;
  Document& operator=(Document&& other) noexcept;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  // Parses (relaxed or canonical) extended JSON, e.g. R"({"_id": 1})".
  static absl::StatusOr<Document> FromJson(absl::string_view json);
  // Copies a borrowed bson_t.
  static Document Copy(const bson_t* b);

  const bson_t* get() const { return b_; }
  bson_t* mutable_get() { return b_; }
  std::string RelaxedJson() const;
  std::string CanonicalJson() const;

 private:
  bson_t* b_;
};

// Extended JSON of a borrowed document.
std::string RelaxedJson(const bson_t* b);
std::string CanonicalJson(const bson_t* b);

struct InsertManyResult {
  int64_t inserted = 0;
  // Indexes (into the input) of documents rejected as duplicate keys
  // (codes 11000/11001/12582): already stored, which an idempotent loader
  // counts rather than fails on.
  std::vector<size_t> duplicate_indexes;
};

struct FindOptions {
  int32_t batch_size = 0;  // 0: server default
  int64_t limit = 0;       // 0: no limit
  std::string sort_json;   // e.g. R"({"_id": 1})"; empty: natural order
};

// A server-side cursor; owns mongoc_cursor_t. Movable.
class Cursor {
 public:
  ~Cursor();
  Cursor(Cursor&& other) noexcept;
  Cursor& operator=(Cursor&& other) noexcept;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;

  // Next document in *doc (valid until the next call or destruction); false
  // at the end. Batches after the first come by getMore transparently.
  absl::StatusOr<bool> Next(const bson_t** doc);

 private:
  friend class Collection;
  Cursor(mongoc_cursor_t* c, std::string name) : c_(c), name_(std::move(name)) {}
  mongoc_cursor_t* c_;
  std::string name_;
};

// A collection handle; owns mongoc_collection_t and borrows the client,
// which must outlive it. Movable.
class Collection {
 public:
  ~Collection();
  Collection(Collection&& other) noexcept;
  Collection& operator=(Collection&& other) noexcept;
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  // Unordered insert of every document. Duplicate keys are reported in the
  // result; any other write error (or a write-concern error) is returned as
  // an error naming the first failing document index, code and message.
  // (bson_t is over-aligned, so borrowed documents come as a plain array:
  // std::vector<const bson_t*> draws -Wignored-attributes.)
  absl::StatusOr<InsertManyResult> InsertMany(const bson_t* const* docs, size_t count);
  absl::StatusOr<InsertManyResult> InsertMany(const std::vector<Document>& docs);

  // countDocuments with `filter_json` (empty: all): exact, but the server
  // reads every matching document (minutes for millions on FerretDB's
  // SQLite backend).
  absl::StatusOr<int64_t> Count(absl::string_view filter_json = "");
  // estimatedDocumentCount: the server's figure from collection metadata,
  // answered without a scan; may be off after an unclean shutdown.
  absl::StatusOr<int64_t> EstimatedCount();

  absl::StatusOr<Cursor> Find(absl::string_view filter_json = "",
                              const FindOptions& options = {});

  // Deletes matching documents; returns how many.
  absl::StatusOr<int64_t> DeleteMany(absl::string_view filter_json);

  // createIndexes for `keys_json` (e.g. R"({"product_id": 1})").
  absl::Status CreateIndex(absl::string_view keys_json, absl::string_view name,
                           bool unique);

  // Drops the collection; OK when it does not exist.
  absl::Status Drop();

  const std::string& full_name() const { return name_; }
  mongoc_collection_t* raw() const { return c_; }

 private:
  friend class MongoClient;
  Collection(mongoc_collection_t* c, std::string name) : c_(c), name_(std::move(name)) {}
  mongoc_collection_t* c_;
  std::string name_;  // "db.collection", for messages
};

// Owns a mongoc_client_t. Not movable (collections borrow it).
class MongoClient {
 public:
  // Parses `uri` and pings the server (within serverSelectionTimeoutMS,
  // which defaults here to `timeout`), so a wrong address fails now.
  static absl::StatusOr<std::unique_ptr<MongoClient>> Connect(
      absl::string_view uri, absl::Duration timeout = absl::Seconds(10));
  ~MongoClient();
  MongoClient(const MongoClient&) = delete;
  MongoClient& operator=(const MongoClient&) = delete;

  absl::Status Ping();
  Collection GetCollection(absl::string_view db, absl::string_view collection);

  mongoc_client_t* raw() const { return client_; }

 private:
  MongoClient(mongoc_client_t* c, std::string uri) : client_(c), redacted_uri_(std::move(uri)) {}
  mongoc_client_t* client_;
  std::string redacted_uri_;
};

}  // namespace pv::mongo

#endif  // PV_MONGO_MONGO_H_
