// Partial results: the scan of some segments, as a file, so that the scan of
// a run can be done by many processes (Spark tasks, tools/spark/run.sh) and
// merged and loaded by one. The bytes are described in PARTIAL_FORMAT.md.
//
//   // a task:
//   PV_ASSIGN_OR_RETURN(ScanResult scan, Scan(options));
//   Partial p{selection, /*quarantined=*/true, quarantine_name, n, std::move(scan)};
//   PV_ASSIGN_OR_RETURN(std::string path, WritePartialFile(dir, p));
//   // the merging process:
//   PV_ASSIGN_OR_RETURN(Partial q, ReadPartialFile(path));
//   MergeScanResults(std::move(q.scan), &into);
//
// A partial is named by what it covers (PartialName: its selection, whether
// its invalid records were quarantined, and the identities of its segments),
// and published atomically (temporary file, fsync, rename, fsync of the
// directory): a task that is killed leaves no partial, a retried task writes
// the same name with the same bytes, and a reader never sees half a file.
//
// The bytes are canonical: members in natural-key order, facts in grain
// order (ordinals renumbered accordingly), so they depend on what was
// scanned and not on the scan's thread schedule. DecodePartial(EncodePartial
// (p)) is p in that order.
//
// Reading trusts nothing: every length is bounded by the bytes left, every
// ordinal and enumerator is range-checked, the order is checked (so keys and
// grains are distinct), and the whole file is covered by a CRC32C; a
// truncated, extended or bit-flipped file, an unknown version or an
// inconsistent content fails with an error naming the file, the section, the
// field and the byte offset.
#ifndef PV_ETL_PARTIAL_H_
#define PV_ETL_PARTIAL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cc/etl/scan.h"

namespace pv::etl {

inline constexpr uint32_t kPartialVersion = 1;
inline constexpr absl::string_view kPartialSuffix = ".pvpart";

struct Partial {
  DateSelection dates;       // the selection the scan used
  bool quarantined = false;  // its invalid records went to `quarantine_file`
  std::string quarantine_file;  // base name in the quarantine directory, or ""
  uint64_t quarantined_records = 0;
  ScanResult scan;  // inputs[i].path: the path the scanning process read
};

// The selection as a token, for command lines and names: "all",
// "days:2026-01-01,2026-01-03", "range:2026-01-01:2026-01-07",
// "horizon:8:2026-01-07" (or "horizon:8:none"); ParseSelection reads it.
std::string SelectionToken(const DateSelection& dates);
absl::StatusOr<DateSelection> ParseSelection(absl::string_view token);
bool SameSelection(const DateSelection& a, const DateSelection& b);

// "part-<16 hex digits>.pvpart": a hash of the selection, the quarantine
// flag and the segments' base names, byte counts and footer checksums.
std::string PartialName(const Partial& partial);

std::string EncodePartial(const Partial& partial);
// `source` names the bytes in errors (a path).
absl::StatusOr<Partial> DecodePartial(absl::string_view bytes, absl::string_view source);

// Writes `partial` as <dir>/PartialName(partial), atomically; returns the
// path.
absl::StatusOr<std::string> WritePartialFile(const std::string& dir, const Partial& partial);
absl::StatusOr<Partial> ReadPartialFile(const std::string& path);

}  // namespace pv::etl

#endif  // PV_ETL_PARTIAL_H_
