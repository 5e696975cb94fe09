// The batch job end to end against the real PostgreSQL of
// tools/services/postgres.sh (PV_PG_CONNINFO, PGPASSWORD): the `batch`
// binary, run as a user runs it, checked against an independent SQL oracle
// (testdata/oracle.sql) and for idempotence, key stability, thread-count
// independence and all-or-nothing loads.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cc/etl/batch_test_support.h"
#include "cc/etl/test_support.h"
#include "cc/warehouse/copy_binary.h"
#include "cc/warehouse/pg.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using testing::InterruptMidLoad;
using testing::OracleMismatches;
using testing::RunBatch;
using testing::RunResult;
using testing::TempDir;
using testing::TestDatabase;
using warehouse::PgConnection;

std::vector<std::string> BatchArgs(const std::string& segments,
                                   const TestDatabase& db,
                                   std::vector<std::string> extra) {
  std::vector<std::string> args = {"--segments=" + segments, "--pg=" + db.conninfo()};
  for (std::string& e : extra) args.push_back(std::move(e));
  return args;
}

// Generated events over 3 days (2020-06-01..03) with messy and invalid
// records of every kind, plus the hand-written ones on the last day.
std::vector<std::string> Records(int64_t events, int days = 3, uint64_t seed = 11) {
  datagen::GeneratorOptions o;
  o.events = events;
  o.days = days;
  o.seed = seed;
  o.rate_messy = 0.2;
  o.rate_not_json = 0.002;
  o.rate_not_object = 0.002;
  o.rate_bad_time = 0.002;
  o.rate_missing_time = 0.002;
  return testing::GenerateRecords(o, days == 3 ? "2020-06-03" : "2020-06-01");
}

std::string WriteInput(const std::vector<std::string>& records,
                       const std::string& into = "") {
  std::string dir = into.empty() ? TempDir("segments") : into;
  auto paths = testing::WriteSegments(dir, records, 9000);
  EXPECT_TRUE(paths.ok()) << paths.status();
  return dir;
}

TEST(BatchIntegration, RangeRunEqualsTheOracle) {
  TestDatabase db;
  std::vector<std::string> records = Records(30000);
  std::string seg = WriteInput(records);
  RunResult run = RunBatch(BatchArgs(seg, db, {"--from=2020-06-01", "--to=2020-06-03",
                                              "--threads=2"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("committed"), std::string::npos) << run.output;
  EXPECT_EQ(OracleMismatches(db, records, "2020-06-01", "2020-06-03"), "");
  // A 10 KB referrer URL loaded, and its key is unique.
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM dim_referrer WHERE referrer_url LIKE "
                      "'https://www.example.com/aaaaaaaaaa%' AND length(referrer_url) > 10240"),
            "1");
  // The ledger has the run with its counts.
  EXPECT_EQ(db.Scalar("SELECT status FROM etl_run_ledger"), "succeeded");
  EXPECT_NE(db.Scalar("SELECT (counts->'invalid'->>'not_json')::int"
                      " FROM etl_run_ledger"), "0");
  // Each day's partition has the grain and the four key indexes, and none on
  // date_key (partition pruning serves date filters).
  EXPECT_EQ(db.Scalar("SELECT string_agg(DISTINCT n::text, ',') FROM (SELECT count(*) AS n "
                      "FROM pg_indexes WHERE tablename LIKE 'fact_product_views_d%' "
                      "GROUP BY tablename) x"),
            "5");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_indexes WHERE tablename LIKE "
                      "'fact_product_views%' AND indexdef LIKE '%(date_key)'"),
            "0");
}

