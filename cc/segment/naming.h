// Segment file names: the one scheme every writer uses (consume, import,
// mongo_export, datagen, and SegmentWriter when given no name).
//
//   <source>-<UTC yyyymmddTHHMMSS.mmm>-<seq, 6 digits>-<pid>-<host>.pvseg
//
// while being written: ".<name>.tmp" (format.h's kTempPrefix/kTempSuffix).
// `source` is reduced to [A-Za-z0-9._-] (at most 100 characters) and the host
// to [A-Za-z0-9_] (at most 64). The millisecond is strictly increasing across
// every name made in a process and the sequence number grows, so the segments
// one process writes for one source sort by name in publish order. The pid
// and host tell who writes a temporary file, so that a restarted writer can
// remove exactly the files of writers that died on its host, and never the
// file of a live writer or of another host sharing the directory.
#ifndef PV_SEGMENT_NAMING_H_
#define PV_SEGMENT_NAMING_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::segment {

// `host` reduced to [A-Za-z0-9_] (others become '_'), at most 64 characters,
// "localhost" when empty. SanitizedHostName() is gethostname()'s.
std::string SanitizeHostName(absl::string_view host);
std::string SanitizedHostName();

// `source` reduced to [A-Za-z0-9._-] (others become '_'), at most 100
// characters: its part of the name.
std::string SanitizeSource(absl::string_view source);

// The name above, without the ".pvseg" suffix.
std::string MakeSegmentName(absl::string_view source, int64_t unix_ms, uint64_t seq,
                            int64_t pid, absl::string_view host);

// Names for one source, in publish order within this process (see above).
// Not thread-safe; the millisecond clock it shares with every other namer of
// the process is.
class SegmentNamer {
 public:
  // `host`: the name writers on this machine use (sanitized); empty means
  // SanitizedHostName(). Processes on different machines that share one
  // directory must use different host names.
  explicit SegmentNamer(std::string source, std::string host = "");
  std::string Next();
  const std::string& host() const { return host_; }

 private:
  std::string source_;
  std::string host_;
  int64_t pid_;
  uint64_t seq_ = 0;
};

// A process-wide namer's next name for `source` (SegmentWriter's default).
std::string DefaultSegmentName(absl::string_view source);

// The writer of a temporary file named after MakeSegmentName, parsed from
// its file name (".<name>.pvseg.tmp"); nullopt for any other name.
struct TempFileOwner {
  int64_t pid = 0;
  std::string host;
};
std::optional<TempFileOwner> ParseTempFileOwner(absl::string_view file_name);

// Deletes the temporary files in `dir` named by this scheme under the host
// name `host` (sanitized; empty: SanitizedHostName()) whose writer process is
// gone (`process_alive(pid)` false; by default kill(pid, 0) says ESRCH).
// Files of any other host name are never touched, whatever their pid: a pid
// means something only on the machine that wrote it, so the caller must pass
// the host name its own writers use (the --host of the stage; see
// RollingSegmentWriter::RemoveDeadWritersTempFiles). Returns how many it
// deleted; logs each. A reused pid only means a stale file stays until the
// next start.
absl::StatusOr<int> RemoveDeadWritersTempFiles(
    const std::string& dir, absl::string_view host,
    std::function<bool(int64_t)> process_alive = nullptr);

}  // namespace pv::segment

#endif  // PV_SEGMENT_NAMING_H_
