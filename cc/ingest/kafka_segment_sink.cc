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
  // Under the lock, and only this host name's: other hosts' writers may be
  // alive (their pids mean nothing here), and a live writer of this host
  // and topic would have held the lock.
  PV_ASSIGN_OR_RETURN(temp_files_removed_at_start_, writer_.RemoveDeadWritersTempFiles());
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
    // Whatever stopped the publish, its records must not be published after
    // the partitions are gone: their next owner consumes them again.
    if (!status.ok()) Abandon("it could not be published before the revocation");
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
  // After a failed append the consumer's position is past a record that is
  // not in the segment (an end position taken from it would skip the
  // record for good), or the raw store misses one that is: the open segment
  // goes, and its records are consumed again.
  if (absl::Status s = writer_.Append(meta, m.value); !s.ok()) {
    Abandon("appending a record failed");
    return Annotate(s, where);
  }
  open_start_.emplace(m.partition, it->second >= 0 ? it->second : offset);
  it->second = offset + 1;
  if (raw_store_ != nullptr) {
    if (absl::Status s = raw_store_->Add(options_.topic, m.partition, offset, m.value);
        !s.ok()) {
      Abandon("the raw store failed");
      return Annotate(s, where);
    }
  }
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
  for (const auto& entry : open_start_) {
    if (next_.contains(entry.first)) continue;  // OnRevoke discards what it cannot publish
    const std::string why = absl::StrCat("topic ", options_.topic, " partition ", entry.first,
                                         " is in the open segment but no longer assigned here");
    Abandon(why);
    return absl::InternalError(absl::StrCat(why, "; the open segment is discarded"));
  }
  PV_RETURN_IF_ERROR(CheckNoOtherWriter());
  // Where the consumer stands now: past every record appended, and past the
  // transaction markers that followed them.
  std::vector<std::pair<int32_t, int64_t>> ends;
  for (const auto& [partition, start] : open_start_) {
    int64_t end = next_.at(partition);
    if (consumer_ != nullptr) {
      end = std::max(end, consumer_->Position(options_.topic, partition));
    }
    writer_.open()->SetPositions(partition, start, end);
    ends.emplace_back(partition, end);
  }
  absl::StatusOr<std::optional<segment::SegmentInfo>> published = writer_.Publish();
  if (!published.ok()) {
    // Abandoned by the writer (or renamed, its directory not synced): the
    // partitions resume from the directory when they are assigned again.
    for (const auto& [partition, start] : open_start_) next_.erase(partition);
    open_start_.clear();
    return published.status();
  }
  for (const auto& [partition, end] : ends) next_[partition] = end;
  open_start_.clear();
  const std::optional<segment::SegmentInfo>& info = *published;
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

absl::Status KafkaSegmentSink::CheckNoOtherWriter() {
  PV_RETURN_IF_ERROR(catalogue_.Refresh(), "reading published segments in ", options_.dir,
                     " before publishing");
  const absl::flat_hash_map<int32_t, int64_t> next = catalogue_.NextKafkaOffsets(options_.topic);
  for (const auto& [partition, start] : open_start_) {
    auto it = next.find(partition);
    if (it == next.end() || it->second <= start) continue;
    // Someone else's segment of this partition ends past where ours begins
    // (ours would be the only writer of the partition's newest positions).
    std::string by = "another writer";
    for (const auto& [name, info] : catalogue_.segments()) {
      if (info.kind != segment::SourceKind::kKafka || info.source != options_.topic) continue;
      for (const segment::PartitionRange& r : info.ranges) {
        if (r.partition == partition && r.records > 0 && r.end_position == it->second) {
          by = name;
        }
      }
    }
    const std::string why = absl::StrCat(
        "topic ", options_.topic, " partition ", partition, " was published up to position ",
        it->second, " by ", by, " after this process's open segment began at ", start,
        ": the partition was taken from this process without a revocation reaching it (a "
        "member paused past its session or poll timeout?)");
    Abandon(why);  // clears open_start_: leave the loop now
    return absl::FailedPreconditionError(absl::StrCat(
        "not publishing: ", why, "; the open segment is discarded, restart consume to rejoin"));
  }
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
  // Positions of the discarded records were consumed here but are nowhere
  // on disk: nothing more of these partitions until they are assigned again
  // and resume from the directory.
  for (const auto& [partition, start] : open_start_) next_.erase(partition);
  open_start_.clear();
  ++totals_.abandoned;
}

}  // namespace pv::ingest
