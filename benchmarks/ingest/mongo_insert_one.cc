// The seed's way of filling the MongoDB raw store, for comparison with
// `consume --mongo`: one insert per message, one round trip each.
//
//   mongo_insert_one --uri=mongodb://127.0.0.1:N/ --db=D --collection=C < events.ndjson
//
// Each line is inserted as a document (invalid JSON as {raw: line}), like
// the seed's consumer_app.py. Prints "<documents> docs in <s> s = <docs/s>".
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/clock.h"
#include "cc/common/cli.h"
#include "cc/mongo/mongo.h"

ABSL_FLAG(std::string, uri, "", "MongoDB URI");
ABSL_FLAG(std::string, db, "pv_bench", "database");
ABSL_FLAG(std::string, collection, "insert_one", "collection");
ABSL_FLAG(int64_t, limit, 0, "stop after this many lines (0: all)");

int main(int argc, char** argv) {
  pv::ParseCommandLine(argc, argv, "mongo_insert_one: NDJSON on stdin -> one insert per line");
  auto client = pv::mongo::MongoClient::Connect(absl::GetFlag(FLAGS_uri));
  if (!client.ok()) {
    std::cerr << client.status() << "\n";
    return 1;
  }
  pv::mongo::Collection coll =
      (*client)->GetCollection(absl::GetFlag(FLAGS_db), absl::GetFlag(FLAGS_collection));
  std::string line;
  int64_t n = 0;
  const int64_t limit = absl::GetFlag(FLAGS_limit);
  const absl::Time start = absl::Now();
  while ((limit == 0 || n < limit) && std::getline(std::cin, line)) {
    absl::StatusOr<pv::mongo::Document> doc = pv::mongo::Document::FromJson(line);
    pv::mongo::Document d;
    if (doc.ok()) {
      d = std::move(*doc);
    } else {
      BSON_APPEND_UTF8(d.mutable_get(), "raw", line.c_str());
    }
    const bson_t* one[1] = {d.get()};
    absl::StatusOr<pv::mongo::InsertManyResult> r = coll.InsertMany(one, 1);
    if (!r.ok()) {
      // The seed logged and went on; so do we (e.g. "$" keys, duplicate _id).
      std::cerr << "line " << n + 1 << ": " << r.status().message() << "\n";
    }
    ++n;
  }
  const double s = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("%lld docs in %.2f s = %.0f docs/s\n", static_cast<long long>(n), s, n / s);
  return 0;
}
