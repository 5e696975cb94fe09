// Status helpers shared by every component.
//
// Errors cross module boundaries as absl::Status / absl::StatusOr<T>; these
// macros propagate them without boilerplate (Abseil 20220623, the version
// Debian ships, has no ABSL_RETURN_IF_ERROR).
//
//   absl::StatusOr<Segment> Open(const std::string& path) {
//     PV_ASSIGN_OR_RETURN(auto fd, OpenFile(path));
//     PV_RETURN_IF_ERROR(CheckHeader(fd), "segment ", path);
//     ...
//   }
#ifndef PV_COMMON_STATUS_H_
#define PV_COMMON_STATUS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace pv {

// Returns `status` with `context` prepended to its message ("context: msg"),
// keeping the code. An OK status is returned unchanged.
inline absl::Status Annotate(const absl::Status& status,
                             absl::string_view context) {
  if (status.ok() || context.empty()) return status;
  absl::Status out(status.code(), absl::StrCat(context, ": ", status.message()));
  // Payloads (e.g. kafka::IsFenced's mark) survive the added context.
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& payload) {
    out.SetPayload(url, payload);
  });
  return out;
}

// An errno value as a Status naming the operation and the object, e.g.
// ErrnoStatus(ENOENT, "open", "/data/x.seg") -> NotFound("open /data/x.seg: No
// such file or directory").
absl::Status ErrnoStatus(int err, absl::string_view op,
                         absl::string_view object);

}  // namespace pv

#define PV_STATUS_CONCAT_INNER_(a, b) a##b
#define PV_STATUS_CONCAT_(a, b) PV_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); if it is not OK, returns it from the
// enclosing function, with the optional context pieces (absl::StrCat
// arguments) prepended to the message.
#define PV_RETURN_IF_ERROR(expr, ...)                                   \
  do {                                                                  \
    ::absl::Status pv_status_ = (expr);                                 \
    if (!pv_status_.ok()) {                                             \
      return ::pv::Annotate(pv_status_, ::absl::StrCat(__VA_ARGS__));   \
    }                                                                   \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); if it holds an error, returns it
// from the enclosing function; otherwise moves the value into `lhs`, which may
// be a declaration (`auto x`) or an existing variable.
#define PV_ASSIGN_OR_RETURN(lhs, rexpr) \
  PV_ASSIGN_OR_RETURN_IMPL_(PV_STATUS_CONCAT_(pv_statusor_, __LINE__), lhs, rexpr)

#define PV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // PV_COMMON_STATUS_H_
