// Graceful shutdown on SIGINT / SIGTERM.
//
//   int main(int argc, char** argv) {
//     pv::InstallShutdownHandlers();
//     while (!pv::ShutdownRequested()) {
//       PV_RETURN_IF_ERROR(ProcessOneBatch());  // a unit of work is finished
//     }
//     ...  // publish what is complete, print the summary, exit 0
//   }
//
// The first signal only sets a flag (and says so on stderr): the stage finishes
// its current unit of work (a segment, a batch, a transaction) and stops
// cleanly. A second signal ends the process at once with _exit(128 + signal),
// for an operator who does not want to wait; durable formats must survive
// that (segments are published by rename, loads are transactional).
//
// All functions are thread-safe. The flag is process-wide.
#ifndef PV_COMMON_SHUTDOWN_H_
#define PV_COMMON_SHUTDOWN_H_

#include "absl/time/time.h"

namespace pv {

// Installs the SIGINT and SIGTERM handlers (sigaction, SA_RESTART so that
// blocking calls elsewhere are not interrupted with EINTR). The handler is
// async-signal-safe: an atomic store and write(2). Call once, early in main,
// before starting threads.
void InstallShutdownHandlers();

// True once a signal arrived or RequestShutdown() was called.
bool ShutdownRequested();

// Asks for a graceful shutdown as the first signal would (without the stderr
// message): for internal aborts, e.g. a fatal error on one worker thread, and
// for tests. Does not count as a signal: a later Ctrl-C is still "first".
void RequestShutdown();

// Sleeps until a shutdown is requested or `timeout` passes; returns
// ShutdownRequested(). Use it instead of absl::SleepFor in retry and poll
// loops so that a stage stops promptly. Polls the flag every 20 ms at most
// (a signal handler cannot wake a condition variable).
bool WaitForShutdownFor(absl::Duration timeout);

}  // namespace pv

#endif  // PV_COMMON_SHUTDOWN_H_