// The default (nightly) mode with no lateness allowed loads only the newest
// day, as the seed did, and leaves the older days stale; the next default
// run with the usual horizon reloads them from the segments it re-reads.
TEST(BatchIntegration, NightlyRunsLoadTheNewestDayThenTheStaleOnes) {
  TestDatabase db;
  std::vector<std::string> records = Records(20000, 3, 12);
  std::string seg = WriteInput(records);
  RunResult run = RunBatch(BatchArgs(seg, db, {"--late-days=0"}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(db.Scalar("SELECT string_agg(DISTINCT date_key::text, ',') FROM fact_product_views"),
            "20200603");
  EXPECT_NE(run.output.find("stale days left   2020-06-01, 2020-06-02"), std::string::npos)
      << run.output;
  EXPECT_EQ(OracleMismatches(db, records, "2020-06-03", "2020-06-03"), "");
  RunResult next = RunBatch(BatchArgs(seg, db, {}));
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_NE(next.output.find("segments          0 new"), std::string::npos) << next.output;
  EXPECT_NE(next.output.find("days reloaded     2020-06-01, 2020-06-02"), std::string::npos)
      << next.output;
  EXPECT_EQ(db.Scalar("SELECT count(DISTINCT date_key) FROM fact_product_views"), "3");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment_day WHERE NOT loaded"), "0");
  EXPECT_EQ(OracleMismatches(db, records, "2020-06-01", "2020-06-03"), "");
}

TEST(BatchIntegration, RerunsAreIdempotentAndKeysStable) {
  TestDatabase db;
  std::string seg = WriteInput(Records(15000));
  std::vector<std::string> snapshots;
  for (int i = 0; i < 3; ++i) {
    RunResult run = RunBatch(BatchArgs(seg, db, {"--date=2020-06-02"}));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    snapshots.push_back(db.Snapshot());
  }
  EXPECT_EQ(snapshots[0], snapshots[1]);
  EXPECT_EQ(snapshots[0], snapshots[2]);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'"), "3");
  EXPECT_EQ(db.Scalar("SELECT count(DISTINCT fact_checksum) FROM etl_run_ledger"), "1");

  // A second day keeps the first day's facts and every existing key.
  const std::string facts_sql =
      "SELECT md5(string_agg(concat_ws('|', date_key, product_key, country_key, "
      "referrer_key, device_key, view_count, first_view_time, avg_view_timestamp), "
      "',' ORDER BY product_key, country_key, referrer_key, device_key)) "
      "FROM fact_product_views WHERE date_key = 20200602";
  const std::string day2_facts = db.Scalar(facts_sql);
  ASSERT_TRUE(db.conn()->Exec(
      "CREATE TABLE snap_keys AS "
      "SELECT 'P' AS d, product_key AS k, product_id AS n FROM dim_product UNION ALL "
      "SELECT 'C', country_key, store_id FROM dim_country UNION ALL "
      "SELECT 'R', referrer_key, referrer_url FROM dim_referrer UNION ALL "
      "SELECT 'D', device_key, device_id FROM dim_device").ok());
  RunResult next = RunBatch(BatchArgs(seg, db, {"--date=2020-06-03"}));
  ASSERT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(db.Scalar("SELECT count(DISTINCT date_key) FROM fact_product_views"), "2");
  EXPECT_EQ(db.Scalar(facts_sql), day2_facts);
  EXPECT_EQ(db.Scalar(
                "SELECT count(*) FROM (SELECT * FROM snap_keys EXCEPT ("
                "SELECT 'P', product_key, product_id FROM dim_product UNION ALL "
                "SELECT 'C', country_key, store_id FROM dim_country UNION ALL "
                "SELECT 'R', referrer_key, referrer_url FROM dim_referrer UNION ALL "
                "SELECT 'D', device_key, device_id FROM dim_device)) x"),
            "0");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'"), "4");
}

TEST(BatchIntegration, OneAndTwoThreadsWriteTheSameWarehouse) {
  std::string seg = WriteInput(Records(20000));
  TestDatabase a, b;
  // One of them also rebuilds the dimension indexes around the COPY (the
  // first-load path) instead of inserting through them.
  RunResult ra = RunBatch(BatchArgs(seg, a, {"--threads=1", "--from=2020-06-01", "--to=2020-06-03",
                                             "--index-rebuild-rows=1"}));
  RunResult rb = RunBatch(BatchArgs(seg, b, {"--threads=2", "--from=2020-06-01", "--to=2020-06-03"}));
  ASSERT_EQ(ra.exit_code, 0) << ra.output;
  ASSERT_EQ(rb.exit_code, 0) << rb.output;
  EXPECT_EQ(a.Snapshot(), b.Snapshot());
  // The rebuilt indexes and constraints are all back.
  const std::string indexes =
      "SELECT string_agg(indexdef, ';' ORDER BY indexdef) FROM pg_indexes "
      "WHERE tablename LIKE 'dim_%'";
  EXPECT_EQ(a.Scalar(indexes), b.Scalar(indexes));
  EXPECT_EQ(a.Scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'p' AND "
                     "conrelid::regclass::text LIKE 'dim_%'"),
            "5");
}

// Text PostgreSQL cannot store (NUL, as "\u0000", in every dimension
// field), a 5,000-character non-ASCII URL and an emoji product id among
// ordinary events: the night goes on, and every record is either a loaded
// view or quarantined.
TEST(BatchIntegration, HostileTextLoadsAndEveryRecordIsAccountedFor) {
  TestDatabase db;
  auto event = [](const std::string& product, const std::string& extra) {
    return absl::StrCat(R"j({"_id":"x","local_time":"2020-06-01 10:00:00","product_id":)j",
                        product, extra, "}");
  };
  std::vector<std::string> records;
  for (int i = 0; i < 200; ++i) {
    records.push_back(event(absl::StrCat("\"", 1000 + i % 17, "\""),
                            absl::StrCat(R"j(,"store_id":"6","device_id":"dev-)j", i % 23,
                                         R"j(","current_url":"https://www.glamira.de/p",)j"
                                         R"j("referrer_url":"https://www.google.com/",)j"
                                         R"j("user_agent":"Mozilla/5.0 (Windows NT 10.0)")j")));
  }
  records.push_back(event(R"j("nul\u0000inside")j", ""));
  records.push_back(event(R"j("1")j", R"j(,"store_id":"s\u0000")j"));
  records.push_back(event(R"j("1")j", R"j(,"device_id":"\u0000")j"));
  records.push_back(event(R"j("1")j", R"j(,"referrer_url":"https://a.b/\u0000")j"));
  records.push_back(event(R"j("1")j", R"j(,"current_url":"https://glamira.fr/\u0000x")j"));
  records.push_back(event(R"j("1")j", R"j(,"user_agent":"Mozilla\u0000(iPhone)")j"));
  records.push_back(event(R"j({"$oid":"\u0000"})j", ""));
  std::string long_url = "https://www.glamira.de/";
  for (int i = 0; i < 1700; ++i) absl::StrAppend(&long_url, "ä€ö");  // 5,123 characters
  records.push_back(event(R"j("1")j", absl::StrCat(R"j(,"referrer_url":")j", long_url,
                                                 R"j(","current_url":")j", long_url, "\"")));
  records.push_back(event(R"j("💍💎")j", ""));
  records.push_back("{not json");  // one quarantined, below the 1% gate
  const std::string seg = WriteInput(records);
  const std::string quarantine = TempDir("quarantine");
  RunResult run = RunBatch(BatchArgs(seg, db, {"--quarantine=" + quarantine}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Loaded views + quarantined records = the records.
  const std::string views = db.Scalar("SELECT sum(view_count) FROM fact_product_views");
  FILE* lines = popen(absl::StrCat("cat '", quarantine, "'/* | wc -l").c_str(), "r");
  ASSERT_NE(lines, nullptr);
  long long quarantined = -1;
  ASSERT_EQ(std::fscanf(lines, "%lld", &quarantined), 1);
  pclose(lines);
  EXPECT_EQ(quarantined, 1);
  EXPECT_EQ(views, absl::StrCat(records.size() - quarantined)) << run.output;
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM dim_product WHERE product_id = "
                      "E'nul\\uFFFDinside' OR product_id = '💍💎'"),
            "2");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM dim_referrer WHERE length(referrer_url) >= 5000"),
            "1");
}

TEST(BatchIntegration, TooManyInvalidRecordsFailWithoutLoading) {
  TestDatabase db;
  std::vector<std::string> records = Records(2000);
  for (int i = 0; i < 500; ++i) records.push_back("garbage line " + std::to_string(i));
  std::string seg = WriteInput(records);
  RunResult run = RunBatch(BatchArgs(seg, db, {"--max-invalid-ratio=0.05"}));
  EXPECT_EQ(run.exit_code, 3) << run.output;
  EXPECT_NE(run.output.find("max-invalid-ratio"), std::string::npos) << run.output;
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM fact_product_views"), "0");
  EXPECT_EQ(db.Scalar("SELECT status FROM etl_run_ledger"), "failed");
}

TEST(BatchIntegration, LoadKilledMidCopyLeavesTheWarehouseAsItWas) {
  TestDatabase db;
  // A first, small load of the day.
  std::string small = WriteInput(Records(3000, 1, 21));
  RunResult first = RunBatch(BatchArgs(small, db, {"--date=2020-06-01"}));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  TestDatabase clean;  // the same two runs, uninterrupted
  ASSERT_EQ(RunBatch(BatchArgs(small, clean, {"--date=2020-06-01"})).exit_code, 0);
  const std::string before = db.Snapshot();
  const std::string ledger = db.Scalar("SELECT count(*) FROM etl_run_ledger");
  // A big one, killed (SIGKILL) while it COPYs the facts, then one whose
  // backend is terminated while it builds the indexes (PostgreSQL going away).
  std::string big = WriteInput(Records(150000, 1, 22), small);
  bool caught = false;
  const std::vector<std::string> day1 = BatchArgs(big, db, {"--date=2020-06-01"});
  int code = InterruptMidLoad(db, day1, "COPY pv_staging.fact_product_views_d",
                              [](pid_t pid, int) { kill(pid, SIGKILL); }, &caught);
  ASSERT_TRUE(caught) << "the load ended before the test could interrupt it";
  EXPECT_EQ(code, 128 + SIGKILL);
  code = InterruptMidLoad(
      db, day1, "ALTER TABLE pv_staging.fact_product_views_d% ADD CONSTRAINT",
      [&](pid_t, int backend) {
        (void)db.conn()->Query("SELECT pg_terminate_backend($1)", {std::to_string(backend)});
      },
      &caught);
  ASSERT_TRUE(caught) << "the load ended before the test could interrupt it";
  EXPECT_EQ(code, 1);
  // Give the server a moment to finish rolling back the killed session.
  for (int i = 0; i < 100 && db.Scalar("SELECT count(*) FROM pg_stat_activity WHERE "
                                       "datname = current_database() AND pid <> "
                                       "pg_backend_pid()") != "0"; ++i) {
    usleep(50000);
  }
  EXPECT_EQ(db.Snapshot(), before);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'fact_product_views_%_new'"),
            "0");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'"), ledger);
  // The next run succeeds, replaces the day, and drops what the killed run
  // left in the staging schema (never visible to queries of public).
  RunResult again = RunBatch(BatchArgs(big, db, {"--date=2020-06-01"}));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  // ... giving the warehouse the same two runs give without interruption.
  ASSERT_EQ(RunBatch(BatchArgs(big, clean, {"--date=2020-06-01"})).exit_code, 0);
  EXPECT_EQ(db.Snapshot(), clean.Snapshot());
  EXPECT_NE(db.Snapshot(), before);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'pv_staging'"), "0");
}

