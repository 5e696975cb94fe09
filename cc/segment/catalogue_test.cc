#include "cc/segment/catalogue.h"
#include "cc/segment/naming.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace pv::segment {
namespace {

std::string MakeTempDir() {
  std::string base = std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp";
  std::string templ = absl::StrCat(base, "/catalogue_test.XXXXXX");
  char* d = ::mkdtemp(templ.data());
  EXPECT_NE(d, nullptr);
  return templ;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

void Touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0) << path;
  ::close(fd);
}

SegmentInfo Publish(const std::string& dir, SourceKind kind,
                             const std::string& source,
                             const std::vector<std::pair<int32_t, int64_t>>& records,
                             SegmentNamer* namer) {
  WriterOptions o;
  o.dir = dir;
  o.kind = kind;
  o.source = source;
  o.name = namer->Next();
  auto writer = SegmentWriter::Create(o);
  EXPECT_TRUE(writer.ok()) << writer.status();
  for (const auto& [partition, offset] : records) {
    RecordMeta meta;
    meta.partition = partition;
    meta.offset = offset;
    EXPECT_TRUE((*writer)->Append(meta, "{}").ok());
  }
  auto info = (*writer)->Publish();
  EXPECT_TRUE(info.ok()) << info.status();
  return *info;
}

TEST(SegmentNameTest, RoundTripsTheWriterThroughTheTempName) {
  const std::string name = MakeSegmentName("my-topic.v2", 0, 7, 4242, "box_1");
  EXPECT_EQ(name, "my-topic.v2-19700101T000000.000-000007-4242-box_1");
  auto owner = ParseTempFileOwner(absl::StrCat(".", name, ".pvseg.tmp"));
  ASSERT_TRUE(owner.has_value());
  EXPECT_EQ(owner->pid, 4242);
  EXPECT_EQ(owner->host, "box_1");
}

TEST(SegmentNameTest, OtherNamesHaveNoOwner) {
  EXPECT_FALSE(ParseTempFileOwner("t-19700101T000000.000-000007-4242-box.pvseg"));  // published
  EXPECT_FALSE(ParseTempFileOwner(".t-20240101T000000.000-0badc0de.pvseg.tmp"));  // writer's own
  EXPECT_FALSE(ParseTempFileOwner(".t-19700101T000000.000-000007-x42-box.pvseg.tmp"));
  EXPECT_FALSE(ParseTempFileOwner(".t-19700101T000000.000-000007-42-.pvseg.tmp"));
}

TEST(SegmentNameTest, NamesOfOneProcessSortInOrder) {
  SegmentNamer namer("t");
  std::string prev = namer.Next();
  for (int i = 0; i < 100; ++i) {
    std::string next = namer.Next();
    EXPECT_LT(prev, next);
    prev = next;
  }
}

TEST(RemoveDeadWritersTempFilesTest, RemovesOnlyDeadWritersOfThisHost) {
  const std::string dir = MakeTempDir();
  const std::string host = SanitizedHostName();
  const std::string dead = absl::StrCat(dir, "/.", MakeSegmentName("t", 0, 1, 111, host), ".pvseg.tmp");
  const std::string alive = absl::StrCat(dir, "/.", MakeSegmentName("t", 0, 2, 222, host), ".pvseg.tmp");
  const std::string other_host =
      absl::StrCat(dir, "/.", MakeSegmentName("t", 0, 3, 111, "elsewhere_x"), ".pvseg.tmp");
  const std::string foreign = absl::StrCat(dir, "/.t-20240101T000000.000-0badc0de.pvseg.tmp");
  for (const auto& p : {dead, alive, other_host, foreign}) Touch(p);
  if (host == "elsewhere_x") GTEST_SKIP();
  auto removed = RemoveDeadWritersTempFiles(dir, host, [](int64_t pid) { return pid == 222; });
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(Exists(dead));
  EXPECT_TRUE(Exists(alive));
  EXPECT_TRUE(Exists(other_host));
  EXPECT_TRUE(Exists(foreign));
}

