#include "cc/ingest/kafka_segment_sink.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cc/common/logging.h"
#include "cc/common/status.h"

namespace pv::ingest {
namespace {

segment::RollingWriterOptions WriterOptions(const KafkaSegmentSinkOptions& o) {
  segment::RollingWriterOptions w;
  w.dir = o.dir;
  w.kind = segment::SourceKind::kKafka;
  w.source = o.topic;
  w.codec = o.codec;
  w.roll_bytes = o.roll_bytes;
  w.roll_age = o.roll_age;
  w.host = o.host;
  return w;
}

}  // namespace

KafkaSegmentSink::KafkaSegmentSink(KafkaSegmentSinkOptions options, RawStore* raw_store)
    : options_(std::move(options)),
      raw_store_(raw_store),
      catalogue_(options_.dir),
      writer_(WriterOptions(options_)) {}

KafkaSegmentSink::~KafkaSegmentSink() { writer_.Abandon(); }

absl::Status KafkaSegmentSink::Init() {
  // Before reading where partitions resume: a second consume of this topic
  // into this directory would resume at the same offsets.
  PV_RETURN_IF_ERROR(writer_.Lock("consume"));
  PV_RETURN_IF_ERROR(catalogue_.Refresh());
  published_at_start_ = catalogue_.size();
  return absl::OkStatus();
}

absl::Status KafkaSegmentSink::OnAssign(std::vector<kafka::TopicPartitionOffset>* partitions) {
  PV_RETURN_IF_ERROR(catalogue_.Refresh(), "reading published segments in ", options_.dir);
  const absl::flat_hash_map<int32_t, int64_t> next = catalogue_.NextKafkaOffsets(options_.topic);
  std::vector<std::string> where;
  for (kafka::TopicPartitionOffset& tp : *partitions) {
    if (tp.topic != options_.topic) {
      return absl::InternalError(
          absl::StrCat("assigned topic ", tp.topic, ", expected ", options_.topic));
    }
    auto it = next.find(tp.partition);
    tp.offset = it == next.end() ? kafka::kOffsetBeginning : it->second;
    next_[tp.partition] = it == next.end() ? -1 : it->second;
    where.push_back(absl::StrCat(tp.partition, "@",
                                 it == next.end() ? "beginning" : absl::StrCat(it->second)));
  }
  PV_LOG(INFO) << "assigned " << options_.topic << " partitions " << absl::StrJoin(where, ", ")
               << " (resume points from " << catalogue_.size() << " published segments)";
  return absl::OkStatus();
}

absl::Status KafkaSegmentSink::OnRevoke(
    const std::vector<kafka::TopicPartitionOffset>& partitions, bool lost) {
  absl::Status status;
  if (lost) {
    Abandon("the assignment was lost (session timeout?): other members may own the "
            "partitions now");
  } else {
    status = PublishOpen();
  }
  std::vector<std::string> names;
  for (const kafka::TopicPartitionOffset& tp : partitions) {
    next_.erase(tp.partition);
    names.push_back(absl::StrCat(tp.partition));
  }
  PV_LOG(INFO) << (lost ? "lost " : "revoked ") << options_.topic << " partitions "
               << absl::StrJoin(names, ", ");
  return status;
}

absl::Status KafkaSegmentSink::Append(const kafka::ConsumedRecord& m) {
  auto it = next_.find(m.partition);
  if (it == next_.end()) {  // left over from a revoked assignment
    ++totals_.duplicates_dropped;
    return absl::OkStatus();
  }
  const int64_t offset = m.offset;
  if (it->second >= 0 && offset < it->second) {
    ++totals_.duplicates_dropped;
    return absl::OkStatus();
  }
  if (it->second >= 0 && offset > it->second) {
    // Expected with a transactional producer upstream (the mirror): each
    // commit marker takes an offset, an aborted transaction several. The
    // segment's footer positions cover them (see FORMAT.md).
    ++totals_.gaps;
    totals_.offsets_skipped += static_cast<uint64_t>(offset - it->second);
    PV_LOG(DEBUG) << "topic " << options_.topic << " partition " << m.partition
                  << ": expected offset " << it->second << ", got " << offset;
  }
  segment::RecordMeta meta;
  meta.partition = m.partition;
  meta.offset = offset;
  meta.timestamp_ms = m.timestamp_ms;
  meta.key = m.key;
  const std::string where =
      absl::StrCat("topic ", options_.topic, " partition ", m.partition, " offset ", offset);
  PV_RETURN_IF_ERROR(writer_.Append(meta, m.value), where);
  open_start_.emplace(m.partition, it->second >= 0 ? it->second : offset);
  if (raw_store_ != nullptr) {
    PV_RETURN_IF_ERROR(raw_store_->Add(options_.topic, m.partition, offset, m.value), where);
  }
  it->second = offset + 1;
  ++totals_.messages;
  totals_.bytes += m.value.size();
  return absl::OkStatus();
}

absl::Status KafkaSegmentSink::PublishIfDue() {
  return writer_.Due() ? PublishOpen() : absl::OkStatus();
}

absl::Status KafkaSegmentSink::PublishOpen() {
  if (raw_store_ != nullptr) PV_RETURN_IF_ERROR(raw_store_->Flush());
  if (writer_.open() == nullptr) return absl::OkStatus();
  if (consumer_ != nullptr && consumer_->AssignmentLost()) {
    Abandon("the assignment was lost before publishing");
    return absl::OkStatus();
  }
  // Where the consumer stands now: past every record appended, and past the
  // transaction markers that followed them.
  for (const auto& [partition, start] : open_start_) {
    auto it = next_.find(partition);
    if (it == next_.end()) continue;  // not ours any more: [first, last + 1)
    int64_t end = it->second;
    if (consumer_ != nullptr) {
      end = std::max(end, consumer_->Position(options_.topic, partition));
    }
    writer_.open()->SetPositions(partition, start, end);
    it->second = end;
  }
  open_start_.clear();
  PV_ASSIGN_OR_RETURN(std::optional<segment::SegmentInfo> info, writer_.Publish());
  catalogue_.Add(*info);
  ++totals_.segments;
  totals_.segment_bytes += info->file_bytes;
  totals_.last_published = absl::Now();
  std::vector<kafka::TopicPartitionOffset> commit;
  for (const segment::PartitionRange& r : info->ranges) {
    commit.push_back({options_.topic, r.partition, r.end_position});
  }
  CommitForLagTools(commit, "offsets published but not committed to Kafka");
  return absl::OkStatus();
}

void KafkaSegmentSink::CommitForLagTools(const std::vector<kafka::TopicPartitionOffset>& offsets,
                                         absl::string_view what) {
  if (consumer_ == nullptr || offsets.empty()) return;
  absl::Status committed = consumer_->Commit(offsets);
  if (!committed.ok()) {
    PV_LOG(WARNING) << what << " (only lag tools read them): " << committed;
    return;
  }
  for (const kafka::TopicPartitionOffset& o : offsets) committed_[o.partition] = o.offset;
}

void KafkaSegmentSink::CommitIdlePositions() {
  // After a lost assignment the position may be past discarded records.
  if (consumer_ == nullptr || consumer_->AssignmentLost()) return;
  std::vector<kafka::TopicPartitionOffset> commit;
  for (const auto& [partition, next] : next_) {
    if (open_start_.contains(partition)) continue;  // committed when published
    const int64_t position = consumer_->Position(options_.topic, partition);
    auto it = committed_.find(partition);
    if (position >= 0 && (it == committed_.end() || position > it->second)) {
      commit.push_back({options_.topic, partition, position});
    }
  }
  CommitForLagTools(commit, "consumer positions past the published offsets not committed");
}

absl::StatusOr<bool> KafkaSegmentSink::AtEnd() {
  if (next_.empty() || consumer_ == nullptr) return false;
  for (const auto& [partition, next] : next_) {
    // read_committed: the high watermark is the last stable offset, and
    // the position runs past a transaction marker that ends the partition.
    PV_ASSIGN_OR_RETURN(kafka::PartitionWatermarks w,
                        consumer_->QueryWatermarks(options_.topic, partition, absl::Seconds(10)));
    const int64_t at = std::max(next, consumer_->Position(options_.topic, partition));
    if (at >= 0 ? at < w.high : w.low < w.high) return false;
  }
  return true;
}

std::string KafkaSegmentSink::LagText(int64_t* total) const {
  std::vector<std::pair<int32_t, std::string>> parts;
  *total = 0;
  for (const auto& [partition, next] : next_) {
    const kafka::PartitionWatermarks w =
        consumer_ == nullptr ? kafka::PartitionWatermarks{partition, -1, -1}
                             : consumer_->CachedWatermarks(options_.topic, partition);
    std::string lag = "?";
    if (w.high >= 0) {
      const int64_t at = std::max(next, consumer_->Position(options_.topic, partition));
      const int64_t n = at >= 0 ? std::max<int64_t>(0, w.high - at) : w.high - w.low;
      *total += n;
      lag = absl::StrCat(n);
    }
    parts.emplace_back(partition, absl::StrCat("p", partition, "=", lag));
  }
  std::sort(parts.begin(), parts.end());
  std::vector<std::string> texts;
  for (auto& p : parts) texts.push_back(std::move(p.second));
  return texts.empty() ? "(no partitions assigned)" : absl::StrJoin(texts, " ");
}

void KafkaSegmentSink::Abandon(absl::string_view why) {
  const segment::SegmentWriter* open = writer_.open();
  if (open == nullptr) return;
  PV_LOG(WARNING) << "discarding the open segment (" << open->records()
                  << " records, consumed again by whoever owns the partitions): " << why;
  writer_.Abandon();
  open_start_.clear();
  ++totals_.abandoned;
}

}  // namespace pv::ingest
