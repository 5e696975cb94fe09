// migrate: applies the warehouse schema migrations (sql/, embedded) and
// prints the schema version. Safe to run twice and concurrently; the batch
// job runs the same step at start-up.
//
//   bazel run //tools:migrate -- --pg='host=db user=etl dbname=warehouse'
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/flags/flag.h"
#include "cc/common/cli.h"
#include "cc/common/logging.h"
#include "cc/warehouse/pg.h"
#include "cc/warehouse/schema.h"

ABSL_FLAG(std::string, pg, "",
          "PostgreSQL connection (libpq conninfo or URI, no password: use "
          "PGPASSWORD or ~/.pgpass). Default: libpq's PG* environment.");
ABSL_FLAG(bool, list, false, "List the migrations this build carries and exit.");

int main(int argc, char** argv) {
  pv::ParseCommandLine(argc, argv,
                       "apply the warehouse schema migrations.\n\n"
                       "  migrate [--pg=CONNINFO] [--list]");
  pv::SetLogTag("migrate");
  if (absl::GetFlag(FLAGS_list)) {
    for (const auto& m : pv::warehouse::Migrations()) {
      std::printf("%03d %s\n", m.version, m.name.c_str());
    }
    return 0;
  }
  auto conn = pv::warehouse::PgConnection::Connect(absl::GetFlag(FLAGS_pg));
  if (!conn.ok()) {
    PV_LOG(ERROR) << conn.status().message();
    return 1;
  }
  auto applied = pv::warehouse::Migrate(conn->get());
  if (!applied.ok()) {
    PV_LOG(ERROR) << applied.status().message();
    return 1;
  }
  auto version = (*conn)->Query("SELECT max(version) FROM pv_schema_version");
  std::printf("migrate: applied %d migration(s); schema version %s on %s\n",
              *applied, version.ok() ? std::string(version->Get(0, 0)).c_str() : "?",
              (*conn)->Describe().c_str());
  return 0;
}
