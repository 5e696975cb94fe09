// Test helpers for the batch job: segment files of generated events (with
// hand-written messy records mixed in) and a canonical, ordinal-free view of
// a StarBatch so that two scans can be compared.
#ifndef PV_ETL_TEST_SUPPORT_H_
#define PV_ETL_TEST_SUPPORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cc/star/star_batch.h"
#include "tools/datagen/generator.h"

namespace pv::etl::testing {

// Hand-written records for every decoding rule of DESIGN.md "Events", all on
// day `date` ("YYYY-MM-DD"): numbers vs strings, null/empty/missing, escapes,
// $oid, a 10 KB URL, a "T" timestamp, a JSON array, broken JSON...
std::vector<std::string> MessyRecords(const std::string& date);

// Writes `records` into `dir` as Kafka-like segments of topic product_views
// (3 partitions, round robin, `per_segment` records per file), continuing
// after the offsets and names of the segments already in `dir` (as a
// consumer of the next night would). Returns the published paths.
absl::StatusOr<std::vector<std::string>> WriteSegments(
    const std::string& dir, const std::vector<std::string>& records,
    size_t per_segment);

// Generated events followed by MessyRecords(messy_date).
std::vector<std::string> GenerateRecords(const datagen::GeneratorOptions& options,
                                         const std::string& messy_date);

// One line per dimension member and fact row, by natural keys, sorted.
std::string CanonicalText(const star::StarBatch& batch);

}  // namespace pv::etl::testing

#endif  // PV_ETL_TEST_SUPPORT_H_
