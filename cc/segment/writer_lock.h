// WriterLock: one writer per (segments directory, host, source). A second
// process that would write segments of the same source into the same
// directory under the same host name — a second consume of the topic with
// another group, a zombie, an import of the same file started twice —
// fails at once, naming the holder, instead of publishing segments that
// claim the same offsets.
//
//   PV_ASSIGN_OR_RETURN(std::unique_ptr<WriterLock> lock,
//                       WriterLock::Acquire(dir, host, "product_views", "consume"));
//
// The lock is an open-file-description lock (fcntl F_OFD_SETLK) on
// "<dir>/.pv-writer-<host>-<source>.lock", so the kernel releases it when the
// holder exits, however it dies (a SIGKILL leaves no stale lock), and it
// works on NFS (POSIX byte-range locks). The file stays; it holds the
// holder's description for the error message. Writers of different sources,
// or on different hosts (each with its own host name, see naming.h), share
// a directory freely.
#ifndef PV_SEGMENT_WRITER_LOCK_H_
#define PV_SEGMENT_WRITER_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::segment {

class WriterLock {
 public:
  // `host` and `source` as in naming.h (sanitized here; empty host: this
  // machine's). `program` names the holder in a rival's error message.
  // kFailedPrecondition when another process holds the lock (the message
  // names it: program, pid, host, since when); errno errors otherwise.
  static absl::StatusOr<std::unique_ptr<WriterLock>> Acquire(const std::string& dir,
                                                             absl::string_view host,
                                                             absl::string_view source,
                                                             absl::string_view program);
  ~WriterLock();
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  WriterLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace pv::segment

#endif  // PV_SEGMENT_WRITER_LOCK_H_
