// QuarantineWriter: invalid records, kept with their source coordinates so
// nothing is lost. One NDJSON file per run in the quarantine directory:
//
//   {"segment":"/data/seg/x.pvseg","block":3,"partition":1,"offset":42,
//    "source_id":"","reason":"bad_local_time","detail":"local_time: ...",
//    "payload_base64":"eyJfaWQiOi..."}
//
// The payload is base64 (RFC 4648, padded) so that any bytes (not JSON, not
// UTF-8) survive; the other strings are JSON-escaped to ASCII (kAscii in
// cc/common/json.h), since details quote excerpts of untrusted payloads.
// Thread-safe: Write may be called from scan threads concurrently.
#ifndef PV_ETL_QUARANTINE_H_
#define PV_ETL_QUARANTINE_H_

#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::etl {

struct QuarantinedRecord {
  absl::string_view segment;
  uint64_t block = 0;
  int32_t partition = -1;
  int64_t offset = 0;
  absl::string_view source_id;
  absl::string_view reason;
  absl::string_view detail;
  absl::string_view payload;
};

class QuarantineWriter {
 public:
  // The file is `<dir>/quarantine-<run_name>.ndjson`, created on the first
  // Write (a clean run leaves no file).
  QuarantineWriter(std::string dir, std::string run_name);
  // A writer of `<dir>/<file_name>` (a scan step's temporary file, renamed
  // once complete; see batch_run.h).
  static std::unique_ptr<QuarantineWriter> ForFile(std::string dir,
                                                   const std::string& file_name);
  ~QuarantineWriter();

  // Whether invalid records could be written: creates the directory if
  // needed and a probe file in it (removed again). For a check before the
  // scan, so that an unwritable directory fails the run at once, not at the
  // first invalid record; the error says how to set another one.
  absl::Status CheckWritable() const;

  absl::Status Write(const QuarantinedRecord& record);
  // Flushes and fsyncs; returns the number of records written.
  absl::StatusOr<uint64_t> Close();
  const std::string& path() const { return path_; }
  uint64_t written() const;

 private:
  struct File {};
  QuarantineWriter(File, std::string dir, std::string path);

  std::string dir_;
  std::string path_;
  mutable std::mutex mu_;
  std::FILE* file_ = nullptr;
  uint64_t written_ = 0;
};

}  // namespace pv::etl

#endif  // PV_ETL_QUARANTINE_H_
