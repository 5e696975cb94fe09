#include "cc/common/logging.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace pv {
namespace {

LogLevel LevelFromEnv() {
  const char* env = std::getenv("PV_LOG_LEVEL");
  if (env == nullptr) return LogLevel::kInfo;
  std::string v = absl::AsciiStrToLower(env);
  if (v == "debug") return LogLevel::kDebug;
  if (v == "warning" || v == "warn") return LogLevel::kWarning;
  if (v == "error") return LogLevel::kError;
  return LogLevel::kInfo;
}

std::atomic<int>& MinLevel() {
  static std::atomic<int> level{static_cast<int>(LevelFromEnv())};
  return level;
}

std::mutex& TagMutex() {
  static std::mutex mu;
  return mu;
}

std::string& Tag() {
  static std::string tag;
  return tag;
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  MinLevel().store(static_cast<int>(level));
}

LogLevel MinLogLevel() { return static_cast<LogLevel>(MinLevel().load()); }

void SetLogTag(absl::string_view tag) {
  std::lock_guard<std::mutex> lock(TagMutex());
  Tag() = std::string(tag);
}

std::string LogTag() {
  std::lock_guard<std::mutex> lock(TagMutex());
  return Tag();
}

namespace internal {

LogMessage::LogMessage(LogLevel level, const char* file, int line) {
  static const char kLetters[] = {'D', 'I', 'W', 'E'};
  stream_ << absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                              absl::UTCTimeZone())
          << ' ' << kLetters[static_cast<int>(level)] << ' ';
  {
    std::lock_guard<std::mutex> lock(TagMutex());
    if (!Tag().empty()) stream_ << Tag() << ": ";
  }
  if (level == LogLevel::kDebug) {
    absl::string_view f(file);
    size_t slash = f.rfind('/');
    stream_ << (slash == absl::string_view::npos ? f : f.substr(slash + 1))
            << ':' << line << ' ';
  }
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string s = stream_.str();
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = ::write(STDERR_FILENO, s.data() + done, s.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
}

}  // namespace internal
}  // namespace pv
