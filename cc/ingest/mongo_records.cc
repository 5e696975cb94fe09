#include "cc/ingest/mongo_records.h"

#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "cc/common/status.h"
#include "simdjson.h"

namespace pv::ingest {
namespace {

constexpr char kSourceIdField[] = "_source_id";
constexpr char kRawField[] = "raw";

// What libmongoc's insert checks by default; a document that fails it would
// fail the whole bulk on the client side.
constexpr bson_validate_flags_t kInsertValidation = static_cast<bson_validate_flags_t>(
    BSON_VALIDATE_UTF8 | BSON_VALIDATE_UTF8_ALLOW_NULL | BSON_VALIDATE_EMPTY_KEYS |
    BSON_VALIDATE_DOT_KEYS | BSON_VALIDATE_DOLLAR_KEYS);

struct BsonFree {
  void operator()(char* p) const { bson_free(p); }
};

std::string Owned(char* text) {
  std::unique_ptr<char, BsonFree> holder(text);
  return text == nullptr ? std::string() : std::string(text);
}

// Strict JSON check (whole input, UTF-8, no trailing bytes) with an object
// root. libbson's own JSON reader is more lenient than the EventParser, and a
// record both paths must judge alike has to be refused here first.
bool IsJsonObject(absl::string_view payload) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(payload.data(), payload.size());
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) return false;
  return root.type() == simdjson::dom::element_type::OBJECT;
}

// Parses the payload as a document for the "_source_id" layout; false when it
// must be stored raw.
bool BuildEventDocument(absl::string_view id, absl::string_view payload, bson_t* out) {
  if (!IsJsonObject(payload)) return false;
  bson_t parsed;
  bson_error_t error;
  if (!bson_init_from_json(&parsed, payload.data(), static_cast<ssize_t>(payload.size()),
                           &error)) {
    return false;
  }
  bool ok = bson_validate_with_error(&parsed, kInsertValidation, &error);
  bson_iter_t it;
  if (ok && bson_iter_init_find(&it, &parsed, kSourceIdField)) ok = false;  // would be lost
  if (ok) {
    BSON_APPEND_UTF8(out, "_id", std::string(id).c_str());
    if (bson_iter_init_find(&it, &parsed, "_id")) {
      ok = bson_append_iter(out, kSourceIdField, -1, &it);
    } else {
      ok = BSON_APPEND_NULL(out, kSourceIdField);
    }
    if (ok && bson_iter_init(&it, &parsed)) {
      while (ok && bson_iter_next(&it)) {
        if (std::strcmp(bson_iter_key(&it), "_id") == 0) continue;
        ok = bson_append_iter(out, nullptr, 0, &it);
      }
    }
  }
  bson_destroy(&parsed);
  return ok;
}

std::string IdText(const bson_iter_t* it) {
  switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(it, &len);
      return std::string(s, len);
    }
    case BSON_TYPE_OID: {
      char hex[25];
      bson_oid_to_string(bson_iter_oid(it), hex);
      return hex;
    }
    default: {
      bson_t wrapper = BSON_INITIALIZER;
      bson_append_iter(&wrapper, "v", 1, it);
      std::string json = Owned(bson_as_relaxed_extended_json(&wrapper, nullptr));
      bson_destroy(&wrapper);
      // { "v" : <value> } -> <value>
      const size_t colon = json.find(':');
      if (colon == std::string::npos || json.size() < colon + 3) return json;
      return json.substr(colon + 2, json.size() - colon - 4);
    }
  }
}

}  // namespace

std::string KafkaRecordId(absl::string_view topic, int32_t partition, int64_t offset) {
  return absl::StrCat(topic, ":", partition, ":", offset);
}

mongo::Document RawStoreDocument(absl::string_view id, absl::string_view payload, bool* raw) {
  mongo::Document doc;
  if (BuildEventDocument(id, payload, doc.mutable_get())) {
    if (raw != nullptr) *raw = false;
    return doc;
  }
  if (raw != nullptr) *raw = true;
  doc = mongo::Document();  // BuildEventDocument may have appended a part
  bson_t* b = doc.mutable_get();
  BSON_APPEND_UTF8(b, "_id", std::string(id).c_str());
  if (bson_utf8_validate(payload.data(), payload.size(), /*allow_null=*/true)) {
    bson_append_utf8(b, kRawField, -1, payload.data(), static_cast<int>(payload.size()));
  } else {
    bson_append_binary(b, kRawField, -1, BSON_SUBTYPE_BINARY,
                       reinterpret_cast<const uint8_t*>(payload.data()),
                       static_cast<uint32_t>(payload.size()));
  }
  return doc;
}

