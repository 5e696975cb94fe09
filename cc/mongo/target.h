// Which MongoDB collection a stage or tool works on (consume --mongo,
// mongo_export, mongo_check, mongo_delete): the one resolution, from flags
// with the seed's environment names as fallback:
//   --mongo-uri, else env MONGO_URI, then PV_MONGO_URI, else
//       mongodb://MONGO_HOST:MONGO_PORT/ (localhost, 27017);
//   --mongo-db, else env MONGO_DB, else kafka_data_db;
//   --mongo-collection, else env MONGO_COLLECTION, else product_views_records.
// The URI may carry a password: print it only through the ConfigReport or
// pv::RedactSecrets (cc/common/config.h), which hide it. No libmongoc here.
#ifndef PV_MONGO_TARGET_H_
#define PV_MONGO_TARGET_H_

#include <string>

#include "cc/common/config.h"

namespace pv::mongo {

struct MongoTarget {
  std::string uri;
  std::string db;
  std::string collection;
};

// Reads the environment (see above); records each setting in *report when
// it is not null.
MongoTarget ResolveMongoTarget(const std::string& flag_uri, const std::string& flag_db,
                               const std::string& flag_collection, ConfigReport* report);

// `target` as "db.collection at <uri without password>", for messages.
std::string Describe(const MongoTarget& target);

}  // namespace pv::mongo

#endif  // PV_MONGO_TARGET_H_
