// The nightly mode against the real PostgreSQL: six nights of segments with
// late events (1-2 days), early ones (a clock running ahead) and invalid
// records, the default run after each night; the result equals one --full
// run into an empty database and the SQL oracle, and a --full run over it
// changes nothing, keys included. What each night read is asserted from its
// summary. Kills at any point of a nightly run leave either the warehouse
// as it was or the run complete, never a segment recorded whose data did not
// commit. Reconciliation reports a removed segment as a hole and a copied
// one as an overlap, and loads neither twice.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cc/etl/batch_test_support.h"
#include "cc/etl/test_support.h"
#include "cc/star/calendar.h"
#include "gtest/gtest.h"

namespace pv::etl {
namespace {

using testing::OracleMismatches;
using testing::RunBatch;
using testing::RunResult;
using testing::TempDir;
using testing::TestDatabase;

constexpr char kFirstNight[] = "2020-06-01";

int32_t FirstDay() {
  int32_t d = 0;
  star::ParseDayText(kFirstNight, &d);
  return d;
}

// The records consume would have published on night `k`: events of that
// day, late ones of the two days before, early ones of the next day, and
// invalid records (datagen's default rates), shuffled.
std::vector<std::string> Night(int k, int64_t events) {
  struct Part {
    int day_offset;
    double share;
  };
  std::vector<std::string> out;
  for (const Part& part : {Part{0, 1.0}, Part{-1, 0.06}, Part{-2, 0.03}, Part{1, 0.02}}) {
    datagen::GeneratorOptions o;
    o.events = static_cast<int64_t>(events * part.share);
    o.start_day = FirstDay() + k + part.day_offset;
    o.days = 1;
    o.seed = 1000 + k * 10 + (part.day_offset + 2);
    o.products = 3000;
    o.rate_messy = 0.1;
    datagen::EventGenerator gen(o);
    std::string buf;
    while (gen.remaining() > 0) {
      buf.clear();
      gen.AppendNext(&buf);
      out.push_back(buf);
    }
  }
  // Members seen every night with other attributes each time, some in late
  // events: the attribute rules (earliest event, then smallest value) must
  // merge across runs exactly as one run over all events decides.
  static constexpr const char* kAgents[] = {
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
      "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
      "Mozilla/5.0 (Linux; Android 14; SM-X700) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"};
  static constexpr const char* kStores[] = {"glamira.de", "glamira.fr", "glamira.co.uk",
                                            "glamira.com", "glamira.it"};
  for (int i = 0; i < 20; ++i) {
    for (int lateness : {0, 2}) {
      const int32_t day = FirstDay() + k - lateness;
      const std::string when = absl::StrCat(star::DayText(day), " ",
                                            absl::Dec(10 + (i + k) % 12, absl::kZeroPad2), ":",
                                            absl::Dec((7 * i + 13 * k) % 60, absl::kZeroPad2), ":00");
      out.push_back(absl::StrCat(
          "{\"local_time\":\"", when, "\",\"product_id\":\"shared-p", i % 3,
          "\",\"device_id\":\"shared-dev-", i, "\",\"user_agent\":\"",
          kAgents[(i + k + lateness) % 4], "\",\"store_id\":\"shared-store-", i % 5,
          "\",\"current_url\":\"https://www.", kStores[(i + 2 * k + lateness) % 5], "/p\"}"));
    }
  }
  std::mt19937 rng(k);
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

std::vector<std::string> Args(const std::string& dir, const TestDatabase& db,
                              std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--segments=" + dir, "--pg=" + db.conninfo(), "--threads=2"};
  for (std::string& e : extra) args.push_back(std::move(e));
  return args;
}

// On the summary line starting with `label`, the number just before `word`.
int64_t SummaryNumber(const std::string& output, const std::string& label,
                      const std::string& word) {
  const size_t line = output.find("\n  " + label);
  if (line == std::string::npos) return -1;
  const size_t end_of_line = output.find('\n', line + 1);
  const size_t at = output.find(word, line);
  if (at == std::string::npos || at > end_of_line) return -1;
  size_t start = at;
  while (start > line && absl::ascii_isdigit(static_cast<unsigned char>(output[start - 1]))) {
    --start;
  }
  int64_t n = -1;
  if (!absl::SimpleAtoi(output.substr(start, at - start), &n)) return -1;
  return n;
}

// Waits until no other session of `db` is left (a killed run's backend).
void AwaitQuiet(TestDatabase& db) {
  for (int i = 0; i < 200; ++i) {
    if (db.Scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()") == "0") {
      return;
    }
    usleep(50000);
  }
}

TEST(NightlyIntegration, NightsEqualOneFullRunAndTheOracleAndReadOnlyWhatTheyNeed) {
  TestDatabase db;
  const std::string dir = TempDir("nights");
  std::vector<std::string> all;
  std::vector<size_t> segments_of_night;
  for (int k = 0; k < 6; ++k) {
    std::vector<std::string> records = Night(k, 6000);
    all.insert(all.end(), records.begin(), records.end());
    auto paths = testing::WriteSegments(dir, records, 2500);
    ASSERT_TRUE(paths.ok()) << paths.status();
    segments_of_night.push_back(paths->size());
    RunResult run = RunBatch(Args(dir, db));
    ASSERT_EQ(run.exit_code, 0) << run.output;
    SCOPED_TRACE(absl::StrCat("night ", k, ":\n", run.output));
    // It read the night's segments, and re-read exactly the applied segments
    // of the nights whose days it reloaded: night j holds days j-2 .. j+1, so
    // the reloaded days k-2 .. k+1 are held by nights k-3 .. k-1. Older
    // nights are never read again: the cost does not grow with history.
    size_t expected_reread = 0;
    for (int j = std::max(0, k - 3); j < k; ++j) expected_reread += segments_of_night[j];
    EXPECT_EQ(SummaryNumber(run.output, "segments", " new"),
              static_cast<int64_t>(paths->size()));
    EXPECT_EQ(SummaryNumber(run.output, "segments", " re-read"),
              static_cast<int64_t>(expected_reread));
    EXPECT_NE(run.output.find("stale days left   (none)"), std::string::npos);
    EXPECT_NE(run.output.find("coverage          contiguous"), std::string::npos);
  }
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment_day WHERE NOT loaded"), "0");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM etl_run_ledger WHERE status = 'succeeded'"), "6");
  EXPECT_EQ(db.Scalar("SELECT (work->>'segments_reread')::int FROM etl_run_ledger "
                      "ORDER BY run_id DESC LIMIT 1"),
            absl::StrCat(segments_of_night[2] + segments_of_night[3] + segments_of_night[4]));

