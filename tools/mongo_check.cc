// mongo_check: how many documents the raw store's collection holds, and a
// few of them (the seed's python_check_mongo.py).
//
//   bazel run //tools:mongo_check -- --samples=3
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/mongo/mongo.h"
#include "cc/mongo/target.h"

ABSL_FLAG(std::string, mongo_uri, "",
          "MongoDB URI (env MONGO_URI, then PV_MONGO_URI, else mongodb://MONGO_HOST:MONGO_PORT/).");
ABSL_FLAG(std::string, mongo_db, "", "Database (env MONGO_DB; default kafka_data_db).");
ABSL_FLAG(std::string, mongo_collection, "",
          "Collection (env MONGO_COLLECTION; default product_views_records).");
ABSL_FLAG(int, samples, 3, "How many documents to print (0: none).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "How long to wait for the server.");

namespace {

constexpr char kUsage[] =
    "document count of the raw-store collection and a few samples.\n"
    "\n"
    "  mongo_check [--mongo-uri=mongodb://HOST:PORT/] [--mongo-db=DB]\n"
    "              [--mongo-collection=C] [--samples=3]\n"
    "\n"
    "Samples are printed as relaxed extended JSON, one per line, in _id order.\n"
    "Exit codes: 0 ok; 1 failed (server unreachable, query error); 2 bad usage.";

int Run() {
  pv::ConfigReport report;
  const pv::mongo::MongoTarget target = pv::mongo::ResolveMongoTarget(
      absl::GetFlag(FLAGS_mongo_uri), absl::GetFlag(FLAGS_mongo_db),
      absl::GetFlag(FLAGS_mongo_collection), &report);
  const int samples = absl::GetFlag(FLAGS_samples);
  if (samples < 0) {
    PV_LOG(ERROR) << "--samples must be >= 0";
    return 2;
  }
  PV_LOG(DEBUG) << "configuration:\n" << report.ToString();
  const std::string where = pv::mongo::Describe(target);
  auto client = pv::mongo::MongoClient::Connect(target.uri, absl::GetFlag(FLAGS_timeout));
  if (!client.ok()) {
    PV_LOG(ERROR) << where << ": " << pv::RedactSecrets(client.status().ToString());
    return 1;
  }
  pv::mongo::Collection collection = (*client)->GetCollection(target.db, target.collection);
  absl::StatusOr<int64_t> count = collection.Count();
  if (!count.ok()) {
    PV_LOG(ERROR) << where << ": " << pv::RedactSecrets(count.status().ToString());
    return 1;
  }
  std::printf("%s: %lld documents\n", where.c_str(), static_cast<long long>(*count));
  if (samples == 0 || *count == 0) return 0;
  pv::mongo::FindOptions options;
  options.limit = samples;
  options.sort_json = R"({"_id": 1})";
  absl::StatusOr<pv::mongo::Cursor> cursor = collection.Find("", options);
  if (!cursor.ok()) {
    PV_LOG(ERROR) << where << ": " << cursor.status();
    return 1;
  }
  std::printf("first %d by _id:\n", samples);
  for (;;) {
    const bson_t* doc = nullptr;
    absl::StatusOr<bool> more = cursor->Next(&doc);
    if (!more.ok()) {
      PV_LOG(ERROR) << where << ": " << more.status();
      return 1;
    }
    if (!*more) break;
    std::printf("%s\n", pv::mongo::RelaxedJson(doc).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pv::SetLogTag("mongo_check");
  const std::vector<std::string> positional = pv::ParseCommandLine(argc, argv, kUsage);
  if (!positional.empty()) {
    PV_LOG(ERROR) << "unexpected argument '" << positional[0] << "' (see --help)";
    return 2;
  }
  return Run();
}
