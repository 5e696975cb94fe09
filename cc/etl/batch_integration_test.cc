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
#include "cc/etl/test_support.h"
#include "cc/warehouse/copy_binary.h"
#include "cc/warehouse/pg.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using warehouse::PgConnection;

std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/productview/", path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string TempDir(const std::string& name) {
  static int counter = 0;
  std::string dir = absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                                 "/", name, "-", getpid(), "-", ++counter);
  std::string cmd = "rm -rf '" + dir + "' && mkdir -p '" + dir + "'";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  return dir;
}

// A fresh database per use, dropped at the end.
class TestDatabase {
 public:
  TestDatabase() {
    const char* admin = std::getenv("PV_PG_CONNINFO");
    if (admin == nullptr) {
      ADD_FAILURE() << "PV_PG_CONNINFO is not set: start tools/services/postgres.sh";
      return;
    }
    admin_conninfo_ = admin;
    static int counter = 0;
    name_ = absl::StrCat("pv_batch_it_", getpid(), "_", ++counter);
    auto a = PgConnection::Connect(admin_conninfo_);
    EXPECT_TRUE(a.ok()) << a.status();
    if (!a.ok()) return;
    EXPECT_TRUE((*a)->Exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_)).ok());
    absl::Status st = (*a)->Exec(absl::StrCat("CREATE DATABASE ", name_));
    EXPECT_TRUE(st.ok()) << st;
    conninfo_ = absl::StrCat(admin_conninfo_, " dbname=", name_);
    auto c = PgConnection::Connect(conninfo_);
    EXPECT_TRUE(c.ok()) << c.status();
    if (c.ok()) conn_ = std::move(*c);
  }
  ~TestDatabase() {
    conn_.reset();
    if (name_.empty() || admin_conninfo_.empty()) return;
    auto a = PgConnection::Connect(admin_conninfo_);
    if (a.ok()) (void)(*a)->Exec(absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
  }
  const std::string& conninfo() const { return conninfo_; }
  PgConnection* conn() { return conn_.get(); }

  std::string Scalar(const std::string& sql) {
    auto r = conn_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status() << " in " << sql;
    if (!r.ok() || r->rows() == 0) return "";
    return std::string(r->Get(0, 0));
  }

  // Everything a user could query, surrogate keys included (processed_at and
  // the ledger excepted), as one digest plus row count.
  std::string Snapshot(const std::string& where = "true") {
    return Scalar(absl::StrCat(
        "SELECT count(*) || ' ' || md5(string_agg(x, E'\\n' ORDER BY x)) FROM ("
        " SELECT concat_ws('|', 'F', f.date_key, f.product_key, p.product_id,"
        "   f.country_key, c.store_id, f.referrer_key, md5(r.referrer_url),"
        "   f.device_key, v.device_id, f.view_count, f.unique_visitors,"
        "   f.first_view_time, f.last_view_time, f.view_duration_seconds,"
        "   f.avg_view_timestamp) AS x"
        " FROM fact_product_views f JOIN dim_product p USING (product_key)"
        " JOIN dim_country c USING (country_key) JOIN dim_referrer r USING (referrer_key)"
        " JOIN dim_device v USING (device_key) WHERE ", where,
        " UNION ALL SELECT concat_ws('|', 'P', product_key, product_id) FROM dim_product"
        " UNION ALL SELECT concat_ws('|', 'C', country_key, store_id, country_code) FROM dim_country"
        " UNION ALL SELECT concat_ws('|', 'R', referrer_key, md5(referrer_url), referrer_type) FROM dim_referrer"
        " UNION ALL SELECT concat_ws('|', 'D', device_key, device_id, device_type, browser_info) FROM dim_device"
        " UNION ALL SELECT concat_ws('|', 'T', date_key, day_of_week, week_of_year) FROM dim_date) s"));
  }

 private:
  std::string admin_conninfo_;
  std::string name_;
  std::string conninfo_;
  std::unique_ptr<PgConnection> conn_;
};

struct RunResult {
  int exit_code = -1;
  std::string output;
};

