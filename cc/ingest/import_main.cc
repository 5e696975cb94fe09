// import: newline-delimited JSON files (a topic dump, a mongoexport) ->
// segment files, for backfills.
//
//   bazel run //cc/ingest:import -- --input=events.ndjson --segments=DIR
//
// Each non-blank line becomes one record, untouched (the batch job decides
// what is invalid); its coordinate is the input file and the line number.
// Segments roll every --segment-mb of payload; each is published atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cc/common/cli.h"
#include "cc/common/config.h"
#include "cc/common/logging.h"
#include "cc/common/progress.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/segment/rolling_writer.h"
#include "cc/segment/segment.h"

ABSL_FLAG(std::vector<std::string>, input, {},
          "NDJSON input file(s), comma-separated or repeated; '-' reads stdin.");
ABSL_FLAG(std::string, segments, "",
          "Output directory for segment files (env PV_SEGMENTS_DIR); created if "
          "missing.");
ABSL_FLAG(int, segment_mb, 256, "Roll to a new segment after this many MB of payload.");
ABSL_FLAG(std::string, codec, "zstd", "Block compression: zstd, lz4 or none.");

namespace pv::ingest {
namespace {

constexpr char kUsage[] =
    "convert newline-delimited JSON into segment files.\n"
    "\n"
    "  import --input=FILE [--input=FILE ...] --segments=DIR\n"
    "\n"
    "Every non-blank line becomes one record (invalid JSON included: the\n"
    "batch job quarantines it). Blank lines are skipped. Exit codes: 0 done;\n"
    "1 failed (published segments stay valid); 2 bad usage; 130 interrupted.";

struct ImportTotals {
  uint64_t records = 0, blank = 0, bytes = 0;
};

// One input file's lines -> segments of source `path` (rolled by size).
absl::Status ImportFile(const std::string& path,
                        const segment::RollingWriterOptions& writer_options,
                        Progress& progress, ImportTotals* totals, uint64_t* segments) {
  int fd = path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  const std::string source = path == "-" ? "stdin" : path;
  segment::RollingWriterOptions options = writer_options;
  options.source = source;
  segment::RollingSegmentWriter writer(options);
  if (absl::Status s = writer.Lock("import"); !s.ok()) {
    if (fd != STDIN_FILENO) ::close(fd);
    return s;
  }
  std::string buffer;
  std::vector<char> chunk(4 << 20);
  int64_t line = 0;
  absl::Status status;
  auto consume_line = [&](absl::string_view text) -> absl::Status {
    ++line;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (absl::StripAsciiWhitespace(text).empty()) {
      ++totals->blank;
      return absl::OkStatus();
    }
    ++totals->records;
    totals->bytes += text.size();
    progress.Add(1, text.size());
    segment::RecordMeta meta;
    meta.partition = -1;
    meta.offset = line;
    PV_RETURN_IF_ERROR(writer.Append(meta, text));
    return writer.PublishIfDue().status();
  };
  while (status.ok()) {
    if (ShutdownRequested()) {
      status = absl::CancelledError("interrupted");
      break;
    }
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = ErrnoStatus(errno, "read", path);
      break;
    }
    if (n == 0) break;
    buffer.append(chunk.data(), static_cast<size_t>(n));
    size_t start = 0;
    while (status.ok()) {
      size_t nl = buffer.find('\n', start);
      if (nl == std::string::npos) break;
      status = consume_line(absl::string_view(buffer).substr(start, nl - start));
      start = nl + 1;
    }
    buffer.erase(0, start);
  }
  if (status.ok() && !buffer.empty()) status = consume_line(buffer);  // no final newline
  if (fd != STDIN_FILENO) ::close(fd);
  // What was read before an error or an interrupt is still published whole.
  absl::Status published = writer.Publish().status();
  if (status.ok()) status = published;
  *segments += writer.segments_published();
  return Annotate(status, absl::StrCat(source, " line ", line));
}

int Run() {
  const absl::Time started = absl::Now();
  std::vector<std::string> inputs = absl::GetFlag(FLAGS_input);
  std::string dir = FlagOrEnv(absl::GetFlag(FLAGS_segments), {"PV_SEGMENTS_DIR"}, "");
  if (inputs.empty() || dir.empty()) {
    PV_LOG(ERROR) << "--input=FILE and --segments=DIR are required (see --help)";
    return 2;
  }
  const std::string c = absl::GetFlag(FLAGS_codec);
  absl::StatusOr<segment::Codec> parsed_codec = segment::ParseCodec(c);
  if (!parsed_codec.ok()) {
    PV_LOG(ERROR) << "--codec: " << parsed_codec.status().message();
    return 2;
  }
  const segment::Codec codec = *parsed_codec;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    PV_LOG(ERROR) << ErrnoStatus(errno, "create directory", dir);
    return 1;
  }
  Progress progress("import", "records", 0);
  segment::RollingWriterOptions writer_options;
  writer_options.dir = dir;
  writer_options.kind = segment::SourceKind::kFile;
  writer_options.codec = codec;
  writer_options.roll_bytes = static_cast<uint64_t>(absl::GetFlag(FLAGS_segment_mb)) << 20;
  ImportTotals totals;
  uint64_t segments = 0;
  absl::Status status;
  for (const std::string& in : inputs) {
    status = ImportFile(in, writer_options, progress, &totals, &segments);
    if (!status.ok()) break;
  }
  progress.Finish();
  double seconds = absl::ToDoubleSeconds(absl::Now() - started);
  std::fprintf(stdout,
               "\nimport %s\n  records   %llu (%llu blank lines skipped)\n"
               "  payload   %.1f MB in %llu segment(s) -> %s\n"
               "  time      %.2f s (%.0f records/s, %.0f MB/s)\n",
               status.ok() ? "done" : "FAILED",
               static_cast<unsigned long long>(totals.records),
               static_cast<unsigned long long>(totals.blank), totals.bytes / 1e6,
               static_cast<unsigned long long>(segments), dir.c_str(),
               seconds, totals.records / std::max(seconds, 1e-9),
               totals.bytes / 1e6 / std::max(seconds, 1e-9));
  if (!status.ok()) {
    PV_LOG(ERROR) << status;
    return absl::IsCancelled(status) ? 130 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace pv::ingest

int main(int argc, char** argv) {
  pv::ParseCommandLine(argc, argv, pv::ingest::kUsage);
  pv::SetLogTag("import");
  pv::InstallShutdownHandlers();
  return pv::ingest::Run();
}
