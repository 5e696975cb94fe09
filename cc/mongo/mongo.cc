#include "cc/mongo/mongo.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/common/config.h"
#include "cc/common/status.h"

namespace pv::mongo {
namespace {

bool IsDuplicateKeyCode(int64_t code) {
  return code == 11000 || code == 11001 || code == 12582;
}

absl::StatusCode CodeForError(const bson_error_t& e) {
  if (e.domain == MONGOC_ERROR_SERVER_SELECTION || e.domain == MONGOC_ERROR_STREAM) {
    return absl::StatusCode::kUnavailable;
  }
  if (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_AUTHENTICATE) {
    return absl::StatusCode::kUnauthenticated;
  }
  if (e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_WRITE_CONCERN) {
    switch (e.code) {
      case 18:  // AuthenticationFailed
        return absl::StatusCode::kUnauthenticated;
      case 13:  // Unauthorized
        return absl::StatusCode::kPermissionDenied;
      case 26:  // NamespaceNotFound
        return absl::StatusCode::kNotFound;
      case 11000:
      case 11001:
        return absl::StatusCode::kAlreadyExists;
      case 50:  // MaxTimeMSExpired
        return absl::StatusCode::kDeadlineExceeded;
      default:
        return absl::StatusCode::kInternal;
    }
  }
  if (e.domain == MONGOC_ERROR_BSON || e.domain == MONGOC_ERROR_COMMAND ||
      (e.domain == MONGOC_ERROR_CLIENT && e.code == MONGOC_ERROR_CLIENT_TOO_BIG)) {
    return absl::StatusCode::kInvalidArgument;
  }
  return absl::StatusCode::kInternal;
}

absl::Status ErrorStatus(const bson_error_t& e, absl::string_view context) {
  return absl::Status(CodeForError(e), absl::StrCat(context, ": ", e.message, " (domain ",
                                                    e.domain, ", code ", e.code, ")"));
}

// Parses `json` (empty means {}) for a command argument named `what`.
absl::StatusOr<Document> ParseJson(absl::string_view json, absl::string_view what) {
  if (json.empty()) return Document();
  absl::StatusOr<Document> doc = Document::FromJson(json);
  if (!doc.ok()) return pv::Annotate(doc.status(), what);
  return doc;
}

// Owned bson_t on the stack for replies: bson_init'ed, always destroyed.
class Reply {
 public:
  Reply() { bson_init(&b_); }
  ~Reply() { bson_destroy(&b_); }
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  bson_t* get() { return &b_; }

  int64_t Int(const char* key) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, &b_, key) && BSON_ITER_HOLDS_NUMBER(&it)) {
      return bson_iter_as_int64(&it);
    }
    return 0;
  }

 private:
  bson_t b_;
};

std::string Utf8Field(const bson_iter_t* parent, const char* key) {
  bson_iter_t child;
  if (bson_iter_recurse(parent, &child) && bson_iter_find(&child, key) &&
      BSON_ITER_HOLDS_UTF8(&child)) {
    return bson_iter_utf8(&child, nullptr);
  }
  return "";
}

int64_t IntField(const bson_iter_t* parent, const char* key, int64_t fallback) {
  bson_iter_t child;
  if (bson_iter_recurse(parent, &child) && bson_iter_find(&child, key) &&
      BSON_ITER_HOLDS_NUMBER(&child)) {
    return bson_iter_as_int64(&child);
  }
  return fallback;
}

}  // namespace

void EnsureInitialized() {
  static std::once_flag once;
  std::call_once(once, [] {
    mongoc_init();
    std::atexit(mongoc_cleanup);
  });
}

// ---------------------------------------------------------------------------
// Document

Document::Document() : b_(bson_new()) {}
Document::~Document() {
  if (b_ != nullptr) bson_destroy(b_);
}
Document::Document(Document&& other) noexcept : b_(std::exchange(other.b_, nullptr)) {}
Document& Document::operator=(Document&& other) noexcept {
  if (this != &other) {
    if (b_ != nullptr) bson_destroy(b_);
    b_ = std::exchange(other.b_, nullptr);
  }
  return *this;
}

absl::StatusOr<Document> Document::FromJson(absl::string_view json) {
  bson_error_t error;
  bson_t* b = bson_new_from_json(reinterpret_cast<const uint8_t*>(json.data()),
                                 static_cast<ssize_t>(json.size()), &error);
  if (b == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("invalid extended JSON: ", error.message));
  }
  Document d;
  bson_destroy(d.b_);
  d.b_ = b;
  return d;
}

Document Document::Copy(const bson_t* b) {
  Document d;
  bson_destroy(d.b_);
  d.b_ = bson_copy(b);
  return d;
}

std::string RelaxedJson(const bson_t* b) {
  size_t len = 0;
  char* s = bson_as_relaxed_extended_json(b, &len);
  std::string out = s == nullptr ? std::string() : std::string(s, len);
  bson_free(s);
  return out;
}

std::string CanonicalJson(const bson_t* b) {
  size_t len = 0;
  char* s = bson_as_canonical_extended_json(b, &len);
  std::string out = s == nullptr ? std::string() : std::string(s, len);
  bson_free(s);
  return out;
}

