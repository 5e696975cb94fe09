#include "cc/segment/catalogue.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "cc/common/status.h"

namespace pv::segment {

absl::Status SegmentCatalogue::Refresh() {
  PV_ASSIGN_OR_RETURN(std::vector<std::string> paths, ListSegments(dir_));
  std::map<std::string, SegmentInfo> fresh;
  for (const std::string& path : paths) {
    const std::string name = path.substr(path.rfind('/') + 1);
    auto it = by_name_.find(name);
    if (it != by_name_.end()) {
      fresh.emplace(name, std::move(it->second));
      continue;
    }
    absl::StatusOr<std::unique_ptr<SegmentReader>> reader =
        SegmentReader::Open(path);
    if (!reader.ok()) {
      return Annotate(reader.status(),
                      "cannot resume: a published segment is unreadable (move it away "
                      "only if you know which records it held)");
    }
    fresh.emplace(name, (*reader)->info());
  }
  by_name_ = std::move(fresh);
  return absl::OkStatus();
}

void SegmentCatalogue::Add(const SegmentInfo& info) {
  by_name_[info.path.substr(info.path.rfind('/') + 1)] = info;
}

absl::flat_hash_map<int32_t, int64_t> SegmentCatalogue::NextKafkaOffsets(
    absl::string_view topic) const {
  absl::flat_hash_map<int32_t, int64_t> next;
  for (const auto& [name, info] : by_name_) {
    if (info.kind != SourceKind::kKafka || info.source != topic) continue;
    for (const PartitionRange& r : info.ranges) {
      if (r.records == 0) continue;
      auto [it, inserted] = next.emplace(r.partition, r.end_position);
      if (!inserted) it->second = std::max(it->second, r.end_position);
    }
  }
  return next;
}

const SegmentInfo* SegmentCatalogue::Newest(SourceKind kind,
                                                      absl::string_view source) const {
  const SegmentInfo* best = nullptr;
  for (const auto& [name, info] : by_name_) {  // by name: later names win ties
    if (info.kind != kind || info.source != source || info.records == 0) continue;
    if (best == nullptr || info.created_unix_ms >= best->created_unix_ms) best = &info;
  }
  return best;
}

}  // namespace pv::segment
