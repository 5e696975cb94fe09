// CRC32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78), the
// checksum of segment blocks, footers and headers.
//
//   uint32_t crc = pv::segment::Crc32c(data, size);
//   crc = pv::segment::Crc32cExtend(crc, more, more_size);  // of data+more
//
// The SSE4.2 CRC32 instruction is used when the CPU has it (chosen once, at
// first use, with __builtin_cpu_supports); otherwise a portable table
// implementation. Both give identical results. Thread-safe, no allocation.
#ifndef PV_SEGMENT_CRC32C_H_
#define PV_SEGMENT_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace pv::segment {

// Returns the CRC32C of the concatenation A+B, given `crc` = CRC32C(A) and
// B = data[0, size). Crc32cExtend(0, ...) starts a new checksum.
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t size);

inline uint32_t Crc32c(const void* data, size_t size) {
  return Crc32cExtend(0, data, size);
}

namespace internal {
// The two kernels behind Crc32cExtend, exposed so tests can compare them.
// REQUIRES for Crc32cExtendSse42: Crc32cHasSse42().
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t size);
uint32_t Crc32cExtendSse42(uint32_t crc, const void* data, size_t size);
bool Crc32cHasSse42();
}  // namespace internal

}  // namespace pv::segment

#endif  // PV_SEGMENT_CRC32C_H_
