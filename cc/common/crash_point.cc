#include "cc/common/crash_point.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"

namespace pv {
namespace {

struct Target {
  std::string point;  // empty: off
  int64_t nth = 1;
};

const Target& ParsedTarget() {
  static const Target* target = [] {
    auto* t = new Target();
    const char* v = std::getenv("PV_CRASH_AT");
    if (v == nullptr || *v == '\0') return t;
    std::string text = v;
    const size_t colon = text.rfind(':');
    if (colon != std::string::npos) {
      int64_t n = 0;
      if (absl::SimpleAtoi(text.substr(colon + 1), &n) && n >= 1) {
        t->nth = n;
        text.resize(colon);
      }
    }
    t->point = text;
    return t;
  }();
  return *target;
}

std::atomic<int64_t> reached{0};

}  // namespace

void CrashPoint(absl::string_view point) {
  const Target& target = ParsedTarget();
  if (target.point.empty() || point != target.point) return;
  if (reached.fetch_add(1) + 1 == target.nth) ::kill(::getpid(), SIGKILL);
}

}  // namespace pv