TEST(BatchIntegration, WrongPasswordFailsFastWithoutLeakingIt) {
  TestDatabase db;
  std::string seg = WriteInput(Records(100));
  // A password in --pg (argv, visible in ps) is refused before connecting,
  // in both spellings, and never echoed.
  for (const std::string& pg :
       {db.conninfo() + " password=Sup3rSecretPw",
        std::string("postgresql://pv:Sup3rSecretPw@127.0.0.1:1/warehouse")}) {
    RunResult run = RunBatch({"--segments=" + seg, "--pg=" + pg});
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_NE(run.output.find("--pg holds a password"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("PGPASSWORD"), std::string::npos) << run.output;
    EXPECT_EQ(run.output.find("Sup3rSecretPw"), std::string::npos) << run.output;
  }
  // A wrong password from the environment fails at once, unshown.
  const char* saved = std::getenv("PGPASSWORD");
  const std::string restore = saved == nullptr ? "" : saved;
  setenv("PGPASSWORD", "Sup3rSecretPw", 1);
  RunResult run = RunBatch(BatchArgs(seg, db, {}));
  if (saved == nullptr) {
    unsetenv("PGPASSWORD");
  } else {
    setenv("PGPASSWORD", restore.c_str(), 1);
  }
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("password authentication failed"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("Sup3rSecretPw"), std::string::npos) << run.output;
  // --help never shows a password taken from the environment.
  setenv("POSTGRES_PASSWORD", "EnvSecretPw42", 1);
  RunResult help = RunBatch({"--help"});
  unsetenv("POSTGRES_PASSWORD");
  EXPECT_NE(help.output.find("--max_invalid_ratio"), std::string::npos) << help.output;
  EXPECT_EQ(help.output.find("EnvSecretPw42"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace pv::etl
