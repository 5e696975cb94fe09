// Crash points: named places where a test can make the process die as a
// SIGKILL would, at exactly the moment that matters (between a segment's
// fsync and its rename, between the rename and the directory's fsync),
// instead of hoping a random kill lands there.
//
//   PV_CRASH_AT=segment.before_rename:2 consume ...   # dies at the 2nd publish
//
// Off unless PV_CRASH_AT is set ("<point>" or "<point>:<n>", n >= 1, default
// 1): then the n-th time the process reaches that point it raises SIGKILL.
// For tests only; nothing in a deployment sets it.
#ifndef PV_COMMON_CRASH_POINT_H_
#define PV_COMMON_CRASH_POINT_H_

#include "absl/strings/string_view.h"

namespace pv {

void CrashPoint(absl::string_view point);

}  // namespace pv

#endif  // PV_COMMON_CRASH_POINT_H_
