// Byte-level encoding helpers for the segment format (see format.h) and the
// partial-result files (cc/etl/PARTIAL_FORMAT.md): little-endian fixed-width
// integers, LEB128 varints and zigzag mapping.
#ifndef PV_SEGMENT_CODING_H_
#define PV_SEGMENT_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/string_view.h"

namespace pv::segment::internal {

inline void PutFixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void PutFixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline uint32_t GetFixed32(const char* src) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(src[i])) << (8 * i);
  }
  return v;
}
inline uint64_t GetFixed64(const char* src) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v |= static_cast<uint64_t>(static_cast<unsigned char>(src[i])) << (8 * i);
  }
  return v;
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

// Appends `v` as a varint (1..10 bytes).
inline void PutVarint(std::string* dst, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  dst->append(buf, n);
}

inline void PutLengthPrefixed(std::string* dst, absl::string_view bytes) {
  PutVarint(dst, bytes.size());
  dst->append(bytes.data(), bytes.size());
}

// Reads from a bounded byte range; every Get* returns false (and leaves the
// cursor unspecified) on running past the end or on a malformed varint.
class ByteReader {
 public:
  ByteReader(const char* data, size_t size) : begin_(data), p_(data), end_(data + size) {}

  size_t position() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }

  bool GetVarint(uint64_t* v) {
    uint64_t result = 0;
    for (int shift = 0; shift <= 63 && p_ < end_; shift += 7) {
      uint64_t byte = static_cast<unsigned char>(*p_++);
      if (shift == 63 && byte > 1) return false;  // more than 64 bits
      result |= (byte & 0x7F) << shift;
      if (byte < 0x80) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  bool GetZigZag(int64_t* v) {
    uint64_t u;
    if (!GetVarint(&u)) return false;
    *v = UnZigZag(u);
    return true;
  }
  bool GetLengthPrefixed(absl::string_view* bytes) {
    uint64_t n;
    if (!GetVarint(&n) || n > remaining()) return false;
    *bytes = absl::string_view(p_, n);
    p_ += n;
    return true;
  }

 private:
  const char* begin_;
  const char* p_;
  const char* end_;
};

}  // namespace pv::segment::internal

#endif  // PV_SEGMENT_CODING_H_
