#include "cc/common/status.h"

#include <cerrno>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pv {
namespace {

using ::testing::HasSubstr;

absl::Status Fails() { return absl::DataLossError("bad checksum"); }
absl::Status Succeeds() { return absl::OkStatus(); }

absl::Status CheckBlock(bool fail, int* steps) {
  PV_RETURN_IF_ERROR(Succeeds());
  ++*steps;
  PV_RETURN_IF_ERROR(fail ? Fails() : Succeeds(), "segment a.seg block ", 7);
  ++*steps;
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, PassesOkAndReturnsErrorWithContext) {
  int steps = 0;
  EXPECT_TRUE(CheckBlock(false, &steps).ok());
  EXPECT_EQ(steps, 2);

  steps = 0;
  absl::Status status = CheckBlock(true, &steps);
  EXPECT_EQ(steps, 1);  // returned before the second step
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(status.message(), "segment a.seg block 7: bad checksum");
}

absl::Status NoContext() {
  PV_RETURN_IF_ERROR(Fails());
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, WithoutContextKeepsMessage) {
  EXPECT_EQ(NoContext().message(), "bad checksum");
}

absl::StatusOr<std::unique_ptr<int>> MakeValue(bool fail, int v) {
  if (fail) return absl::NotFoundError("no value");
  return std::make_unique<int>(v);
}

absl::StatusOr<int> SumWithDeclaration(bool fail_first, bool fail_second) {
  PV_ASSIGN_OR_RETURN(auto a, MakeValue(fail_first, 1));  // move-only type
  PV_ASSIGN_OR_RETURN(std::unique_ptr<int> b, MakeValue(fail_second, 2));
  return *a + *b;
}

TEST(AssignOrReturnTest, DeclaresVariables) {
  EXPECT_EQ(SumWithDeclaration(false, false).value(), 3);
  EXPECT_EQ(SumWithDeclaration(true, false).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(SumWithDeclaration(false, true).status().message(), "no value");
}

absl::Status AssignExisting(bool fail, int* out) {
  std::unique_ptr<int> value = std::make_unique<int>(-1);
  PV_ASSIGN_OR_RETURN(value, MakeValue(fail, 42));
  *out = *value;
  return absl::OkStatus();
}

TEST(AssignOrReturnTest, AssignsExistingVariable) {
  int out = 0;
  EXPECT_TRUE(AssignExisting(false, &out).ok());
  EXPECT_EQ(out, 42);
  out = 0;
  EXPECT_EQ(AssignExisting(true, &out).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(out, 0);
}

TEST(AnnotateTest, OkStaysOkAndEmptyContextKeepsMessage) {
  EXPECT_TRUE(Annotate(absl::OkStatus(), "ctx").ok());
  EXPECT_EQ(Annotate(absl::InternalError("m"), "").message(), "m");
  EXPECT_EQ(Annotate(absl::InternalError("m"), "ctx").code(),
            absl::StatusCode::kInternal);
}

TEST(AnnotateTest, KeepsCodeAndPayloads) {
  absl::Status s = absl::FailedPreconditionError("fenced");
  s.SetPayload("test/mark", absl::Cord("1"));
  const absl::Status annotated = Annotate(s, "mirror partition 0");
  EXPECT_EQ(annotated.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(annotated.message(), "mirror partition 0: fenced");
  ASSERT_TRUE(annotated.GetPayload("test/mark").has_value());
  EXPECT_EQ(std::string(*annotated.GetPayload("test/mark")), "1");
}

TEST(ErrnoStatusTest, MapsErrnoToCodes) {
  struct Case {
    int err;
    absl::StatusCode code;
  } cases[] = {
      {ENOENT, absl::StatusCode::kNotFound},
      {EEXIST, absl::StatusCode::kAlreadyExists},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {ENOSPC, absl::StatusCode::kResourceExhausted},
      {EDQUOT, absl::StatusCode::kResourceExhausted},
      {EINTR, absl::StatusCode::kUnavailable},
      {EAGAIN, absl::StatusCode::kUnavailable},
      {EIO, absl::StatusCode::kInternal},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrnoStatus(c.err, "open", "/x").code(), c.code) << c.err;
  }
}

TEST(ErrnoStatusTest, MessageNamesOperationObjectAndError) {
  absl::Status status = ErrnoStatus(ENOENT, "open", "/data/x.seg");
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("open /data/x.seg: No such file or directory"));
}

}  // namespace
}  // namespace pv
