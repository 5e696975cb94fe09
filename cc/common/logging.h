// Minimal leveled logging to stderr, one line per message:
//
//   2026-11-25T07:40:01.123Z I batch: loaded 3 segments (1.2 GB)
//
//   PV_LOG(INFO) << "loaded " << n << " segments";
//   PV_LOG(WARNING) << status;  // absl::Status streams its message
//
// Thread-safe: a message is formatted in full, then written with one write(2).
// Abseil 20220623 has no absl/log, hence this small one. Never log secrets:
// print configurations through cc/common/config.h, which redacts them.
#ifndef PV_COMMON_LOGGING_H_
#define PV_COMMON_LOGGING_H_

#include <sstream>
#include <string>

#include "absl/strings/string_view.h"

namespace pv {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Messages below this level are dropped. Default kInfo; PV_LOG_LEVEL=debug in
// the environment, or SetMinLogLevel, changes it.
void SetMinLogLevel(LogLevel level);
LogLevel MinLogLevel();

// Names this process in every line ("batch", "consume", ...).
void SetLogTag(absl::string_view tag);
// The tag SetLogTag set ("" before): the program's name, e.g. for
// PostgreSQL's application_name.
std::string LogTag();

namespace internal {
class LogMessage {
 public:
  LogMessage(LogLevel level, const char* file, int line);
  ~LogMessage();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};
// Turns `stream << ...` into void, for the conditional in PV_LOG; `&` binds
// more loosely than `<<`.
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace internal
}  // namespace pv

#define PV_LOG_LEVEL_DEBUG ::pv::LogLevel::kDebug
#define PV_LOG_LEVEL_INFO ::pv::LogLevel::kInfo
#define PV_LOG_LEVEL_WARNING ::pv::LogLevel::kWarning
#define PV_LOG_LEVEL_ERROR ::pv::LogLevel::kError

// Expands to an expression (not an if/else), so `if (x) PV_LOG(INFO) << y;`
// needs no braces and draws no dangling-else warning. The stream operands
// are not evaluated when the level is below the minimum.
#define PV_LOG(level)                                                  \
  !(PV_LOG_LEVEL_##level >= ::pv::MinLogLevel())                       \
      ? (void)0                                                        \
      : ::pv::internal::LogVoidify() &                                 \
            ::pv::internal::LogMessage(PV_LOG_LEVEL_##level, __FILE__, \
                                       __LINE__)                       \
                .stream()

#endif  // PV_COMMON_LOGGING_H_
