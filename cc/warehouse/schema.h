// Schema migrations of the warehouse: the numbered files of sql/, embedded in
// the binary, applied in order and recorded in `pv_schema_version`.
//
// Safe to run twice and from concurrent processes: an advisory lock
// serializes migrators, and each migration runs in its own transaction
// together with its version row.
#ifndef PV_WAREHOUSE_SCHEMA_H_
#define PV_WAREHOUSE_SCHEMA_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/warehouse/pg.h"

namespace pv::warehouse {

struct Migration {
  int version;       // from the file name: 001_star_schema.sql -> 1
  std::string name;  // the file name
  std::string sql;
};

// The embedded migrations, ordered by version.
const std::vector<Migration>& Migrations();

// Applies the migrations the database lacks; returns how many it applied.
// Fails if the database has a version newer than this build knows.
absl::StatusOr<int> Migrate(PgConnection* conn);

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_SCHEMA_H_