TEST(RemoveDeadWritersTempFilesTest, DefaultCheckKeepsOwnProcessFiles) {
  const std::string dir = MakeTempDir();
  const std::string mine = absl::StrCat(dir, "/.", MakeSegmentName("t", 0, 1, ::getpid(),
                                                                   SanitizedHostName()),
                                        ".pvseg.tmp");
  Touch(mine);
  auto removed = RemoveDeadWritersTempFiles(dir, "");
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 0);
  EXPECT_TRUE(Exists(mine));
}

TEST(SegmentCatalogueTest, NextOffsetIsMaxLastOffsetPlusOnePerTopic) {
  const std::string dir = MakeTempDir();
  SegmentNamer namer("x");
  Publish(dir, SourceKind::kKafka, "views", {{0, 0}, {0, 1}, {1, 5}}, &namer);
  Publish(dir, SourceKind::kKafka, "views", {{0, 2}, {0, 9}}, &namer);
  Publish(dir, SourceKind::kKafka, "other", {{2, 100}}, &namer);
  Publish(dir, SourceKind::kFile, "views", {{-1, 50}}, &namer);
  SegmentCatalogue published(dir);
  ASSERT_TRUE(published.Refresh().ok());
  EXPECT_EQ(published.size(), 4u);
  auto next = published.NextKafkaOffsets("views");
  EXPECT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0], 10);
  EXPECT_EQ(next[1], 6);
  EXPECT_EQ(published.NextKafkaOffsets("other")[2], 101);
  EXPECT_TRUE(published.NextKafkaOffsets("none").empty());
}

TEST(SegmentCatalogueTest, RefreshSeesNewFilesAndForgetsRemovedOnes) {
  const std::string dir = MakeTempDir();
  SegmentNamer namer("x");
  SegmentCatalogue published(dir);
  ASSERT_TRUE(published.Refresh().ok());
  EXPECT_TRUE(published.NextKafkaOffsets("views").empty());
  auto first = Publish(dir, SourceKind::kKafka, "views", {{0, 3}}, &namer);
  ASSERT_TRUE(published.Refresh().ok());
  EXPECT_EQ(published.NextKafkaOffsets("views")[0], 4);
  auto second = Publish(dir, SourceKind::kKafka, "views", {{0, 4}}, &namer);
  published.Add(second);
  EXPECT_EQ(published.NextKafkaOffsets("views")[0], 5);
  ASSERT_EQ(::unlink(second.path.c_str()), 0);
  ASSERT_TRUE(published.Refresh().ok());
  EXPECT_EQ(published.NextKafkaOffsets("views")[0], 4);
}

TEST(SegmentCatalogueTest, CorruptPublishedSegmentIsAnErrorNamingIt) {
  const std::string dir = MakeTempDir();
  const std::string bad = absl::StrCat(dir, "/broken.pvseg");
  int fd = ::open(bad.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "garbage!garbage!garbage!garbage!garbage!", 40), 40);
  ::close(fd);
  SegmentCatalogue published(dir);
  absl::Status s = published.Refresh();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("broken.pvseg"), absl::string_view::npos) << s;
}

TEST(SegmentCatalogueTest, NewestOfSourceIsTheLastPublished) {
  const std::string dir = MakeTempDir();
  SegmentNamer namer("x");
  Publish(dir, SourceKind::kMongoDb, "db.c", {{-1, 1}, {-1, 2}}, &namer);
  auto last = Publish(dir, SourceKind::kMongoDb, "db.c", {{-1, 3}}, &namer);
  Publish(dir, SourceKind::kMongoDb, "db.other", {{-1, 1}}, &namer);
  SegmentCatalogue published(dir);
  ASSERT_TRUE(published.Refresh().ok());
  const SegmentInfo* newest = published.Newest(SourceKind::kMongoDb, "db.c");
  ASSERT_NE(newest, nullptr);
  EXPECT_EQ(newest->path, last.path);
  EXPECT_EQ(published.Newest(SourceKind::kKafka, "db.c"), nullptr);
}

}  // namespace
}  // namespace pv::segment
