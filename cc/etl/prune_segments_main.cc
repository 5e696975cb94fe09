// prune_segments: removes (or archives) applied segments whose days are all
// older than --keep-days before the newest day and not stale. Never touches
// a segment that is not applied. See cc/etl/retention.h.
//
//   bazel run //cc/etl:prune_segments -- --segments=/data/segments --keep-days=30
//       [--archive=/data/archive] [--dry-run]
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/etl/nightly.h"
#include "cc/etl/retention.h"
#include "cc/star/calendar.h"
#include "cc/warehouse/loader.h"
#include "cc/warehouse/pg.h"
#include "cc/warehouse/schema.h"

ABSL_FLAG(std::string, segments, "",
          "Directory of segment files (env PV_SEGMENTS_DIR). Required.");
ABSL_FLAG(std::string, pg, "",
          "PostgreSQL connection, as batch's --pg (without the password: PGPASSWORD, "
          "~/.pgpass or POSTGRES_PASSWORD).");
ABSL_FLAG(int, keep_days, 30,
          "Keep every segment holding a day within this many days of the newest day the "
          "applied segments hold. Must be at least batch's --late-days (7), or a late event "
          "could need a segment that is gone.");
ABSL_FLAG(std::string, archive, "",
          "Move the segments into this directory instead of deleting them.");
ABSL_FLAG(bool, dry_run, false, "Print what would be removed; remove nothing.");

namespace {

constexpr char kUsage[] =
    "remove (or archive) applied segments older than the retention horizon.\n"
    "\n"
    "  prune_segments --segments=DIR [--pg=CONNINFO] [--keep-days=30]\n"
    "                 [--archive=DIR] [--dry-run]\n"
    "\n"
    "A segment goes when the warehouse's record says it was applied and every\n"
    "day it holds is older than --keep-days before the newest day and not stale.\n"
    "Segments not applied are never touched. A later rerun of a day whose\n"
    "segments are gone fails and names them. Exit codes: 0 done; 1 failed;\n"
    "2 bad usage.";

int Run() {
  const std::string dir = pv::FlagOrEnv(absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  const int keep_days = absl::GetFlag(FLAGS_keep_days);
  if (dir.empty() || keep_days < 0) {
    PV_LOG(ERROR) << "--segments=DIR is required and --keep-days must be >= 0 (see --help)";
    return 2;
  }
  if (keep_days < 7) {
    PV_LOG(WARNING) << "--keep-days=" << keep_days
                    << " is below batch's default --late-days (7): a late event for a pruned "
                       "day will make its rerun fail";
  }
  std::string source;
  absl::StatusOr<std::string> conninfo =
      pv::warehouse::ResolveConnInfo(absl::GetFlag(FLAGS_pg), &source);
  if (!conninfo.ok()) {
    PV_LOG(ERROR) << conninfo.status().message();
    return 2;
  }
  auto conn = pv::warehouse::PgConnection::Connect(*conninfo);
  if (!conn.ok()) {
    PV_LOG(ERROR) << conn.status().message();
    return 1;
  }
  if (auto migrated = pv::warehouse::Migrate(conn->get()); !migrated.ok()) {
    PV_LOG(ERROR) << migrated.status().message();
    return 1;
  }
  pv::warehouse::WarehouseLoader loader(conn->get(), {});
  // The run lock: no batch run plans from the record while segments go.
  absl::StatusOr<pv::warehouse::WarehouseRecord> record = loader.ReadRecord(/*lock=*/true);
  if (!record.ok()) {
    PV_LOG(ERROR) << record.status().message();
    return 1;
  }
  absl::StatusOr<std::vector<pv::etl::SegmentFile>> present = pv::etl::ListSegmentFiles(dir);
  if (!present.ok()) {
    PV_LOG(ERROR) << present.status();
    return 1;
  }
  const pv::etl::RetentionPlan plan = pv::etl::PlanRetention(*record, *present, keep_days);
  const bool dry_run = absl::GetFlag(FLAGS_dry_run);
  const std::string archive = absl::GetFlag(FLAGS_archive);
  std::vector<std::string> pruned = plan.already_gone;
  size_t removed = 0;
  absl::Status status;
  for (const pv::etl::SegmentFile& f : plan.remove) {
    if (dry_run) {
      std::printf("would %s %s\n", archive.empty() ? "delete" : "archive", f.path.c_str());
      continue;
    }
    status = pv::etl::RemoveSegment(f, archive);
    if (!status.ok()) break;
    pruned.push_back(f.name);
    ++removed;
  }
  if (!dry_run) {
    // Recorded even after an error: what was removed must be known as gone.
    absl::Status marked = loader.MarkPruned(pruned);
    if (status.ok()) status = marked;
  }
  std::printf(
      "\nprune_segments %s\n  newest day   %s (keeping days from %s)\n"
      "  segments     %zu %s (%.1f MB)%s, %zu already gone, %zu kept as the newest of "
      "their partition (consume resumes there)\n",
      !status.ok() ? "FAILED" : dry_run ? "dry run: nothing removed" : "done",
      plan.newest == INT32_MIN ? "none" : pv::star::DayText(plan.newest).c_str(),
      plan.keep_from == INT32_MIN ? "-" : pv::star::DayText(plan.keep_from).c_str(),
      dry_run ? plan.remove.size() : removed,
      dry_run ? "to remove" : archive.empty() ? "deleted" : "archived", plan.bytes / 1e6,
      archive.empty() ? "" : absl::StrCat(" -> ", archive).c_str(), plan.already_gone.size(),
      plan.resume_points.size());
  if (!status.ok()) {
    PV_LOG(ERROR) << status;
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  pv::SetLogTag("prune_segments");
  pv::ParseCommandLine(argc, argv, kUsage);
  return Run();
}
