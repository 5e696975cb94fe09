#include "cc/common/status.h"

#include <cerrno>
#include <cstring>

namespace pv {

absl::Status ErrnoStatus(int err, absl::string_view op,
                         absl::string_view object) {
  std::string message = absl::StrCat(op, " ", object, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EEXIST:
      return absl::AlreadyExistsError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case EINTR:
    case EAGAIN:
      return absl::UnavailableError(message);
    default:
      return absl::InternalError(message);
  }
}

}  // namespace pv
