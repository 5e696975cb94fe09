// PostgreSQL binary COPY format (COPY ... (FORMAT binary)): an encoder for
// rows we send and a decoder for rows we read back.
//
// Binary COPY avoids the server's text parsing, which dominates CSV loads.
// Layout (PostgreSQL docs, "COPY", binary format): an 11-byte signature, two
// int32 (flags, extension length); per row an int16 field count, then per
// field an int32 length (-1 for NULL) and the value in network byte order;
// an int16 -1 trailer. Timestamps are microseconds since 2000-01-01.
#ifndef PV_WAREHOUSE_COPY_BINARY_H_
#define PV_WAREHOUSE_COPY_BINARY_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::warehouse {

// Seconds between 1970-01-01 and 2000-01-01 (PostgreSQL's epoch).
inline constexpr int64_t kPgEpochUnixSeconds = 946684800;

// Appends binary COPY data to a string. Not thread-safe; cheap to reuse.
class CopyBinaryEncoder {
 public:
  explicit CopyBinaryEncoder(std::string* out) : out_(out) {}

  void Header();
  void Trailer() { Int16(-1); }
  void StartRow(int16_t fields) { Int16(fields); }

  void Int4(int32_t v) { Length(4); Raw32(static_cast<uint32_t>(v)); }
  void Int8(int64_t v) { Length(8); Raw64(static_cast<uint64_t>(v)); }
  void Float8(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    Length(8);
    Raw64(bits);
  }
  void Bool(bool v) { Length(1); out_->push_back(v ? 1 : 0); }
  void Text(absl::string_view v) {
    Length(static_cast<int32_t>(v.size()));
    out_->append(v.data(), v.size());
  }
  // `timestamp` / `timestamptz` from Unix seconds.
  void TimestampUnix(int64_t unix_seconds) {
    Int8((unix_seconds - kPgEpochUnixSeconds) * 1000000);
  }
  void TimestampUnixMicros(int64_t unix_micros) {
    Int8(unix_micros - kPgEpochUnixSeconds * 1000000);
  }
  // `date` from days since 1970-01-01.
  void DateFromUnixDay(int32_t day) {
    Int4(day - static_cast<int32_t>(kPgEpochUnixSeconds / 86400));
  }
  // `uuid`: its 16 bytes, in order.
  void Uuid(const std::array<uint8_t, 16>& v) {
    Length(16);
    out_->append(reinterpret_cast<const char*>(v.data()), v.size());
  }
  void Null() { Length(-1); }

 private:
  friend std::string BinaryUuidArray(const std::vector<std::array<uint8_t, 16>>& values);

  void Int16(int16_t v) {
    uint16_t u = static_cast<uint16_t>(v);
    char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u)};
    out_->append(b, 2);
  }
  void Length(int32_t n) { Raw32(static_cast<uint32_t>(n)); }
  void Raw32(uint32_t v) {
    v = __builtin_bswap32(v);
    out_->append(reinterpret_cast<const char*>(&v), 4);
  }
  void Raw64(uint64_t v) {
    v = __builtin_bswap64(v);
    out_->append(reinterpret_cast<const char*>(&v), 8);
  }

  std::string* out_;
};

// A one-dimensional uuid[] without NULLs in PostgreSQL's binary format
// (array_recv: the same big-endian words and length-prefixed values as
// binary COPY), for a binary query parameter.
std::string BinaryUuidArray(const std::vector<std::array<uint8_t, 16>>& values);

// Reads binary COPY output row by row. The data must outlive the decoder.
//
//   CopyBinaryDecoder d(data);
//   PV_RETURN_IF_ERROR(d.ReadHeader());
//   while (true) {
//     PV_ASSIGN_OR_RETURN(int fields, d.NextRow());  // -1 at the end
//     if (fields < 0) break;
//     PV_ASSIGN_OR_RETURN(int32_t id, d.Int4());
//   }
class CopyBinaryDecoder {
 public:
  explicit CopyBinaryDecoder(absl::string_view data) : data_(data) {}

  absl::Status ReadHeader();
  // Field count of the next row, or -1 after the trailer.
  absl::StatusOr<int> NextRow();
  absl::StatusOr<int32_t> Int4();
  absl::StatusOr<int64_t> Int8();
  // A text/bytea field; NULL reads as empty with *is_null set.
  absl::StatusOr<absl::string_view> Bytes(bool* is_null = nullptr);

 private:
  absl::StatusOr<uint32_t> U32();
  absl::StatusOr<int32_t> FieldLength();
  absl::string_view data_;
  size_t pos_ = 0;
};

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_COPY_BINARY_H_