std::string Document::RelaxedJson() const { return mongo::RelaxedJson(b_); }
std::string Document::CanonicalJson() const { return mongo::CanonicalJson(b_); }

// ---------------------------------------------------------------------------
// Cursor

Cursor::~Cursor() {
  if (c_ != nullptr) mongoc_cursor_destroy(c_);
}
Cursor::Cursor(Cursor&& other) noexcept
    : c_(std::exchange(other.c_, nullptr)), name_(std::move(other.name_)) {}
Cursor& Cursor::operator=(Cursor&& other) noexcept {
  if (this != &other) {
    if (c_ != nullptr) mongoc_cursor_destroy(c_);
    c_ = std::exchange(other.c_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

absl::StatusOr<bool> Cursor::Next(const bson_t** doc) {
  if (mongoc_cursor_next(c_, doc)) return true;
  bson_error_t error;
  if (mongoc_cursor_error(c_, &error)) return ErrorStatus(error, absl::StrCat("find on ", name_));
  return false;
}

// ---------------------------------------------------------------------------
// Collection

Collection::~Collection() {
  if (c_ != nullptr) mongoc_collection_destroy(c_);
}
Collection::Collection(Collection&& other) noexcept
    : c_(std::exchange(other.c_, nullptr)), name_(std::move(other.name_)) {}
Collection& Collection::operator=(Collection&& other) noexcept {
  if (this != &other) {
    if (c_ != nullptr) mongoc_collection_destroy(c_);
    c_ = std::exchange(other.c_, nullptr);
    name_ = std::move(other.name_);
  }
  return *this;
}

absl::StatusOr<InsertManyResult> Collection::InsertMany(const std::vector<Document>& docs) {
  auto ptrs = std::make_unique<const bson_t*[]>(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) ptrs[i] = docs[i].get();
  return InsertMany(ptrs.get(), docs.size());
}

absl::StatusOr<InsertManyResult> Collection::InsertMany(const bson_t* const* docs,
                                                        size_t count) {
  InsertManyResult result;
  if (count == 0) return result;
  bson_t* opts = BCON_NEW("ordered", BCON_BOOL(false));
  Reply reply;
  bson_error_t error;
  const bool ok = mongoc_collection_insert_many(
      c_, const_cast<const bson_t**>(docs), count, opts, reply.get(), &error);
  bson_destroy(opts);
  result.inserted = reply.Int("insertedCount");
  if (ok) return result;

  bool saw_write_errors = false;
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply.get(), "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t item;
    bson_iter_recurse(&it, &item);
    while (bson_iter_next(&item)) {
      saw_write_errors = true;
      const int64_t code = IntField(&item, "code", 0);
      const int64_t index = IntField(&item, "index", -1);
      if (IsDuplicateKeyCode(code) && index >= 0) {
        result.duplicate_indexes.push_back(static_cast<size_t>(index));
        continue;
      }
      bson_error_t e{};
      e.domain = MONGOC_ERROR_SERVER;
      e.code = static_cast<uint32_t>(code);
      bson_strncpy(e.message, Utf8Field(&item, "errmsg").c_str(), sizeof(e.message));
      return ErrorStatus(e, absl::StrCat("insert into ", name_, ": document ", index, " of ", count));
    }
  }
  if (bson_iter_init_find(&it, reply.get(), "writeConcernErrors") &&
      BSON_ITER_HOLDS_ARRAY(&it)) {
    bson_iter_t item;
    bson_iter_recurse(&it, &item);
    if (bson_iter_next(&item)) {
      return absl::UnavailableError(
          absl::StrCat("insert into ", name_, ": write concern error ",
                       IntField(&item, "code", 0), ": ", Utf8Field(&item, "errmsg")));
    }
  }
  if (!saw_write_errors) {
    // Not a per-document failure: network, validation, server selection.
    return ErrorStatus(error, absl::StrCat("insert of ", count, " documents into ", name_));
  }
  return result;
}

absl::StatusOr<int64_t> Collection::Count(absl::string_view filter_json) {
  PV_ASSIGN_OR_RETURN(Document filter, ParseJson(filter_json, "count filter"));
  bson_error_t error;
  const int64_t n =
      mongoc_collection_count_documents(c_, filter.get(), nullptr, nullptr, nullptr, &error);
  if (n < 0) return ErrorStatus(error, absl::StrCat("count on ", name_));
  return n;
}

absl::StatusOr<int64_t> Collection::EstimatedCount() {
  bson_error_t error;
  const int64_t n =
      mongoc_collection_estimated_document_count(c_, nullptr, nullptr, nullptr, &error);
  if (n < 0) return ErrorStatus(error, absl::StrCat("estimated count on ", name_));
  return n;
}

absl::StatusOr<Cursor> Collection::Find(absl::string_view filter_json,
                                        const FindOptions& options) {
  PV_ASSIGN_OR_RETURN(Document filter, ParseJson(filter_json, "find filter"));
  Document opts;
  if (options.batch_size > 0) BSON_APPEND_INT32(opts.mutable_get(), "batchSize", options.batch_size);
  if (options.limit > 0) BSON_APPEND_INT64(opts.mutable_get(), "limit", options.limit);
  if (!options.sort_json.empty()) {
    PV_ASSIGN_OR_RETURN(Document sort, ParseJson(options.sort_json, "find sort"));
    BSON_APPEND_DOCUMENT(opts.mutable_get(), "sort", sort.get());
  }
  mongoc_cursor_t* c = mongoc_collection_find_with_opts(c_, filter.get(), opts.get(), nullptr);
  Cursor cursor(c, name_);
  // Bad options show up here rather than at the first Next().
  bson_error_t error;
  if (mongoc_cursor_error(c, &error)) return ErrorStatus(error, absl::StrCat("find on ", name_));
  return cursor;
}

absl::StatusOr<int64_t> Collection::DeleteMany(absl::string_view filter_json) {
  PV_ASSIGN_OR_RETURN(Document filter, ParseJson(filter_json, "delete filter"));
  Reply reply;
  bson_error_t error;
  if (!mongoc_collection_delete_many(c_, filter.get(), nullptr, reply.get(), &error)) {
    return ErrorStatus(error, absl::StrCat("delete from ", name_));
  }
  return reply.Int("deletedCount");
}

absl::Status Collection::CreateIndex(absl::string_view keys_json, absl::string_view name,
                                     bool unique) {
  PV_ASSIGN_OR_RETURN(Document keys, ParseJson(keys_json, "index keys"));
  const std::string index_name(name);
  bson_t* cmd = BCON_NEW("createIndexes", BCON_UTF8(mongoc_collection_get_name(c_)),
                         "indexes", "[", "{", "key", BCON_DOCUMENT(keys.get()), "name",
                         BCON_UTF8(index_name.c_str()), "unique", BCON_BOOL(unique), "}",
                         "]");
  Reply reply;
  bson_error_t error;
  const bool ok = mongoc_collection_write_command_with_opts(c_, cmd, nullptr, reply.get(), &error);
  bson_destroy(cmd);
  if (!ok) return ErrorStatus(error, absl::StrCat("create index ", name, " on ", name_));
  return absl::OkStatus();
}

absl::Status Collection::Drop() {
  bson_error_t error;
  if (mongoc_collection_drop_with_opts(c_, nullptr, &error)) return absl::OkStatus();
  // "ns not found": nothing to drop.
  if (error.code == 26 || absl::string_view(error.message).find("ns not found") !=
                              absl::string_view::npos) {
    return absl::OkStatus();
  }
  return ErrorStatus(error, absl::StrCat("drop ", name_));
}

// ---------------------------------------------------------------------------
// MongoClient

absl::StatusOr<std::unique_ptr<MongoClient>> MongoClient::Connect(absl::string_view uri_text,
                                                                  absl::Duration timeout) {
  EnsureInitialized();
  const std::string text(uri_text);
  const std::string redacted = RedactSecrets(text);
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(text.c_str(), &error);
  if (uri == nullptr) {
    // libmongoc's message may quote the URI: give only the redacted one.
    return absl::InvalidArgumentError(absl::StrCat("invalid MongoDB URI ", redacted));
  }
  if (!mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(
        uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
        static_cast<int32_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout))));
  }
  if (!mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS)) {
    mongoc_uri_set_option_as_int32(
        uri, MONGOC_URI_CONNECTTIMEOUTMS,
        static_cast<int32_t>(std::max<int64_t>(1, absl::ToInt64Milliseconds(timeout))));
  }
  if (mongoc_uri_get_appname(uri) == nullptr) mongoc_uri_set_appname(uri, "pv");
  mongoc_client_t* c = mongoc_client_new_from_uri_with_error(uri, &error);
  mongoc_uri_destroy(uri);
  if (c == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("MongoDB client for ", redacted, ": ", error.message));
  }
  mongoc_client_set_error_api(c, MONGOC_ERROR_API_VERSION_2);
  std::unique_ptr<MongoClient> client(new MongoClient(c, redacted));
  PV_RETURN_IF_ERROR(client->Ping());
  return client;
}

MongoClient::~MongoClient() {
  if (client_ != nullptr) mongoc_client_destroy(client_);
}

absl::Status MongoClient::Ping() {
  bson_t* cmd = BCON_NEW("ping", BCON_INT32(1));
  Reply reply;
  bson_error_t error;
  const bool ok = mongoc_client_command_simple(client_, "admin", cmd, nullptr, reply.get(), &error);
  bson_destroy(cmd);
  if (!ok) return ErrorStatus(error, absl::StrCat("ping MongoDB at ", redacted_uri_));
  return absl::OkStatus();
}

Collection MongoClient::GetCollection(absl::string_view db, absl::string_view collection) {
  const std::string d(db), c(collection);
  return Collection(mongoc_client_get_collection(client_, d.c_str(), c.c_str()),
                    absl::StrCat(d, ".", c));
}

}  // namespace pv::mongo
