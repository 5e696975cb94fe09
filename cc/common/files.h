// Whole-file reads and atomic whole-file writes.
//
//   PV_RETURN_IF_ERROR(WriteFileAtomically("/data/x.pvpart", bytes));
//   PV_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString("/data/x.pvpart"));
//
// WriteFileAtomically writes a hidden temporary file beside `path`
// (".<name>.tmp-<pid>"), fsyncs it, renames it over `path` and fsyncs the
// directory: a reader sees the old file or the whole new one, and once it
// returns OK the file survives a crash. A failure removes the temporary file.
// `crash_point` (optional) is reached between the fsync and the rename (see
// crash_point.h). Errors name the operation and the file (ErrnoStatus).
#ifndef PV_COMMON_FILES_H_
#define PV_COMMON_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view bytes,
                                 absl::string_view crash_point = "");
absl::StatusOr<std::string> ReadFileToString(const std::string& path);
// fsync of the directory holding `path`, so that a rename or unlink in it
// is durable.
absl::Status FsyncDirectoryOf(const std::string& path);

}  // namespace pv

#endif  // PV_COMMON_FILES_H_
