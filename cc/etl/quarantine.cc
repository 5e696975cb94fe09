#include "cc/etl/quarantine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "cc/common/json.h"
#include "cc/common/status.h"

namespace pv::etl {
QuarantineWriter::QuarantineWriter(std::string dir, std::string run_name)
    : dir_(std::move(dir)),
      path_(absl::StrCat(dir_, "/quarantine-", run_name, ".ndjson")) {}

QuarantineWriter::QuarantineWriter(File, std::string dir, std::string path)
    : dir_(std::move(dir)), path_(std::move(path)) {}

std::unique_ptr<QuarantineWriter> QuarantineWriter::ForFile(std::string dir,
                                                            const std::string& file_name) {
  std::string path = absl::StrCat(dir, "/", file_name);
  return std::unique_ptr<QuarantineWriter>(
      new QuarantineWriter(File{}, std::move(dir), std::move(path)));
}

QuarantineWriter::~QuarantineWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

uint64_t QuarantineWriter::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

absl::Status QuarantineWriter::CheckWritable() const {
  auto unwritable = [&](int err, absl::string_view op, const std::string& what) {
    return pv::Annotate(
        ErrnoStatus(err, op, what),
        absl::StrCat("quarantine directory ", dir_, " is not writable, so invalid records "
                     "could not be kept (set another one with --quarantine or "
                     "PV_QUARANTINE_DIR, apart from a read-only segments directory)"));
  };
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return unwritable(errno, "create", dir_);
  }
  const std::string probe = absl::StrCat(dir_, "/.pv-probe-", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return unwritable(errno, "create", probe);
  const bool written = ::write(fd, "x", 1) == 1;
  const int err = errno;
  ::close(fd);
  ::unlink(probe.c_str());
  if (!written) return unwritable(err, "write", probe);
  return absl::OkStatus();
}

absl::Status QuarantineWriter::Write(const QuarantinedRecord& r) {
  std::string line = "{\"segment\":";
  AppendJsonString(&line, r.segment, JsonEscaping::kAscii);
  absl::StrAppend(&line, ",\"block\":", r.block, ",\"partition\":", r.partition,
                  ",\"offset\":", r.offset, ",\"source_id\":");
  AppendJsonString(&line, r.source_id, JsonEscaping::kAscii);
  line.append(",\"reason\":");
  AppendJsonString(&line, r.reason, JsonEscaping::kAscii);
  line.append(",\"detail\":");
  AppendJsonString(&line, r.detail, JsonEscaping::kAscii);
  line.append(",\"payload_base64\":\"");
  line.append(absl::Base64Escape(r.payload));
  line.append("\"}\n");
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr) {
    if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create quarantine directory", dir_);
    }
    file_ = std::fopen(path_.c_str(), "a");
    if (file_ == nullptr) return ErrnoStatus(errno, "open", path_);
  }
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    return ErrnoStatus(errno, "write", path_);
  }
  ++written_;
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> QuarantineWriter::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr) {
    if (std::fflush(file_) != 0 || ::fsync(fileno(file_)) != 0) {
      int err = errno;
      std::fclose(file_);
      file_ = nullptr;
      return ErrnoStatus(err, "flush", path_);
    }
    std::fclose(file_);
    file_ = nullptr;
  }
  return written_;
}

}  // namespace pv::etl