  // One --full run over the same segments into an empty database agrees on
  // every member, attribute and fact.
  TestDatabase full;
  RunResult f = RunBatch(Args(dir, full, {"--full"}));
  ASSERT_EQ(f.exit_code, 0) << f.output;
  EXPECT_EQ(db.NaturalSnapshot(), full.NaturalSnapshot());
  // And so does the independent oracle, over every day of every event.
  const std::string first = star::DayText(FirstDay() - 2), last = star::DayText(FirstDay() + 6);
  EXPECT_EQ(OracleMismatches(db, all, first, last), "");
  // The member digests the loader computed are PostgreSQL's md5 (the unique
  // rule of the natural keys and the lookup's join key depend on it).
  for (TestDatabase* w : {&db, &full}) {
    EXPECT_EQ(w->Scalar("SELECT (SELECT count(*) FROM dim_product WHERE nk_md5 <> "
                        "md5(product_id)::uuid) + (SELECT count(*) FROM dim_country WHERE "
                        "nk_md5 <> md5(store_id)::uuid) + (SELECT count(*) FROM dim_referrer "
                        "WHERE nk_md5 <> md5(referrer_url)::uuid) + (SELECT count(*) FROM "
                        "dim_device WHERE nk_md5 <> md5(device_id)::uuid)"),
              "0");
  }

  // A --full run over the nightly-built warehouse changes nothing, keys
  // included.
  const std::string before = db.Snapshot();
  RunResult again = RunBatch(Args(dir, db, {"--full"}));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(db.Snapshot(), before);
  // --status says all is loaded and nothing is to be read.
  RunResult status = RunBatch(Args(dir, db, {"--status"}));
  ASSERT_EQ(status.exit_code, 0) << status.output;
  EXPECT_NE(status.output.find("stale days        0"), std::string::npos) << status.output;
  EXPECT_NE(status.output.find("reads 0 new segment(s)"), std::string::npos) << status.output;

