#include "cc/etl/quarantine.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "cc/common/status.h"

namespace pv::etl {
namespace {

void AppendJsonString(std::string* out, absl::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          // Non-ASCII bytes are escaped one by one: details quote excerpts
          // of payloads that may not be valid UTF-8.
          absl::StrAppend(out, "\\u00", absl::Hex(c, absl::kZeroPad2));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

}  // namespace

std::string Base64Encode(absl::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                 (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < data.size()) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

QuarantineWriter::QuarantineWriter(std::string dir, std::string run_name)
    : dir_(std::move(dir)),
      path_(absl::StrCat(dir_, "/quarantine-", run_name, ".ndjson")) {}

QuarantineWriter::~QuarantineWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

uint64_t QuarantineWriter::written() const {
  std::lock_guard<std::mutex> lock(mu_);
  return written_;
}

absl::Status QuarantineWriter::Write(const QuarantinedRecord& r) {
  std::string line = "{\"segment\":";
  AppendJsonString(&line, r.segment);
  absl::StrAppend(&line, ",\"block\":", r.block, ",\"partition\":", r.partition,
                  ",\"offset\":", r.offset, ",\"source_id\":");
  AppendJsonString(&line, r.source_id);
  line.append(",\"reason\":");
  AppendJsonString(&line, r.reason);
  line.append(",\"detail\":");
  AppendJsonString(&line, r.detail);
  line.append(",\"payload_base64\":\"");
  line.append(Base64Encode(r.payload));
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
