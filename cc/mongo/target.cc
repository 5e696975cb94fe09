#include "cc/mongo/target.h"

#include "absl/strings/str_cat.h"

namespace pv::mongo {

MongoTarget ResolveMongoTarget(const std::string& flag_uri, const std::string& flag_db,
                               const std::string& flag_collection, ConfigReport* report) {
  MongoTarget t;
  std::string src;
  t.uri = FlagOrEnv(flag_uri, {"MONGO_URI", "PV_MONGO_URI"}, "", &src);
  if (t.uri.empty()) {
    t.uri = absl::StrCat("mongodb://", FlagOrEnv("", {"MONGO_HOST"}, "localhost"), ":",
                         FlagOrEnv("", {"MONGO_PORT"}, "27017"), "/");
    src = "env MONGO_HOST/MONGO_PORT";
  }
  if (report != nullptr) report->Add("mongo_uri", t.uri, src);
  t.db = FlagOrEnv(flag_db, {"MONGO_DB"}, "kafka_data_db", &src);
  if (report != nullptr) report->Add("mongo_db", t.db, src);
  t.collection = FlagOrEnv(flag_collection, {"MONGO_COLLECTION"}, "product_views_records", &src);
  if (report != nullptr) report->Add("mongo_collection", t.collection, src);
  return t;
}

std::string Describe(const MongoTarget& target) {
  return absl::StrCat(target.db, ".", target.collection, " at ", RedactSecrets(target.uri));
}

}  // namespace pv::mongo
