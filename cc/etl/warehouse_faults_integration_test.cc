// The batch against a PostgreSQL that misbehaves (tools/services/postgres.sh,
// PV_PG_CONNINFO, PGPASSWORD): the schema changed under it, a reader holding
// the lock the partition swap needs, a statement timeout, the server
// crashing and restarting in the middle of a load (the test runs as root to
// SIGKILL a backend of the server's user). Each time the run ends with an error naming the cause,
// the warehouse is unchanged, and the next run succeeds.
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/etl/batch_test_support.h"
#include "cc/etl/test_support.h"
#include "cc/warehouse/pg.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/datagen/generator.h"

namespace pv::etl {
namespace {

using ::testing::HasSubstr;
using testing::InterruptMidLoad;
using testing::RunBatch;
using testing::RunResult;
using testing::TempDir;
using testing::TestDatabase;

std::vector<std::string> Events(int64_t n, uint64_t seed) {
  datagen::GeneratorOptions o;
  o.events = n;
  o.days = 2;
  o.seed = seed;
  o.rate_not_json = 0.001;
  return testing::GenerateRecords(o, "2020-06-01");
}

std::vector<std::string> Args(const std::string& dir, const TestDatabase& db,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--segments=" + dir, "--pg=" + db.conninfo(),
                                   "--threads=2", "--quarantine=" + dir + ".quarantine"};
  for (std::string& e : extra) args.push_back(std::move(e));
  return args;
}

TEST(WarehouseFaults, SchemaDriftIsNamedBeforeAnythingIsWritten) {
  TestDatabase db;
  const std::string dir = TempDir("drift");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(4000, 1), 2000).ok());
  ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);

  // Columns a DBA added, nullable: loads go on (explicit column lists).
  ASSERT_TRUE(db.conn()
                  ->Exec("ALTER TABLE dim_device ADD COLUMN note text; "
                         "ALTER TABLE fact_product_views ADD COLUMN comment text; "
                         "ALTER TABLE dim_country ADD COLUMN owner text DEFAULT 'bi'")
                  .ok());
  ASSERT_TRUE(testing::WriteSegments(dir, Events(3000, 2), 2000).ok());
  RunResult added = RunBatch(Args(dir, db));
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const std::string loaded = db.Snapshot();
  const std::string succeeded =
      db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'");

  // A column the loader writes dropped, one retyped, one of someone else's
  // that no row can satisfy: each named by a run that writes nothing (the
  // check runs before the scan, so the run is quick).
  ASSERT_TRUE(testing::WriteSegments(dir, Events(3000, 3), 2000).ok());
  struct Drift {
    const char* change;
    const char* named;
    const char* undo;
  };
  for (const Drift& d :
       {Drift{"ALTER TABLE dim_country DROP COLUMN region",
              "column dim_country.region is missing",
              "ALTER TABLE dim_country ADD COLUMN region text NOT NULL DEFAULT ''"},
        Drift{"ALTER TABLE dim_device ALTER COLUMN os TYPE varchar(200)",
              "column dim_device.os is varchar, the loader writes text",
              "ALTER TABLE dim_device ALTER COLUMN os TYPE text"},
        Drift{"ALTER TABLE dim_referrer ADD COLUMN reviewed_by text NOT NULL DEFAULT 'x'; "
              "ALTER TABLE dim_referrer ALTER COLUMN reviewed_by DROP DEFAULT",
              "column dim_referrer.reviewed_by (not one of ours) is NOT NULL without a default",
              "ALTER TABLE dim_referrer DROP COLUMN reviewed_by"}}) {
    SCOPED_TRACE(d.change);
    ASSERT_TRUE(db.conn()->Exec(d.change).ok());
    RunResult run = RunBatch(Args(dir, db));
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_THAT(run.output, HasSubstr(d.named));
    EXPECT_THAT(run.output, HasSubstr("Nothing was written"));
    EXPECT_THAT(run.output, ::testing::Not(HasSubstr("scan ")));  // failed before the scan
    EXPECT_EQ(db.Snapshot(), loaded);
    ASSERT_TRUE(db.conn()->Exec(d.undo).ok());
  }
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'"),
            succeeded);
  // Restored, the next run applies the waiting segments.
  RunResult healed = RunBatch(Args(dir, db));
  EXPECT_EQ(healed.exit_code, 0) << healed.output;
  EXPECT_NE(db.Snapshot(), loaded);
}

// Members are found by their digest (nk_md5), but a digest is only a
// candidate: the natural key decides. A dimension row whose digest is that
// of another key (what an md5 collision would look like; forged here, since
// none is known for keys of this shape) is never taken for that key: the
// new member is inserted, meets the unique digest, and the run fails,
// changing nothing. Taking the forged row would silently give the new
// device another device's key and attributes.
TEST(WarehouseFaults, AMemberSharingAnotherKeysDigestIsNotTakenForIt) {
  TestDatabase db;
  const std::string dir = TempDir("collision");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(2000, 11), 2000).ok());
  ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);
  // A device the warehouse has not seen, in an otherwise ordinary event.
  std::string event = Events(1, 12)[0];
  const std::string field = "\"device_id\":\"";
  const size_t at = event.find(field);
  ASSERT_NE(at, std::string::npos) << event;
  const size_t end = event.find('"', at + field.size());
  event.replace(at + field.size(), end - (at + field.size()), "collider-device");
  ASSERT_EQ(db.Scalar("SELECT count(*) FROM dim_device WHERE device_id = 'collider-device'"),
            "0");
  // An existing device takes the new one's digest.
  const std::string victim = db.Scalar("SELECT max(device_key) FROM dim_device");
  ASSERT_TRUE(db.conn()
                  ->Exec(absl::StrCat("UPDATE dim_device SET nk_md5 = md5('collider-device')::uuid "
                                      "WHERE device_key = ", victim))
                  .ok());
  const std::string before = db.Snapshot();
  ASSERT_TRUE(testing::WriteSegments(dir, {event}, 2000).ok());
  RunResult run = RunBatch(Args(dir, db));
  EXPECT_NE(run.exit_code, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("dim_device_device_id_key"));
  EXPECT_EQ(db.Snapshot(), before);
}

