// Which MongoDB collection the utilities (//tools:mongo_check,
// //tools:mongo_delete) work on, from flags with the seed's environment
// names as fallback, resolved exactly as the consume and mongo_export stages
// do:
//   --mongo-uri, else env MONGO_URI, then PV_MONGO_URI, else
//       mongodb://MONGO_HOST:MONGO_PORT/ (localhost, 27017);
//   --mongo-db, else env MONGO_DB, else kafka_data_db;
//   --mongo-collection, else env MONGO_COLLECTION, else product_views_records.
// The URI may carry a password: print it only through the ConfigReport
// (which redacts it) or pv::mongo::RedactUri.
#ifndef PV_TOOLS_MONGO_CHECK_TARGET_H_
#define PV_TOOLS_MONGO_CHECK_TARGET_H_

#include <string>

#include "cc/common/config.h"

namespace pv::tools {

struct MongoTarget {
  std::string uri;
  std::string db;
  std::string collection;
};

// Reads the environment (see above); records each setting in *report.
MongoTarget ResolveMongoTarget(const std::string& flag_uri, const std::string& flag_db,
                               const std::string& flag_collection, ConfigReport* report);

}  // namespace pv::tools

#endif  // PV_TOOLS_MONGO_CHECK_TARGET_H_
