#include "cc/etl/retention.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "cc/common/files.h"
#include "cc/common/status.h"

namespace pv::etl {

RetentionPlan PlanRetention(const warehouse::WarehouseRecord& record,
                            const std::vector<SegmentFile>& present, int32_t keep_days) {
  RetentionPlan plan;
  for (const warehouse::AppliedSegment& a : record.segments) {
    if (!a.day_events.empty()) plan.newest = std::max(plan.newest, a.day_events.rbegin()->first);
  }
  if (plan.newest == INT32_MIN) return plan;
  plan.keep_from = static_cast<int32_t>(static_cast<int64_t>(plan.newest) - keep_days);
  absl::flat_hash_map<std::string, const SegmentFile*> on_disk;
  for (const SegmentFile& f : present) on_disk.emplace(f.name, &f);
  const std::vector<int32_t> stale = StaleDays(record);
  // Per (topic, partition), the segment on disk with the largest end
  // position: consume resumes the partition there, from the files alone.
  std::map<std::pair<std::string, int32_t>, std::pair<int64_t, std::string>> resume;
  for (const warehouse::AppliedSegment& a : record.segments) {
    if (a.source_kind != "kafka" || !on_disk.contains(a.name)) continue;
    for (const warehouse::AppliedRange& r : a.ranges) {
      auto [it, added] = resume.try_emplace({a.source, r.partition}, r.end_position, a.name);
      if (!added && r.end_position > it->second.first) it->second = {r.end_position, a.name};
    }
  }
  std::set<std::string> resume_points;
  for (const auto& [where, point] : resume) resume_points.insert(point.second);
  for (const warehouse::AppliedSegment& a : record.segments) {
    // Pruned and back on disk (restored from the archive): a candidate again.
    if (a.day_events.empty() || (a.pruned && !on_disk.contains(a.name))) continue;
    bool old = true;
    for (const auto& [day, n] : a.day_events) {
      if (day >= plan.keep_from || std::binary_search(stale.begin(), stale.end(), day)) {
        old = false;
        break;
      }
    }
    if (!old) continue;
    if (resume_points.count(a.name)) {
      plan.resume_points.push_back(a.name);
      continue;
    }
    auto it = on_disk.find(a.name);
    if (it == on_disk.end()) {
      plan.already_gone.push_back(a.name);
    } else {
      plan.remove.push_back(*it->second);
      plan.bytes += it->second->file_bytes;
    }
  }
  return plan;
}

namespace {

absl::Status CopyFile(const std::string& from, const std::string& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus(errno, "open", from);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    const int err = errno;
    ::close(in);
    return ErrnoStatus(err, "create", to);
  }
  absl::Status status;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      status = ErrnoStatus(errno, "read", from);
      break;
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buf + done, n - done);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        status = ErrnoStatus(errno, "write", to);
        break;
      }
      done += w;
    }
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(out) != 0) status = ErrnoStatus(errno, "fsync", to);
  ::close(in);
  if (::close(out) != 0 && status.ok()) status = ErrnoStatus(errno, "close", to);
  if (!status.ok()) ::unlink(to.c_str());
  return status;
}

}  // namespace

absl::Status RemoveSegment(const SegmentFile& file, const std::string& archive_dir) {
  if (archive_dir.empty()) {
    if (::unlink(file.path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove", file.path);
    }
    return FsyncDirectoryOf(file.path);
  }
  const std::string to = absl::StrCat(archive_dir, "/", file.name);
  struct stat st;
  if (::lstat(to.c_str(), &st) == 0) {
    return absl::AlreadyExistsError(absl::StrCat("archive ", to, " already exists"));
  }
  if (::renameat2(AT_FDCWD, file.path.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS) {
      return ErrnoStatus(errno, "move", absl::StrCat(file.path, " to ", to));
    }
    PV_RETURN_IF_ERROR(CopyFile(file.path, to));
    PV_RETURN_IF_ERROR(FsyncDirectoryOf(to));
    if (::unlink(file.path.c_str()) != 0) return ErrnoStatus(errno, "remove", file.path);
  }
  PV_RETURN_IF_ERROR(FsyncDirectoryOf(to));
  return FsyncDirectoryOf(file.path);
}

}  // namespace pv::etl
