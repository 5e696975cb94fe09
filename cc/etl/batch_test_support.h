// Helpers of the batch job's integration tests (against the PostgreSQL of
// tools/services/postgres.sh, PV_PG_CONNINFO and PGPASSWORD): a fresh
// database per use, the batch binary run as a user runs it, snapshots of
// the warehouse, the SQL oracle (testdata/oracle.sql), and interrupting a
// run at a chosen statement. Test-only.
#ifndef PV_ETL_BATCH_TEST_SUPPORT_H_
#define PV_ETL_BATCH_TEST_SUPPORT_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "cc/warehouse/copy_binary.h"
#include "cc/warehouse/pg.h"
#include "gtest/gtest.h"

namespace pv::etl::testing {

using warehouse::PgConnection;

inline std::string Runfile(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir ? srcdir : ".", "/productview/", path);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string TempDir(const std::string& name) {
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
  // A new connection (after the server restarted), retried for up to 30 s.
  void Reconnect() {
    conn_.reset();
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    for (;;) {
      auto c = PgConnection::Connect(conninfo_);
      if (c.ok()) {
        conn_ = std::move(*c);
        return;
      }
      if (absl::Now() > deadline) {
        ADD_FAILURE() << c.status();
        return;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

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

  // The warehouse by natural keys only, derived attributes included:
  // warehouses built by different sequences of runs must agree on it, even
  // where their surrogate numbers differ. One line per row, sorted.
  std::string NaturalSnapshot() {
    auto r = conn_->Query(
        "SELECT x FROM ("
        " SELECT concat_ws('|', 'F', f.date_key, p.product_id, c.store_id, md5(r.referrer_url),"
        "   v.device_id, f.view_count, f.unique_visitors, f.first_view_time, f.last_view_time,"
        "   f.view_duration_seconds, round(f.avg_view_timestamp::numeric, 3)) AS x"
        " FROM fact_product_views f JOIN dim_product p USING (product_key)"
        " JOIN dim_country c USING (country_key) JOIN dim_referrer r USING (referrer_key)"
        " JOIN dim_device v USING (device_key)"
        " UNION ALL SELECT concat_ws('|', 'P', product_id) FROM dim_product"
        " UNION ALL SELECT concat_ws('|', 'C', store_id, country_name, country_code, region,"
        "   continent, store_domain, attr_time) FROM dim_country"
        " UNION ALL SELECT concat_ws('|', 'R', md5(referrer_url), referrer_domain, referrer_type)"
        "   FROM dim_referrer"
        " UNION ALL SELECT concat_ws('|', 'D', device_id, device_type, browser_info, browser, os,"
        "   attr_time, attr_code) FROM dim_device"
        " UNION ALL SELECT concat_ws('|', 'T', date_key, date, year, month, day, day_of_week,"
        "   week_of_year, quarter) FROM dim_date) s ORDER BY x");
    EXPECT_TRUE(r.ok()) << r.status();
    std::string out;
    if (!r.ok()) return out;
    for (int i = 0; i < r->rows(); ++i) absl::StrAppend(&out, r->Get(i, 0), "\n");
    return out;
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

// Runs a binary of the runfiles (e.g. "cc/etl/batch") with `args`; waits.
inline RunResult RunProgram(const std::string& binary, const std::vector<std::string>& args) {
  std::string cmd = Runfile(binary);
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

// Runs the batch binary; waits for it.
inline RunResult RunBatch(const std::vector<std::string>& args) {
  return RunProgram("cc/etl/batch", args);
}

// Loads the raw payloads and runs the oracle; returns the failing checks.
inline std::string OracleMismatches(TestDatabase& db, const std::vector<std::string>& records,
                             const std::string& first, const std::string& last) {
  PgConnection* c = db.conn();
  EXPECT_TRUE(c->Exec("DROP TABLE IF EXISTS oracle_raw; CREATE TABLE oracle_raw (payload bytea)").ok());
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
    auto show = [&](const char* label, const std::string& sql) {
      auto rows = c->Query(sql);
      if (!rows.ok()) {
        absl::StrAppend(&out, "  ", label, ": query failed: ", rows.status().ToString(), "\n");
        return;
      }
      for (int i = 0; i < rows->rows(); ++i) {
        absl::StrAppend(&out, "  ", label, ":");
        for (int k = 0; k < rows->columns(); ++k) {
          absl::StrAppend(&out, " [", rows->Get(i, k), "]");
        }
        out += "\n";
      }
    };
    if (d.ok()) {
      for (int i = 0; i < d->rows(); ++i) {
        out += "  row:";
        for (int k = 0; k < d->columns(); ++k) absl::StrAppend(&out, " [", d->Get(i, k), "]");
        out += "\n";
      }
    }
    // Fact rows duplicated on the grain, with their number of copies.
    show("duplicated fact",
         "SELECT date, left(product_id, 40), left(store_id, 20), left(referrer_url, 60), "
         "left(device_id, 40), count(*) FROM warehouse_facts GROUP BY 1, 2, 3, 4, 5 "
         "HAVING count(*) > 1 ORDER BY 1, 2, 3, 4, 5 LIMIT 5");
    // Dimension members duplicated on their natural key.
    show("duplicated member",
         "SELECT dim, left(natural_key, 60), n FROM ("
         " SELECT 'dim_product' AS dim, product_id AS natural_key, count(*) AS n FROM dim_product"
         "  GROUP BY 2 HAVING count(*) > 1"
         " UNION ALL SELECT 'dim_country', store_id, count(*) FROM dim_country"
         "  GROUP BY 2 HAVING count(*) > 1"
         " UNION ALL SELECT 'dim_referrer', referrer_url, count(*) FROM dim_referrer"
         "  GROUP BY 2 HAVING count(*) > 1"
         " UNION ALL SELECT 'dim_device', device_id, count(*) FROM dim_device"
         "  GROUP BY 2 HAVING count(*) > 1) x ORDER BY 1, 2 LIMIT 5");
    // Members whose derived attributes differ: a few per dimension, as
    // "[dimension] [natural key] [warehouse's] [oracle's]" ('|'-separated).
    show("attributes",
         "SELECT dim, left(natural_key, 80), warehouse, oracle FROM ("
         " SELECT *, row_number() OVER (PARTITION BY dim ORDER BY natural_key) AS n"
         " FROM oracle_attribute_diffs) x WHERE n <= 4 ORDER BY dim, natural_key");
  }
  return out;
}

// Starts the batch in the background, waits until its backend runs `phase`
// (a prefix of the statement), then calls `interrupt`. Returns the exit code.
// `args` are the batch's flags.
inline int InterruptMidLoad(TestDatabase& db, const std::vector<std::string>& args,
                            const std::string& phase,
                            const std::function<void(pid_t, int backend)>& interrupt,
                            bool* caught) {
  pid_t pid = fork();
  if (pid == 0) {
    std::string bin = Runfile("cc/etl/batch");
    std::vector<std::string> all = {bin};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    int devnull = ::open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execv(bin.c_str(), argv.data());
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

}  // namespace pv::etl::testing

#endif  // PV_ETL_BATCH_TEST_SUPPORT_H_
