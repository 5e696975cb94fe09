#include "cc/segment/writer_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cc/common/status.h"
#include "cc/segment/naming.h"

namespace pv::segment {
namespace {

// What the lock file says about its holder (its first line), or why not.
std::string HolderOf(int fd) {
  char buf[512];
  const ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "a process that has not described itself yet";
  std::string text(buf, static_cast<size_t>(n));
  text = std::string(absl::StripTrailingAsciiWhitespace(text.substr(0, text.find('\n'))));
  return text.empty() ? "a process that has not described itself yet" : text;
}

}  // namespace

absl::StatusOr<std::unique_ptr<WriterLock>> WriterLock::Acquire(const std::string& dir,
                                                                absl::string_view host,
                                                                absl::string_view source,
                                                                absl::string_view program) {
  const std::string host_name = host.empty() ? SanitizedHostName() : SanitizeHostName(host);
  const std::string path =
      absl::StrCat(dir, "/.pv-writer-", host_name, "-", SanitizeSource(source), ".lock");
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open lock file", path);
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    if (err == EAGAIN || err == EACCES) {
      const std::string holder = HolderOf(fd);
      ::close(fd);
      return absl::FailedPreconditionError(absl::StrCat(
          "segments directory ", dir, " is being written for source ", source, " on host ",
          host_name, " by ", holder, " (lock ", path,
          "): a second writer would publish segments claiming the same records; stop that "
          "one first, or give this one its own host name if it runs on another machine"));
    }
    ::close(fd);
    return ErrnoStatus(err, "lock", path);
  }
  const std::string description =
      absl::StrCat(program, " pid ", ::getpid(), " on host ", host_name, " since ",
                   absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
                   "\n");
  if (::ftruncate(fd, 0) != 0 ||
      ::pwrite(fd, description.data(), description.size(), 0) !=
          static_cast<ssize_t>(description.size())) {
    const int err = errno;
    ::close(fd);
    return ErrnoStatus(err, "write lock file", path);
  }
  return std::unique_ptr<WriterLock>(new WriterLock(fd, path));
}

WriterLock::~WriterLock() {
  // Closing the last descriptor of the description releases the lock; the
  // description is left for nobody (the next holder truncates it).
  ::close(fd_);
}

}  // namespace pv::segment
