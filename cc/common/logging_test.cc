#include "cc/common/logging.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

int Touch(int* counter) { return ++*counter; }

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = MinLogLevel(); }
  void TearDown() override {
    SetMinLogLevel(saved_);
    SetLogTag("");
  }
  LogLevel saved_;
};

TEST_F(LoggingTest, MessageBelowMinimumIsNotEvaluated) {
  SetMinLogLevel(LogLevel::kWarning);
  int evaluated = 0;
  ::testing::internal::CaptureStderr();
  PV_LOG(DEBUG) << "debug " << Touch(&evaluated);
  PV_LOG(INFO) << "info " << Touch(&evaluated);
  std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 0);
  EXPECT_EQ(output, "");
}

TEST_F(LoggingTest, MessageAtOrAboveMinimumIsWrittenAsOneLine) {
  SetMinLogLevel(LogLevel::kInfo);
  SetLogTag("batch");
  int evaluated = 0;
  ::testing::internal::CaptureStderr();
  PV_LOG(INFO) << "loaded " << Touch(&evaluated) << " segments";
  PV_LOG(ERROR) << "failed";
  std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 1);
  EXPECT_THAT(output,
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z I batch: "
                           "loaded 1 segments\n"
                           "[0-9T:.Z-]+ E batch: failed\n"));
}

TEST_F(LoggingTest, UsableInUnbracedIfElse) {
  SetMinLogLevel(LogLevel::kError);
  int evaluated = 0;
  ::testing::internal::CaptureStderr();
  // The macro's own if/else must not capture this else.
  if (evaluated == 0)
    PV_LOG(INFO) << Touch(&evaluated);
  else
    Touch(&evaluated), Touch(&evaluated);
  ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluated, 0);
}

TEST_F(LoggingTest, DebugLinesNameSourceFile) {
  SetMinLogLevel(LogLevel::kDebug);
  ::testing::internal::CaptureStderr();
  PV_LOG(DEBUG) << "detail";
  std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(output, HasSubstr(" D logging_test.cc:"));
  EXPECT_THAT(output, EndsWith("detail\n"));
  EXPECT_THAT(output, Not(HasSubstr("cc/common/")));
}

}  // namespace
}  // namespace pv