absl::StatusOr<ExportedRecord> ExportRecord(const bson_t* doc) {
  bson_iter_t id;
  if (!bson_iter_init_find(&id, doc, "_id")) {
    return absl::InvalidArgumentError("document has no _id");
  }
  ExportedRecord out;
  out.source_id = IdText(&id);
  {
    bson_t wrapper = BSON_INITIALIZER;
    bson_append_iter(&wrapper, "_id", 3, &id);
    out.id_json = Owned(bson_as_canonical_extended_json(&wrapper, nullptr));
    bson_destroy(&wrapper);
  }

  bson_iter_t it;
  if (bson_iter_init_find(&it, doc, kSourceIdField)) {
    bson_t event = BSON_INITIALIZER;
    if (!BSON_ITER_HOLDS_NULL(&it)) bson_append_iter(&event, "_id", 3, &it);
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
      const char* key = bson_iter_key(&it);
      if (std::strcmp(key, "_id") == 0 || std::strcmp(key, kSourceIdField) == 0) continue;
      bson_append_iter(&event, nullptr, 0, &it);
    }
    out.payload = Owned(bson_as_relaxed_extended_json(&event, nullptr));
    bson_destroy(&event);
    return out;
  }
  if (bson_count_keys(doc) == 2 && bson_iter_init_find(&it, doc, kRawField)) {
    if (BSON_ITER_HOLDS_UTF8(&it)) {
      uint32_t len = 0;
      const char* s = bson_iter_utf8(&it, &len);
      out.payload.assign(s, len);
      return out;
    }
    if (BSON_ITER_HOLDS_BINARY(&it)) {
      bson_subtype_t subtype;
      uint32_t len = 0;
      const uint8_t* data = nullptr;
      bson_iter_binary(&it, &subtype, &len, &data);
      out.payload.assign(reinterpret_cast<const char*>(data), len);
      return out;
    }
  }
  out.payload = Owned(bson_as_relaxed_extended_json(doc, nullptr));
  return out;
}

absl::StatusOr<std::string> AfterIdFilter(absl::string_view id_json) {
  absl::StatusOr<mongo::Document> wrapper = mongo::Document::FromJson(id_json);
  if (!wrapper.ok()) return wrapper.status();
  bson_iter_t it;
  if (!bson_iter_init_find(&it, wrapper->get(), "_id")) {
    return absl::InvalidArgumentError(absl::StrCat("resume point has no _id: ", id_json));
  }
  bson_t filter = BSON_INITIALIZER;
  bson_t range;
  BSON_APPEND_DOCUMENT_BEGIN(&filter, "_id", &range);
  bson_append_iter(&range, "$gt", 3, &it);
  bson_append_document_end(&filter, &range);
  std::string json = Owned(bson_as_canonical_extended_json(&filter, nullptr));
  bson_destroy(&filter);
  return json;
}

MongoRawStore::MongoRawStore(std::unique_ptr<mongo::MongoClient> client, const std::string& db,
                             const std::string& collection, size_t batch)
    : client_(std::move(client)),
      collection_(client_->GetCollection(db, collection)),
      batch_(batch) {}

absl::Status MongoRawStore::Add(absl::string_view topic, int32_t partition, int64_t offset,
                                absl::string_view payload) {
  bool raw = false;
  docs_.push_back(RawStoreDocument(KafkaRecordId(topic, partition, offset), payload, &raw));
  if (raw) ++raw_;
  if (docs_.size() >= batch_) return Flush();
  return absl::OkStatus();
}

absl::Status MongoRawStore::Flush() {
  if (docs_.empty()) return absl::OkStatus();
  absl::StatusOr<mongo::InsertManyResult> result = collection_.InsertMany(docs_);
  if (!result.ok()) {
    ++errors_;
    return Annotate(result.status(), absl::StrCat("MongoDB sink, batch of ", docs_.size()));
  }
  inserted_ += result->inserted;
  duplicates_ += result->duplicate_indexes.size();
  docs_.clear();
  return absl::OkStatus();
}

}  // namespace pv::ingest
