// DimensionDictionary: interns the natural keys of one dimension (product ids,
// store ids, referrer URLs, device ids) as dense ids. Id 0 is the empty
// string, the Unknown member. Strings are copied into an arena owned by the
// dictionary, so the views it hands out live as long as it does.
//
// Not thread-safe: the batch job keeps one per thread and per dimension, and
// merges them once at the end (see scan.h).
#ifndef PV_ETL_DICTIONARY_H_
#define PV_ETL_DICTIONARY_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace pv::etl {

class DimensionDictionary {
 public:
  DimensionDictionary();
  DimensionDictionary(const DimensionDictionary&) = delete;
  DimensionDictionary& operator=(const DimensionDictionary&) = delete;
  DimensionDictionary(DimensionDictionary&&) = default;
  DimensionDictionary& operator=(DimensionDictionary&&) = default;

  // The id of `key`, adding it if new. Empty -> 0.
  uint32_t Intern(absl::string_view key);
  // The id of `key`, or -1 if absent.
  int64_t Find(absl::string_view key) const;
  // Makes room for `members` members in all without rehashing.
  void Reserve(size_t members);
  // Number of members, the Unknown member included.
  size_t size() const { return keys_.size(); }
  absl::string_view key(uint32_t id) const { return keys_[id]; }
  // Bytes held by the arena and the tables (for the memory report).
  size_t MemoryBytes() const;

 private:
  absl::string_view Store(absl::string_view key);

  absl::flat_hash_map<absl::string_view, uint32_t> ids_;
  std::vector<absl::string_view> keys_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  char* free_ = nullptr;
  size_t free_size_ = 0;
  size_t arena_bytes_ = 0;
};

}  // namespace pv::etl

#endif  // PV_ETL_DICTIONARY_H_