  // Retention: with 2 days kept from the newest (night 5's next day), the
  // segments of nights 0-2 hold only older days and go to the archive; the
  // others stay, and so does every segment no run applied.
  const std::string archive = TempDir("archive");
  const std::string stray = dir + "/not-applied-yet.pvseg";
  ASSERT_EQ(std::system(absl::StrCat("cp '", dir, "/test-100000.pvseg' '", stray, "'").c_str()), 0);
  RunResult pruned = testing::RunProgram(
      "cc/etl/prune_segments", {"--segments=" + dir, "--pg=" + db.conninfo(), "--keep-days=2",
                                "--archive=" + archive});
  ASSERT_EQ(pruned.exit_code, 0) << pruned.output;
  const size_t gone = segments_of_night[0] + segments_of_night[1] + segments_of_night[2];
  EXPECT_NE(pruned.output.find(absl::StrCat("segments     ", gone, " archived")), std::string::npos)
      << pruned.output;
  EXPECT_EQ(::access(stray.c_str(), F_OK), 0) << "a segment no run applied was touched";
  EXPECT_EQ(::access((dir + "/test-100000.pvseg").c_str(), F_OK), -1);
  EXPECT_EQ(::access((archive + "/test-100000.pvseg").c_str(), F_OK), 0);
  ASSERT_EQ(std::remove(stray.c_str()), 0);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment WHERE pruned_at IS NOT NULL"),
            absl::StrCat(gone));
  // A rerun of a day whose segments are gone fails, names them, and changes
  // nothing; the nightly run still works.
  const std::string kept = db.Snapshot();
  RunResult rerun = RunBatch(Args(dir, db, {"--date=2020-06-02"}));
  EXPECT_EQ(rerun.exit_code, 1) << rerun.output;
  EXPECT_NE(rerun.output.find("day 2020-06-02 cannot be reloaded"), std::string::npos)
      << rerun.output;
  EXPECT_NE(rerun.output.find("test-1000"), std::string::npos) << rerun.output;
  EXPECT_EQ(db.Snapshot(), kept);
  RunResult nightly = RunBatch(Args(dir, db));
  EXPECT_EQ(nightly.exit_code, 0) << nightly.output;
  EXPECT_EQ(db.Snapshot(), kept);
}

