// The import binary, run as a user runs it, on small NDJSON inputs.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/segment/segment.h"
#include "gtest/gtest.h"

namespace pv::ingest {
namespace {

std::string Tmp(const std::string& name) {
  static int n = 0;
  return absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                      "/", name, "-", getpid(), "-", ++n);
}

struct RunResult {
  int code;
  std::string output;
};

RunResult Import(const std::vector<std::string>& args) {
  std::string cmd = absl::StrCat(std::getenv("TEST_SRCDIR"), "/productview/cc/ingest/import");
  for (const std::string& a : args) absl::StrAppend(&cmd, " '", a, "'");
  cmd += " 2>&1";
  RunResult r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t k;
  while ((k = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, k);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

struct Record {
  int64_t line;
  std::string payload;
};

std::vector<Record> ReadAll(const std::string& dir) {
  std::vector<Record> out;
  auto paths = segment::ListSegments(dir);
  EXPECT_TRUE(paths.ok()) << paths.status();
  for (const std::string& path : *paths) {
    auto reader = segment::SegmentReader::Open(path);
    EXPECT_TRUE(reader.ok()) << reader.status();
    EXPECT_EQ((*reader)->info().kind, segment::SourceKind::kFile);
    segment::Block block;
    for (size_t b = 0; b < (*reader)->block_count(); ++b) {
      EXPECT_TRUE((*reader)->ReadBlock(b, &block).ok());
      for (size_t i = 0; i < block.size(); ++i) {
        out.push_back({block.record(i).offset, std::string(block.record(i).payload)});
      }
    }
  }
  return out;
}

TEST(Import, EveryNonBlankLineBecomesOneRecordUntouched) {
  const std::string input = Tmp("input") + ".ndjson";
  {
    std::ofstream f(input, std::ios::binary);
    f << "{\"a\":1}\n"            // line 1
      << "\n"                     // 2: blank, skipped
      << "   \t \n"               // 3: blank, skipped
      << "{\"b\":2}\r\n"          // 4: CRLF, the \r is dropped
      << "not json at all\n"      // 5: kept, the batch quarantines it
      << std::string(20000, 'x') << "\n"  // 6: long line
      << "{\"last\":true}";       // 7: no final newline
  }
  const std::string dir = Tmp("segments");
  RunResult r = Import({"--input=" + input, "--segments=" + dir});
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("2 blank lines skipped"), std::string::npos) << r.output;
  std::vector<Record> got = ReadAll(dir);
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0].line, 1);
  EXPECT_EQ(got[0].payload, "{\"a\":1}");
  EXPECT_EQ(got[1].line, 4);
  EXPECT_EQ(got[1].payload, "{\"b\":2}");
  EXPECT_EQ(got[2].payload, "not json at all");
  EXPECT_EQ(got[3].payload, std::string(20000, 'x'));
  EXPECT_EQ(got[4].line, 7);
  EXPECT_EQ(got[4].payload, "{\"last\":true}");
}

TEST(Import, RollsSegmentsAndNamesAMissingInput) {
  const std::string input = Tmp("many") + ".ndjson";
  {
    std::ofstream f(input);
    for (int i = 0; i < 3000; ++i) f << "{\"i\":" << i << ",\"pad\":\"" << std::string(800, 'p') << "\"}\n";
  }
  const std::string dir = Tmp("segments");
  RunResult r = Import({"--input=" + input, "--segments=" + dir, "--segment-mb=1", "--codec=lz4"});
  ASSERT_EQ(r.code, 0) << r.output;
  auto paths = segment::ListSegments(dir);
  ASSERT_TRUE(paths.ok());
  EXPECT_GE(paths->size(), 2u);  // ~2.4 MB of payload, 1 MB segments
  EXPECT_EQ(ReadAll(dir).size(), 3000u);

  RunResult missing = Import({"--input=/nonexistent/events.ndjson", "--segments=" + dir});
  EXPECT_EQ(missing.code, 1) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/events.ndjson"), std::string::npos)
      << missing.output;
  RunResult usage = Import({"--segments=" + dir});
  EXPECT_EQ(usage.code, 2) << usage.output;
}

}  // namespace
}  // namespace pv::ingest
