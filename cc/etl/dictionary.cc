#include "cc/etl/dictionary.h"

#include <cstring>

namespace pv::etl {
namespace {
constexpr size_t kChunkSize = 1 << 20;
}  // namespace

DimensionDictionary::DimensionDictionary() { keys_.push_back({}); }

absl::string_view DimensionDictionary::Store(absl::string_view key) {
  if (key.size() > kChunkSize / 4) {
    // Large keys (long URLs) get their own allocation.
    chunks_.push_back(std::make_unique<char[]>(key.size()));
    std::memcpy(chunks_.back().get(), key.data(), key.size());
    arena_bytes_ += key.size();
    return absl::string_view(chunks_.back().get(), key.size());
  }
  if (free_size_ < key.size()) {
    chunks_.push_back(std::make_unique<char[]>(kChunkSize));
    free_ = chunks_.back().get();
    free_size_ = kChunkSize;
    arena_bytes_ += kChunkSize;
  }
  std::memcpy(free_, key.data(), key.size());
  absl::string_view stored(free_, key.size());
  free_ += key.size();
  free_size_ -= key.size();
  return stored;
}

uint32_t DimensionDictionary::Intern(absl::string_view key) {
  if (key.empty()) return 0;
  auto it = ids_.find(key);
  if (it != ids_.end()) return it->second;
  absl::string_view stored = Store(key);
  uint32_t id = static_cast<uint32_t>(keys_.size());
  keys_.push_back(stored);
  ids_.emplace(stored, id);
  return id;
}

void DimensionDictionary::Reserve(size_t members) {
  ids_.reserve(members);
  keys_.reserve(members);
}

int64_t DimensionDictionary::Find(absl::string_view key) const {
  if (key.empty()) return 0;
  auto it = ids_.find(key);
  return it == ids_.end() ? -1 : static_cast<int64_t>(it->second);
}

size_t DimensionDictionary::MemoryBytes() const {
  return arena_bytes_ + keys_.capacity() * sizeof(absl::string_view) +
         ids_.capacity() * (sizeof(absl::string_view) + sizeof(uint32_t) + 1);
}

}  // namespace pv::etl