// A run is killed (SIGKILL) at points spread over its whole duration, and
// with the test holding a lock the load must wait for at each phase (the
// dimension upsert, the partition swap, the record, the ledger row just
// before COMMIT). After each kill the warehouse is either as it was or the
// run is complete: never a segment recorded whose data did not commit. The
// next run completes the work.
TEST(NightlyIntegration, KillsAtAnyPointLeaveNoHalfAppliedSegment) {
  const std::string dir = TempDir("kills");
  TestDatabase reference, db;
  for (int k = 0; k < 2; ++k) {
    ASSERT_TRUE(testing::WriteSegments(dir, Night(k, 8000), 3000).ok());
    ASSERT_EQ(RunBatch(Args(dir, reference)).exit_code, 0);
    ASSERT_EQ(RunBatch(Args(dir, db)).exit_code, 0);
  }
  ASSERT_TRUE(testing::WriteSegments(dir, Night(2, 20000), 3000).ok());
  const std::string before = db.NaturalSnapshot();
  const std::string applied_before = db.Scalar("SELECT count(*) FROM pv_applied_segment");
  const absl::Time t0 = absl::Now();
  ASSERT_EQ(RunBatch(Args(dir, reference)).exit_code, 0);
  const absl::Duration clean = absl::Now() - t0;
  const std::string after = reference.NaturalSnapshot();
  const std::string applied_after = reference.Scalar("SELECT count(*) FROM pv_applied_segment");
  ASSERT_NE(before, after);

  auto check = [&](const std::string& when) {
    AwaitQuiet(db);
    const std::string now = db.NaturalSnapshot();
    const std::string applied = db.Scalar("SELECT count(*) FROM pv_applied_segment");
    const bool unchanged = now == before && applied == applied_before;
    const bool complete = now == after && applied == applied_after;
    EXPECT_TRUE(unchanged || complete) << "after a kill " << when << ": " << applied
                                       << " segments applied (before " << applied_before
                                       << ", complete " << applied_after << ")";
    // Every recorded segment belongs to a committed, succeeded run.
    EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment s WHERE NOT EXISTS ("
                        "SELECT 1 FROM etl_run_ledger l WHERE l.run_id = s.run_id AND "
                        "l.status = 'succeeded')"),
              "0");
    return complete;
  };

  // 1. The phases, each held by a lock the test takes, then the run killed.
  const std::vector<std::pair<std::string, std::string>> phases = {
      {"LOCK TABLE dim_device IN SHARE MODE", "COPY dim_device"},
      {"LOCK TABLE fact_product_views IN ACCESS SHARE MODE", "ALTER TABLE p%ATTACH PARTITION"},
      {"LOCK TABLE pv_applied_segment IN SHARE MODE", "COPY pv_applied_segment"},
      {"LOCK TABLE etl_run_ledger IN SHARE MODE", "INSERT INTO etl_run_ledger"},
  };
  for (const auto& [lock, statement] : phases) {
    auto holder = warehouse::PgConnection::Connect(db.conninfo());
    ASSERT_TRUE(holder.ok()) << holder.status();
    ASSERT_TRUE((*holder)->Exec(absl::StrCat("BEGIN; ", lock)).ok());
    bool caught = false;
    int code = testing::InterruptMidLoad(
        db, Args(dir, db), statement, [](pid_t pid, int) { kill(pid, SIGKILL); }, &caught);
    (void)(*holder)->Exec("ROLLBACK");
    ASSERT_TRUE(caught) << "the run never waited at " << statement;
    EXPECT_EQ(code, 128 + SIGKILL);
    EXPECT_FALSE(check(statement)) << "a kill waiting at " << statement << " committed";
  }

  // 2. Kills at times spread over a run (scan, load, commit).
  for (int i = 1; i <= 8; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string bin = testing::Runfile("cc/etl/batch");
      std::vector<std::string> all = {bin};
      for (const std::string& a : Args(dir, db)) all.push_back(a);
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      dup2(devnull, 2);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
    absl::SleepFor(clean * i / 9);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    if (check(absl::StrCat(i, "/9 of a run"))) break;  // it had committed
  }

  // The next run completes the work.
  RunResult finish = RunBatch(Args(dir, db));
  ASSERT_EQ(finish.exit_code, 0) << finish.output;
  EXPECT_EQ(db.NaturalSnapshot(), after);
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment"), applied_after);
}

