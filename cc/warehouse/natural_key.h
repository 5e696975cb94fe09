// The digest that identifies a dimension member by its natural key in the
// warehouse: md5(natural key) as a PostgreSQL uuid, the dimensions' `nk_md5`
// column (sql/005_dimension_member_digest.sql). Natural keys are unique
// through a unique index on it; the loader computes it for the members it
// stages and inserts, so PostgreSQL never hashes a key's text, and finds a
// night's existing members by testing each dimension row's digest against
// the staged ones. Equal to `md5(key)::uuid` in SQL, byte for byte. Also
// the order in which new members get their keys (SortByNaturalKey).
#ifndef PV_WAREHOUSE_NATURAL_KEY_H_
#define PV_WAREHOUSE_NATURAL_KEY_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace pv::warehouse {

using NaturalKeyDigest = std::array<uint8_t, 16>;

// Computes digests with one reusable OpenSSL context (not thread-safe: one
// digester per thread).
class NaturalKeyDigester {
 public:
  // Fails when the OpenSSL in use provides no MD5 (a FIPS-only build).
  static absl::StatusOr<NaturalKeyDigester> Create();

  NaturalKeyDigest Digest(absl::string_view key);

 private:
  struct Handles;
  explicit NaturalKeyDigester(std::shared_ptr<Handles> h) : h_(std::move(h)) {}
  std::shared_ptr<Handles> h_;
};

// The digests of `keys`, computed on up to `threads` threads.
absl::StatusOr<std::vector<NaturalKeyDigest>> DigestNaturalKeys(
    const std::vector<std::string>& keys, int threads);

// Sorts `ords` (indexes into `naturals`) by their keys' bytes, as unsigned
// chars (std::string's order, PostgreSQL's COLLATE "C"): the order in
// which a load gives new members their keys, so that keys do not depend on
// the order members were found in. Compares 8-byte prefixes as integers
// first, 2-3x faster than comparing strings alone on a million device ids.
void SortByNaturalKey(const std::vector<std::string>& naturals, std::vector<uint32_t>* ords);

}  // namespace pv::warehouse

#endif  // PV_WAREHOUSE_NATURAL_KEY_H_
