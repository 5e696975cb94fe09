// libFuzzer entry point for the partial-result reader (partial.h): any bytes
// must be rejected with a Status or decoded into a result whose encoding
// decodes and encodes to itself again (the encoding is canonical); never a crash, hang, out-of-bounds access or unbounded
// allocation.
//
// Each input is tried twice: as given, and with the trailer's length and
// checksum made right, since a mutated file almost never passes the CRC32C
// and would otherwise never reach the sections.
//
//   bazel build --config=fuzz //cc/etl:partial_fuzz
//   bazel-bin/cc/etl/partial_fuzz -max_total_time=60 CORPUS_DIR cc/etl/testdata/partial_fuzz_seeds
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cc/etl/partial.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"

namespace {

void Try(const std::string& bytes) {
  absl::StatusOr<pv::etl::Partial> p = pv::etl::DecodePartial(bytes, "fuzz input");
  if (!p.ok()) return;
  const std::string once = pv::etl::EncodePartial(*p);
  absl::StatusOr<pv::etl::Partial> again = pv::etl::DecodePartial(once, "re-encoded input");
  if (!again.ok() || pv::etl::EncodePartial(*again) != once) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  Try(bytes);
  if (bytes.size() >= 28) {
    const size_t end = bytes.size() - 16;
    pv::segment::internal::PutFixed64(&bytes[end], end);
    pv::segment::internal::PutFixed32(&bytes[end + 8], pv::segment::Crc32c(bytes.data(), end));
    std::memcpy(&bytes[end + 12], "PVPE", 4);
    Try(bytes);
  }
  return 0;
}