TEST(NightlyIntegration, AHoleAndAnOverlapAreReportedAndNothingIsLoadedTwice) {
  const std::string dir = TempDir("coverage");
  TestDatabase db;
  auto paths = testing::WriteSegments(dir, Night(0, 6000), 1500);
  ASSERT_TRUE(paths.ok());
  ASSERT_GE(paths->size(), 4u);
  // A segment removed from the middle of the partitions' ranges.
  const std::string removed = (*paths)[1];
  ASSERT_EQ(std::rename(removed.c_str(), (removed + ".away").c_str()), 0);
  RunResult run = RunBatch(Args(dir, db));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("hole: topic product_views partition 0 offsets"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("missing between test-100000.pvseg and test-100002.pvseg"),
            std::string::npos)
      << run.output;
  EXPECT_EQ(db.Scalar("SELECT (work->>'holes')::int FROM etl_run_ledger ORDER BY run_id DESC "
                      "LIMIT 1"),
            "3");  // one per partition
  const std::string facts = db.Scalar("SELECT sum(view_count) FROM fact_product_views");

  // A copy of an applied segment under another name: an overlap, refused.
  const std::string copy = dir + "/zz-copy-of-0.pvseg";
  ASSERT_EQ(std::system(absl::StrCat("cp '", (*paths)[0], "' '", copy, "'").c_str()), 0);
  const std::string metrics = dir + ".prom";
  RunResult again = RunBatch(Args(dir, db, {"--metrics-file=" + metrics}));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("zz-copy-of-0.pvseg is not loaded"), std::string::npos)
      << again.output;
  EXPECT_NE(testing::ReadFile(metrics).find("pv_batch_segments{kind=\"refused\"} 1"),
            std::string::npos)
      << testing::ReadFile(metrics);
  EXPECT_NE(again.output.find("overlap: topic product_views partition 0"), std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("claimed by both test-100000.pvseg and zz-copy-of-0.pvseg"),
            std::string::npos)
      << again.output;
  EXPECT_NE(again.output.find("1 refused"), std::string::npos) << again.output;
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pv_applied_segment WHERE name = 'zz-copy-of-0.pvseg'"),
            "0");
  EXPECT_EQ(db.Scalar("SELECT sum(view_count) FROM fact_product_views"), facts);

  // --require-complete makes the hole fail the run, loading nothing.
  RunResult strict = RunBatch(Args(dir, db, {"--require-complete", "--date=2020-06-01"}));
  EXPECT_EQ(strict.exit_code, 4) << strict.output;
  EXPECT_NE(strict.output.find("--require-complete"), std::string::npos) << strict.output;

  // The missing segment comes back: the hole closes, its records load once.
  ASSERT_EQ(std::remove(copy.c_str()), 0);
  ASSERT_EQ(std::rename((removed + ".away").c_str(), removed.c_str()), 0);
  RunResult healed = RunBatch(Args(dir, db));
  ASSERT_EQ(healed.exit_code, 0) << healed.output;
  EXPECT_NE(healed.output.find("coverage          contiguous"), std::string::npos)
      << healed.output;
  TestDatabase full;
  ASSERT_EQ(RunBatch(Args(dir, full, {"--full"})).exit_code, 0);
  EXPECT_EQ(db.NaturalSnapshot(), full.NaturalSnapshot());
}

// The plan's next step, from --plan's JSON line: "load", or the selection,
// the quarantine flag and the segments of a scan step.
struct PlanStep {
  std::string step, selection;
  bool quarantine = false;
  std::vector<std::string> segments;
};
PlanStep ParsePlan(const std::string& output) {
  PlanStep p;
  const size_t at = output.find("{\"step\":\"");
  if (at == std::string::npos) return p;
  const std::string line = output.substr(at, output.find('\n', at) - at);
  auto field = [&](const std::string& name) {
    const size_t f = line.find("\"" + name + "\":");
    return f == std::string::npos ? std::string() : line.substr(f + name.size() + 3);
  };
  p.step = field("step").substr(1, field("step").find('"', 1) - 1);
  const std::string sel = field("selection");
  if (!sel.empty()) p.selection = sel.substr(1, sel.find('"', 1) - 1);
  p.quarantine = absl::StartsWith(field("quarantine"), "true");
  const std::string segs = field("segments");
  if (segs.size() < 2) return p;
  for (absl::string_view item : absl::StrSplit(segs.substr(1, segs.find(']') - 1), ',')) {
    if (item.size() > 2) p.segments.emplace_back(item.substr(1, item.size() - 2));
  }
  return p;
}

// The output of a shell command.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

size_t CountLines(const std::string& dir) {
  return static_cast<size_t>(
      std::stoul(Shell("cat '" + dir + "'/quarantine-*.ndjson 2>/dev/null | wc -l")));
}

