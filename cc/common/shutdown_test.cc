#include "cc/common/shutdown.h"

#include <signal.h>

#include <cstdlib>
#include <thread>

#include "gtest/gtest.h"

namespace pv {
namespace {

// The shutdown flag is process-wide and only ever goes up, so each scenario
// runs in its own child process (gtest death tests fork), starting clean.

TEST(ShutdownDeathTest, FirstSignalSetsFlagAndProcessLives) {
  EXPECT_EXIT(
      {
        InstallShutdownHandlers();
        if (ShutdownRequested()) std::exit(2);
        raise(SIGTERM);
        std::exit(ShutdownRequested() ? 0 : 3);
      },
      ::testing::ExitedWithCode(0),
      "received SIGTERM: finishing current unit of work, press Ctrl-C again");
}

TEST(ShutdownDeathTest, SecondSignalExitsWith128PlusSignal) {
  EXPECT_EXIT(
      {
        InstallShutdownHandlers();
        raise(SIGINT);
        raise(SIGINT);
        std::exit(0);  // not reached
      },
      ::testing::ExitedWithCode(128 + SIGINT), "aborting");
}

TEST(ShutdownDeathTest, RequestShutdownDoesNotCountAsSignal) {
  EXPECT_EXIT(
      {
        InstallShutdownHandlers();
        RequestShutdown();
        if (!ShutdownRequested()) std::exit(2);
        raise(SIGTERM);  // still the first signal: no abort
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "received SIGTERM");
}

TEST(ShutdownDeathTest, WaitForShutdownForTimesOutThenWakesOnRequest) {
  EXPECT_EXIT(
      {
        if (WaitForShutdownFor(absl::Milliseconds(30))) std::exit(2);
        bool woke = false;
        std::thread waiter(
            [&woke] { woke = WaitForShutdownFor(absl::InfiniteDuration()); });
        RequestShutdown();
        waiter.join();
        if (!woke) std::exit(3);
        // Already requested: returns at once, even with a zero timeout.
        std::exit(WaitForShutdownFor(absl::ZeroDuration()) ? 0 : 4);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace pv