TEST(WarehouseFaults, StagingCleanupDropsOnlyTheLoadersTables) {
  TestDatabase db;
  const std::string dir = TempDir("staging");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(2000, 4), 2000).ok());
  ASSERT_TRUE(db.conn()
                  ->Exec("CREATE SCHEMA IF NOT EXISTS pv_staging; "
                         "CREATE TABLE pv_staging.dba_notes (x int); "
                         "CREATE TABLE pv_staging.fact_product_views_d20200601 (x int)")
                  .ok());
  RunResult run = RunBatch(Args(dir, db));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'pv_staging' AND "
                      "tablename = 'dba_notes'"),
            "1");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'pv_staging'"), "1");
}

// A long reader holds the lock the swap needs: the run waits a bounded
// time, then fails naming the reader; released, the next run succeeds.
TEST(WarehouseFaults, AReaderHoldingTheFactLockIsNamedAndChangesNothing) {
  TestDatabase db;
  const std::string dir = TempDir("lock");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(3000, 5), 3000).ok());
  ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);
  const std::string before = db.Snapshot();
  ASSERT_TRUE(testing::WriteSegments(dir, Events(2000, 6), 3000).ok());

  auto reader = warehouse::PgConnection::Connect(db.conninfo());
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE((*reader)->Exec("SET application_name = 'bi-dashboard'; BEGIN; "
                              "SELECT count(*) FROM fact_product_views")
                  .ok());
  const int reader_pid = (*reader)->BackendPid();
  RunResult blocked =
      RunBatch(Args(dir, db, {"--lock-timeout=300ms", "--lock-tries=2"}));
  EXPECT_EQ(blocked.exit_code, 1) << blocked.output;
  EXPECT_THAT(blocked.output, HasSubstr(absl::StrCat("held by backend ", reader_pid)));
  EXPECT_THAT(blocked.output, HasSubstr("application bi-dashboard"));
  EXPECT_THAT(blocked.output, HasSubstr("idle in transaction"));
  EXPECT_THAT(blocked.output, HasSubstr("trying again"));  // one retry before giving up
  EXPECT_EQ(db.Snapshot(), before);
  ASSERT_TRUE((*reader)->Exec("COMMIT").ok());
  RunResult free_run = RunBatch(Args(dir, db));
  EXPECT_EQ(free_run.exit_code, 0) << free_run.output;
  EXPECT_NE(db.Snapshot(), before);
}

TEST(WarehouseFaults, AStatementTimeoutEndsTheRunAndChangesNothing) {
  TestDatabase db;
  const std::string dir = TempDir("timeout");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(2000, 10), 5000).ok());
  ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);
  const std::string before = db.Snapshot();
  ASSERT_TRUE(testing::WriteSegments(dir, Events(20000, 7), 5000).ok());
  RunResult run = RunBatch(Args(dir, db, {"--statement-timeout=1ms"}));
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("statement timeout"));
  EXPECT_EQ(db.Snapshot(), before);
}

// The server crashes and restarts while the batch COPYs the facts (a
// backend SIGKILLed: the postmaster terminates every session, recovers and
// accepts connections again): the run ends with an error saying the
// connection was lost, nothing of it remains, and the next run equals a
// clean one.
TEST(WarehouseFaults, AServerRestartMidLoadFailsCleanlyAndTheNextRunSucceeds) {
  TestDatabase db;
  const std::string dir = TempDir("restart");
  ASSERT_TRUE(testing::WriteSegments(dir, Events(2000, 8), 2000).ok());
  ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);
  const std::string before = db.NaturalSnapshot();
  ASSERT_TRUE(testing::WriteSegments(dir, Events(150000, 9), 50000).ok());

  bool caught = false;
  const int code = InterruptMidLoad(
      db, Args(dir, db), "COPY pv_staging.fact_product_views_d",
      [](pid_t, int backend) { EXPECT_EQ(::kill(backend, SIGKILL), 0); }, &caught);
  ASSERT_TRUE(caught) << "the load ended before its fact COPY could be interrupted";
  EXPECT_EQ(code, 1);
  db.Reconnect();
  EXPECT_EQ(db.NaturalSnapshot(), before);

  // The next run drops what the crashed one staged (invisible to queries)
  // and applies the segments once.
  RunResult next = RunBatch(Args(dir, db));
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'pv_staging'"), "0");
  TestDatabase clean;
  ASSERT_EQ(RunBatch(Args(dir, clean, {"--full"})).exit_code, 0);
  EXPECT_EQ(db.NaturalSnapshot(), clean.NaturalSnapshot());
}

}  // namespace
}  // namespace pv::etl
