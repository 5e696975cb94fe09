#include "cc/segment/rolling_writer.h"

#include <stdlib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pv::segment {
namespace {

std::string MakeTempDir() {
  std::string base = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string templ = absl::StrCat(base, "/rolling_writer_test.XXXXXX");
  EXPECT_NE(::mkdtemp(templ.data()), nullptr);
  return templ;
}

RecordMeta Line(int64_t n) {
  RecordMeta meta;
  meta.offset = n;
  return meta;
}

TEST(RollingSegmentWriterTest, RollsBySizeAndPublishesTheRest) {
  const std::string dir = MakeTempDir();
  RollingWriterOptions o;
  o.dir = dir;
  o.kind = SourceKind::kFile;
  o.source = "in.ndjson";
  o.roll_bytes = 100;
  RollingSegmentWriter writer(o);
  ASSERT_TRUE(writer.Lock("test").ok());
  const std::string payload(40, 'x');
  std::vector<SegmentInfo> published;
  for (int64_t i = 1; i <= 7; ++i) {
    ASSERT_TRUE(writer.Append(Line(i), payload).ok());
    auto due = writer.PublishIfDue();
    ASSERT_TRUE(due.ok()) << due.status();
    if (due->has_value()) published.push_back(**due);
  }
  auto last = writer.Publish();
  ASSERT_TRUE(last.ok()) << last.status();
  ASSERT_TRUE(last->has_value());
  published.push_back(**last);
  // 40-byte records, rolled once a segment holds >= 100 bytes: 3 + 3 + 1.
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[0].records, 3u);
  EXPECT_EQ(published[1].records, 3u);
  EXPECT_EQ(published[2].records, 1u);
  EXPECT_EQ(published[1].ranges[0].first_offset, 4);
  EXPECT_EQ(writer.segments_published(), 3u);
  EXPECT_LT(published[0].path, published[1].path);  // names sort in publish order
  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  auto nothing = writer.Publish();
  ASSERT_TRUE(nothing.ok());
  EXPECT_FALSE(nothing->has_value());
}

TEST(RollingSegmentWriterTest, RollsByAgeAndNamesCarryTheHost) {
  const std::string dir = MakeTempDir();
  RollingWriterOptions o;
  o.dir = dir;
  o.kind = SourceKind::kFile;
  o.source = "s";
  o.roll_age = absl::ZeroDuration();
  o.host = "host-a.example";
  RollingSegmentWriter writer(o);
  ASSERT_TRUE(writer.Lock("test").ok());
  ASSERT_TRUE(writer.Append(Line(1), "{}").ok());
  auto due = writer.PublishIfDue();
  ASSERT_TRUE(due.ok());
  ASSERT_TRUE(due->has_value());
  EXPECT_NE((*due)->path.find("-host_a_example.pvseg"), std::string::npos) << (*due)->path;
}

TEST(RollingSegmentWriterTest, AbandonAndDestructorLeaveNoTemporaryFile) {
  const std::string dir = MakeTempDir();
  RollingWriterOptions o;
  o.dir = dir;
  o.kind = SourceKind::kFile;
  o.source = "s";
  {
    RollingSegmentWriter writer(o);
    ASSERT_TRUE(writer.Lock("test").ok());
    ASSERT_TRUE(writer.Append(Line(1), "{}").ok());
    ASSERT_NE(writer.open(), nullptr);
    const std::string temp = writer.open()->temp_path();
    EXPECT_EQ(::access(temp.c_str(), F_OK), 0);
    writer.Abandon();
    EXPECT_NE(::access(temp.c_str(), F_OK), 0);
    ASSERT_TRUE(writer.Append(Line(2), "{}").ok());
  }
  auto listed = ListSegments(dir);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
  std::string cmd = absl::StrCat("test -z \"$(ls -A ", dir, " | grep -v '^.pv-writer-')\"");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << "temporary files left in " << dir;
}

TEST(RollingSegmentWriterTest, AppendBeforeLockIsRefused) {
  RollingWriterOptions o;
  o.dir = MakeTempDir();
  RollingSegmentWriter writer(o);
  EXPECT_TRUE(absl::IsFailedPrecondition(writer.Append(Line(1), "{}")));
}

// A second writer of one source into one directory under one host name
// fails at once, naming the first; other sources and hosts are free; the
// lock goes with its holder, however it dies.
TEST(WriterLockTest, OneWriterPerDirectoryHostAndSource) {
  const std::string dir = MakeTempDir();
  auto first = WriterLock::Acquire(dir, "h1", "product_views", "consume");
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = WriterLock::Acquire(dir, "h1", "product_views", "consume");
  ASSERT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find(absl::StrCat("consume pid ", ::getpid(),
                                                        " on host h1 since ")),
            std::string::npos)
      << second.status();
  EXPECT_TRUE(WriterLock::Acquire(dir, "h2", "product_views", "consume").ok());
  EXPECT_TRUE(WriterLock::Acquire(dir, "h1", "events.ndjson", "import").ok());
  first->reset();
  EXPECT_TRUE(WriterLock::Acquire(dir, "h1", "product_views", "consume").ok());

  // Held by another process, released when it is SIGKILLed.
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto held = WriterLock::Acquire(dir, "h1", "other", "child");
    char c = held.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto blocked = WriterLock::Acquire(dir, "h1", "other", "test");
  EXPECT_TRUE(absl::IsFailedPrecondition(blocked.status())) << blocked.status();
  EXPECT_NE(blocked.status().message().find(absl::StrCat("child pid ", child)),
            std::string::npos)
      << blocked.status();
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  EXPECT_TRUE(WriterLock::Acquire(dir, "h1", "other", "test").ok());
}

}  // namespace
}  // namespace pv::segment
