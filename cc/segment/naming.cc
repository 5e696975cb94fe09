#include "cc/segment/naming.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"
#include "cc/segment/format.h"

namespace pv::segment {
namespace {

// ".pvseg.tmp": what a temporary file of a generated name ends with.
const std::string& TempNameSuffix() {
  static const std::string suffix = absl::StrCat(format::kSegmentSuffix, format::kTempSuffix);
  return suffix;
}

// Strictly increasing across the process, so names sort in publish order.
int64_t NextNameMillis() {
  static std::atomic<int64_t> last{0};
  const int64_t now = absl::ToUnixMillis(absl::Now());
  int64_t prev = last.load();
  int64_t next;
  do {
    next = std::max(now, prev + 1);
  } while (!last.compare_exchange_weak(prev, next));
  return next;
}

bool DefaultProcessAlive(int64_t pid) {
  if (pid <= 0) return true;  // never guess about odd values
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
}

}  // namespace

std::string SanitizeSource(absl::string_view source) {
  std::string out;
  for (char c : source.substr(0, 100)) {
    const bool keep = absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                      c == '-' || c == '.';
    out.push_back(keep ? c : '_');
  }
  if (out.empty()) out = "segment";
  if (out[0] == '.') out[0] = '_';
  return out;
}

std::string SanitizeHostName(absl::string_view host) {
  std::string out;
  for (char c : host.substr(0, 64)) {
    out.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) ? c : '_');
  }
  return out.empty() ? "localhost" : out;
}

std::string SanitizedHostName() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
  return SanitizeHostName(buf);
}

std::string MakeSegmentName(absl::string_view source, int64_t unix_ms, uint64_t seq,
                            int64_t pid, absl::string_view host) {
  return absl::StrCat(
      SanitizeSource(source), "-",
      absl::FormatTime("%Y%m%dT%H%M%E3S", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone()),
      "-", absl::StrFormat("%06d", seq), "-", pid, "-", host);
}

SegmentNamer::SegmentNamer(std::string source, std::string host)
    : source_(std::move(source)),
      host_(host.empty() ? SanitizedHostName() : SanitizeHostName(host)),
      pid_(::getpid()) {}

std::string SegmentNamer::Next() {
  return MakeSegmentName(source_, NextNameMillis(), ++seq_, pid_, host_);
}

std::string DefaultSegmentName(absl::string_view source) {
  static std::atomic<uint64_t> seq{0};
  static const std::string host = SanitizedHostName();
  return MakeSegmentName(source, NextNameMillis(), ++seq, ::getpid(), host);
}

std::optional<TempFileOwner> ParseTempFileOwner(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, format::kTempPrefix) || !absl::ConsumeSuffix(&name, TempNameSuffix())) {
    return std::nullopt;
  }
  // <source>-<time>-<seq>-<pid>-<host>; the source may itself contain '-'.
  std::vector<absl::string_view> parts = absl::StrSplit(name, '-');
  if (parts.size() < 5) return std::nullopt;
  const absl::string_view host = parts[parts.size() - 1];
  const absl::string_view pid_text = parts[parts.size() - 2];
  const absl::string_view seq_text = parts[parts.size() - 3];
  const absl::string_view time_text = parts[parts.size() - 4];
  int64_t pid = 0;
  uint64_t seq = 0;
  if (host.empty() || !absl::SimpleAtoi(pid_text, &pid) || pid <= 0 ||
      seq_text.size() < 6 || !absl::SimpleAtoi(seq_text, &seq) || time_text.size() != 19 ||
      time_text[8] != 'T') {
    return std::nullopt;
  }
  for (char c : host) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return std::nullopt;
  }
  return TempFileOwner{pid, std::string(host)};
}

absl::StatusOr<int> RemoveDeadWritersTempFiles(const std::string& dir,
                                               absl::string_view host_name,
                                               std::function<bool(int64_t)> process_alive) {
  if (!process_alive) process_alive = DefaultProcessAlive;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "open directory", dir);
  const std::string host = host_name.empty() ? SanitizedHostName() : SanitizeHostName(host_name);
  std::vector<std::string> stale;
  int read_errno = 0;
  for (;;) {
    errno = 0;  // readdir reports errors only through errno
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      read_errno = errno;
      break;
    }
    std::optional<TempFileOwner> owner = ParseTempFileOwner(e->d_name);
    if (owner && owner->host == host && !process_alive(owner->pid)) stale.push_back(e->d_name);
  }
  ::closedir(d);
  if (read_errno != 0) return ErrnoStatus(read_errno, "read directory", dir);
  int removed = 0;
  for (const std::string& name : stale) {
    const std::string path = absl::StrCat(dir, "/", name);
    if (::unlink(path.c_str()) == 0) {
      ++removed;
      PV_LOG(INFO) << "removed " << path << " (temporary file of a writer on host " << host
                   << " that died)";
    } else if (errno != ENOENT) {
      return ErrnoStatus(errno, "remove stale temporary file", path);
    }
  }
  return removed;
}

}  // namespace pv::segment
