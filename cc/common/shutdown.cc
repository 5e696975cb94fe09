#include "cc/common/shutdown.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include "absl/time/clock.h"

namespace pv {
namespace {

// Lock-free atomics are async-signal-safe; checked below.
std::atomic<bool> g_shutdown_requested{false};
std::atomic<int> g_signal_count{0};
static_assert(std::atomic<bool>::is_always_lock_free, "");
static_assert(std::atomic<int>::is_always_lock_free, "");

constexpr absl::Duration kPollInterval = absl::Milliseconds(20);

// Only write(2) with a string literal: no allocation, no locks, no stdio.
void WriteLiteral(const char* text) {
  ssize_t ignored = ::write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

void HandleShutdownSignal(int sig) {
  const int saved_errno = errno;
  if (g_signal_count.fetch_add(1) == 0) {
    g_shutdown_requested.store(true);
    WriteLiteral(sig == SIGINT ? "\nreceived SIGINT: " : "\nreceived SIGTERM: ");
    WriteLiteral(
        "finishing current unit of work, press Ctrl-C again to abort\n");
  } else {
    WriteLiteral("\nsecond signal: aborting now\n");
    ::_exit(128 + sig);
  }
  errno = saved_errno;
}

}  // namespace

void InstallShutdownHandlers() {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = &HandleShutdownSignal;
  sigemptyset(&action.sa_mask);
  // Block the other shutdown signal while handling one, so that the count
  // and the messages stay in order.
  sigaddset(&action.sa_mask, SIGINT);
  sigaddset(&action.sa_mask, SIGTERM);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

bool ShutdownRequested() { return g_shutdown_requested.load(); }

void RequestShutdown() { g_shutdown_requested.store(true); }

bool WaitForShutdownFor(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!ShutdownRequested()) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    absl::SleepFor(std::min(left, kPollInterval));
  }
  return true;
}

}  // namespace pv