// A run split into steps (--plan, --scan-step on groups of segments, the run
// with --partials), as tools/spark/run.sh drives it, builds exactly the
// warehouse the same runs build in one process, surrogate keys included,
// night after night (late data, stale days re-read, invalid records
// quarantined once). A step killed before publishing leaves no partial; a
// rerun writes the same bytes; a missing partial fails the run, naming a
// segment, and changes nothing.
TEST(NightlyIntegration, RunsSplitIntoScanStepsEqualRunsInOneProcess) {
  const std::string dir = TempDir("steps");
  const std::string quarantine = TempDir("steps-quarantine");
  TestDatabase single, steps;
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(absl::StrCat("night ", k));
    auto paths = testing::WriteSegments(dir, Night(k, 6000), 2000);
    ASSERT_TRUE(paths.ok()) << paths.status();
    RunResult one = RunBatch(Args(dir, single));
    ASSERT_EQ(one.exit_code, 0) << one.output;

    const std::string partials = TempDir(absl::StrCat("partials-", k));
    const std::vector<std::string> step_args = {"--partials=" + partials};
    int scans = 0;
    for (;;) {
      std::vector<std::string> args = step_args;
      args.push_back("--plan");
      RunResult plan = RunBatch(Args(dir, steps, args));
      ASSERT_EQ(plan.exit_code, 0) << plan.output;
      const PlanStep step = ParsePlan(plan.output);
      ASSERT_FALSE(step.step.empty()) << plan.output;
      if (step.step == "load") break;
      ASSERT_EQ(step.step, "scan");
      ASSERT_FALSE(step.segments.empty()) << plan.output;
      ASSERT_LT(++scans, 3) << "the plan did not advance: " << plan.output;
      for (size_t i = 0; i < step.segments.size(); i += 2) {
        std::string names = step.segments[i];
        if (i + 1 < step.segments.size()) names += "," + step.segments[i + 1];
        std::vector<std::string> scan = {"--segments=" + dir, "--scan-step",
                                         "--scan-files=" + names, "--selection=" + step.selection,
                                         "--partials=" + partials, "--quarantine=" + quarantine,
                                         "--threads=2"};
        if (step.quarantine) scan.push_back("--quarantine-records");
        if (k == 1 && i == 0) {
          // Killed just before its rename: nothing published.
          const std::string published = Shell("ls '" + partials + "'");
          ::setenv("PV_CRASH_AT", "partial.before_rename", 1);
          RunResult killed = RunBatch(scan);
          ::unsetenv("PV_CRASH_AT");
          EXPECT_NE(killed.exit_code, 0) << killed.output;
          EXPECT_EQ(Shell("ls '" + partials + "'"), published) << "a killed step published";
        }
        RunResult done = RunBatch(scan);
        ASSERT_EQ(done.exit_code, 0) << done.output;
        if (k == 2 && i == 0) {
          // A retried step publishes the same name with the same bytes.
          const std::string path = done.output.substr(done.output.rfind(partials));
          const std::string file = path.substr(0, path.find('\n'));
          const std::string bytes = testing::ReadFile(file);
          RunResult again = RunBatch(scan);
          ASSERT_EQ(again.exit_code, 0) << again.output;
          EXPECT_NE(again.output.find(file), std::string::npos) << again.output;
          EXPECT_EQ(testing::ReadFile(file), bytes);
        }
      }
    }
    if (k == 3) {
      // A partial gone: the run fails naming an uncovered segment.
      const std::string first = Shell("ls '" + partials + "'/*.pvpart | head -1");
      const std::string victim = first.substr(0, first.find('\n'));
      ASSERT_EQ(std::rename(victim.c_str(), (victim + ".away").c_str()), 0);
      const std::string before = steps.Snapshot();
      RunResult missing = RunBatch(Args(dir, steps, step_args));
      EXPECT_EQ(missing.exit_code, 1) << missing.output;
      EXPECT_NE(missing.output.find("covered by no partial"), std::string::npos)
          << missing.output;
      EXPECT_EQ(steps.Snapshot(), before);
      ASSERT_EQ(std::rename((victim + ".away").c_str(), victim.c_str()), 0);
    }
    RunResult load = RunBatch(Args(dir, steps, step_args));
    ASSERT_EQ(load.exit_code, 0) << load.output;
    EXPECT_EQ(SummaryNumber(load.output, "segments", " new"),
              SummaryNumber(one.output, "segments", " new"));
    EXPECT_EQ(SummaryNumber(load.output, "segments", " re-read"),
              SummaryNumber(one.output, "segments", " re-read"));
    EXPECT_EQ(steps.Snapshot(), single.Snapshot());
    EXPECT_EQ(CountLines(quarantine), CountLines(dir + "/quarantine"));
  }
  EXPECT_GT(CountLines(quarantine), 0u);
  EXPECT_EQ(steps.Scalar("SELECT string_agg(name, ',' ORDER BY name) FROM pv_applied_segment"),
            single.Scalar("SELECT string_agg(name, ',' ORDER BY name) FROM pv_applied_segment"));
}

}  // namespace
}  // namespace pv::etl