// Runs the batch binary; waits for it.
RunResult RunBatch(const std::vector<std::string>& args) {
  std::string cmd = Runfile("cc/etl/batch");
  for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
  absl::StrAppend(&cmd, " 2>&1");
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

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

std::string WriteInput(const std::vector<std::string>& records) {
  std::string dir = TempDir("segments");
  auto paths = testing::WriteSegments(dir, records, 9000);
  EXPECT_TRUE(paths.ok()) << paths.status();
  return dir;
}

// Loads the raw payloads and runs the oracle; returns the failing checks.
std::string OracleMismatches(TestDatabase& db, const std::vector<std::string>& records,
                             const std::string& first, const std::string& last) {
  PgConnection* c = db.conn();
  EXPECT_TRUE(c->Exec("CREATE TABLE oracle_raw (payload bytea)").ok());
  std::string data;
  warehouse::CopyBinaryEncoder e(&data);
  e.Header();
  for (const std::string& r : records) {
    e.StartRow(1);
    e.Text(r);
  }
  e.Trailer();
  absl::Status st = c->CopyIn("COPY oracle_raw FROM STDIN (FORMAT binary)", data);
  EXPECT_TRUE(st.ok()) << st;
  std::string sql = absl::StrReplaceAll(
      ReadFile(Runfile("cc/etl/testdata/oracle.sql")),
      {{":fact_first", "'" + first + "'"}, {":fact_last", "'" + last + "'"}});
  st = c->Exec(sql);
  EXPECT_TRUE(st.ok()) << st;
  auto r = c->Query("SELECT check_name, mismatches FROM oracle_checks WHERE mismatches <> 0");
  EXPECT_TRUE(r.ok()) << r.status();
  std::string out;
  if (!r.ok()) return "oracle query failed";
  for (int i = 0; i < r->rows(); ++i) {
    absl::StrAppend(&out, r->Get(i, 0), ": ", r->Get(i, 1), "\n");
  }
  if (!out.empty()) {
    // Show a few differing rows, to make a failure actionable.
    auto d = c->Query(
        "SELECT o.date, left(o.product_id, 40), left(o.store_id, 20), "
        "left(o.referrer_url, 60), left(o.device_id, 40), o.view_count, w.view_count, "
        "o.unique_visitors, w.unique_visitors, o.first_view_time, w.first_view_time, "
        "o.avg_view_timestamp, w.avg_view_timestamp FROM oracle_facts o FULL JOIN "
        "warehouse_facts w USING (date, product_id, store_id, referrer_url, device_id) "
        "WHERE o.view_count IS DISTINCT FROM w.view_count OR o.unique_visitors IS "
        "DISTINCT FROM w.unique_visitors OR o.first_view_time IS DISTINCT FROM "
        "w.first_view_time OR o.last_view_time IS DISTINCT FROM w.last_view_time "
        "OR abs(o.avg_view_timestamp::float8 - w.avg_view_timestamp) > 1e-6 LIMIT 5");
    if (d.ok()) {
      for (int i = 0; i < d->rows(); ++i) {
        out += "  row:";
        for (int k = 0; k < d->columns(); ++k) absl::StrAppend(&out, " [", d->Get(i, k), "]");
        out += "\n";
      }
    }
  }
  return out;
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
}

TEST(BatchIntegration, LatestDayRunEqualsTheOracle) {
  TestDatabase db;
  std::vector<std::string> records = Records(20000, 3, 12);
  std::string seg = WriteInput(records);
  RunResult run = RunBatch(BatchArgs(seg, db, {}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(db.Scalar("SELECT string_agg(DISTINCT date_key::text, ',') FROM fact_product_views"),
            "20200603");
  EXPECT_EQ(OracleMismatches(db, records, "2020-06-03", "2020-06-03"), "");
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

// Starts the batch in the background, waits until its backend runs `phase`
// (a prefix of the statement), then calls `interrupt`. Returns the exit code.
int InterruptMidLoad(TestDatabase& db, const std::string& seg,
                     const std::string& phase,
                     const std::function<void(pid_t, int backend)>& interrupt,
                     bool* caught) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string bin = Runfile("cc/etl/batch");
    std::string a1 = "--segments=" + seg, a2 = "--pg=" + db.conninfo();
    int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(bin.c_str(), bin.c_str(), a1.c_str(), a2.c_str(), "--date=2020-06-01",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  *caught = false;
  absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (absl::Now() < deadline) {
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    auto r = db.conn()->Query(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND query LIKE $1",
        {phase + "%"});
    if (r.ok() && r->rows() > 0) {
      *caught = true;
      interrupt(pid, static_cast<int>(r->GetInt(0, 0)));
      break;
    }
    usleep(2000);
  }
  int status;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(BatchIntegration, LoadKilledMidCopyLeavesTheWarehouseAsItWas) {
  TestDatabase db;
  // A first, small load of the day.
  std::string small = WriteInput(Records(3000, 1, 21));
  RunResult first = RunBatch(BatchArgs(small, db, {"--date=2020-06-01"}));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string before = db.Snapshot();
  const std::string ledger = db.Scalar("SELECT count(*) FROM etl_run_ledger");
  // A big one, killed (SIGKILL) while it COPYs the facts, then one whose
  // backend is terminated while it builds the indexes (PostgreSQL going away).
  std::string big = WriteInput(Records(150000, 1, 22));
  bool caught = false;
  int code = InterruptMidLoad(db, big, "COPY pv_staging.fact_product_views_d",
                              [](pid_t pid, int) { kill(pid, SIGKILL); }, &caught);
  ASSERT_TRUE(caught) << "the load ended before the test could interrupt it";
  EXPECT_EQ(code, 128 + SIGKILL);
  code = InterruptMidLoad(
      db, big, "CREATE UNIQUE INDEX fact_product_views_d",
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
  EXPECT_NE(db.Snapshot(), before);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'pv_staging'"), "0");
}

TEST(BatchIntegration, WrongPasswordFailsFastWithoutLeakingIt) {
  TestDatabase db;
  std::string seg = WriteInput(Records(100));
  std::vector<std::string> args = BatchArgs(seg, db, {});
  args[1] += " password=Sup3rSecretPw";
  RunResult run = RunBatch(args);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_NE(run.output.find("password authentication failed"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("Sup3rSecretPw"), std::string::npos) << run.output;
  // The configuration the job prints shows the password as ***.
  EXPECT_NE(run.output.find("password=***"), std::string::npos) << run.output;
  // --help never shows a password taken from the environment.
  setenv("POSTGRES_PASSWORD", "EnvSecretPw42", 1);
  RunResult help = RunBatch({"--help"});
  unsetenv("POSTGRES_PASSWORD");
  EXPECT_NE(help.output.find("--max_invalid_ratio"), std::string::npos) << help.output;
  EXPECT_EQ(help.output.find("EnvSecretPw42"), std::string::npos) << help.output;
}

}  // namespace
}  // namespace pv::etl
