// mongo_delete: deletes every document of the raw store's collection (the
// seed's delete_mongo_data.py), after the operator typed the collection's
// name, or with --yes. Without a terminal on stdin and without --yes it
// refuses before connecting: a script must say --yes.
//
//   bazel run //tools:mongo_delete                      # asks
//   bazel run //tools:mongo_delete -- --yes             # for scripts
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
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
ABSL_FLAG(bool, yes, false, "Delete without asking (required when stdin is not a terminal).");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(10), "How long to wait for the server.");

namespace {

constexpr char kUsage[] =
    "delete every document of the raw-store collection.\n"
    "\n"
    "  mongo_delete [--mongo-uri=...] [--mongo-db=DB] [--mongo-collection=C] [--yes]\n"
    "\n"
    "On a terminal it shows the count and asks you to type the collection name;\n"
    "--yes skips that. Without a terminal and without --yes it refuses.\n"
    "The collection itself and its indexes stay. Exit codes: 0 deleted;\n"
    "1 failed; 2 bad usage or refused (no terminal, no --yes); 4 not confirmed\n"
    "(nothing deleted).";

int Run() {
  pv::ConfigReport report;
  const pv::mongo::MongoTarget target = pv::mongo::ResolveMongoTarget(
      absl::GetFlag(FLAGS_mongo_uri), absl::GetFlag(FLAGS_mongo_db),
      absl::GetFlag(FLAGS_mongo_collection), &report);
  const bool yes = absl::GetFlag(FLAGS_yes);
  const bool tty = isatty(STDIN_FILENO) == 1;
  const std::string where = pv::mongo::Describe(target);
  if (!yes && !tty) {
    PV_LOG(ERROR) << "refusing to delete the documents of " << where
                  << ": stdin is not a terminal, so nobody can confirm; pass --yes to "
                     "delete without confirmation";
    return 2;
  }
  PV_LOG(DEBUG) << "configuration:\n" << report.ToString();
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
  if (!yes) {
    std::fprintf(stderr,
                 "%s holds %lld documents.\nType the collection name (%s) to delete them "
                 "all, anything else cancels: ",
                 where.c_str(), static_cast<long long>(*count), target.collection.c_str());
    std::fflush(stderr);
    std::string answer;
    std::getline(std::cin, answer);
    if (std::string(absl::StripAsciiWhitespace(answer)) != target.collection) {
      std::fprintf(stderr, "not confirmed: nothing deleted\n");
      return 4;
    }
  }
  absl::StatusOr<int64_t> deleted = collection.DeleteMany("{}");
  if (!deleted.ok()) {
    PV_LOG(ERROR) << where << ": " << pv::RedactSecrets(deleted.status().ToString());
    return 1;
  }
  std::printf("%s: deleted %lld documents\n", where.c_str(), static_cast<long long>(*deleted));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pv::SetLogTag("mongo_delete");
  const std::vector<std::string> positional = pv::ParseCommandLine(argc, argv, kUsage);
  if (!positional.empty()) {
    PV_LOG(ERROR) << "unexpected argument '" << positional[0] << "' (see --help)";
    return 2;
  }
  return Run();
}
