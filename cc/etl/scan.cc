#include "cc/etl/scan.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "cc/common/crash_point.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
#include "cc/common/threads.h"
#include "cc/etl/dictionary.h"
#include "cc/etl/fact_columns.h"
#include "cc/segment/segment.h"
#include "cc/star/attributes.h"
#include "cc/star/grain_hash.h"
#include "oneapi/tbb/blocked_range.h"
#include "oneapi/tbb/enumerable_thread_specific.h"
#include "oneapi/tbb/global_control.h"
#include "oneapi/tbb/parallel_for.h"

// ThreadSanitizer builds run the scan on std::threads (see Scan below).
#if defined(__SANITIZE_THREAD__)
#define PV_SCAN_STD_THREADS 1
#endif

namespace pv::etl {
namespace {

static_assert(segment::kPayloadPadding >= event::kPadding,
              "segment payloads must carry the parser's padding");

using star::kNoPick;

// A grain key as the fact tables store it: 20 bytes, no hash (the tables
// rehash with star::HashGrain, the function the SIMD kernel computes).
struct GrainKey {
  int32_t day;
  uint32_t product, store, referrer, device;
  bool operator==(const GrainKey& o) const {
    return day == o.day && product == o.product && store == o.store &&
           referrer == o.referrer && device == o.device;
  }
};
// A key with its hash already computed (by the SIMD kernel, or once by
// Key()): what lookups pass, so that the table does not hash it again.
struct HashedGrainKey {
  GrainKey key;
  uint64_t hash;
  operator GrainKey() const { return key; }  // NOLINT: stored as the key
};
struct GrainKeyHash {
  using is_transparent = void;
  size_t operator()(const GrainKey& k) const {
    return star::HashGrain(k.day, k.product, k.store, k.referrer, k.device);
  }
  size_t operator()(const HashedGrainKey& k) const { return k.hash; }
};
struct GrainKeyEq {
  using is_transparent = void;
  bool operator()(const GrainKey& a, const GrainKey& b) const { return a == b; }
  bool operator()(const GrainKey& a, const HashedGrainKey& b) const { return a == b.key; }
  bool operator()(const HashedGrainKey& a, const GrainKey& b) const { return a.key == b; }
};
// A grain's measures: 24 bytes. Every event of a grain falls on the grain's
// day (day = floor(local_time / 86400)), so first and last are kept as
// seconds into that day.
struct FactAgg {
  int64_t count = 0;
  int64_t sum_time = 0;
  int32_t min_second = INT32_MAX;
  int32_t max_second = INT32_MIN;
  void Add(int64_t t, int32_t day) {
    const int32_t second = static_cast<int32_t>(t - int64_t{day} * 86400);
    ++count;
    sum_time += t;
    min_second = std::min(min_second, second);
    max_second = std::max(max_second, second);
  }
  void Merge(const FactAgg& o) {
    count += o.count;
    sum_time += o.sum_time;
    min_second = std::min(min_second, o.min_second);
    max_second = std::max(max_second, o.max_second);
  }
  static FactAgg Of(const star::FactRow& f) {
    const int64_t start = int64_t{f.day} * 86400;
    return {f.view_count, f.sum_time, static_cast<int32_t>(f.min_time - start),
            static_cast<int32_t>(f.max_time - start)};
  }
};
static_assert(sizeof(GrainKey) == 20 && sizeof(FactAgg) == 24, "the fact table's slot size");
using FactMap = absl::flat_hash_map<GrainKey, FactAgg, GrainKeyHash, GrainKeyEq>;

star::FactRow Row(const GrainKey& k, const FactAgg& a) {
  const int64_t start = int64_t{k.day} * 86400;
  return {k.day,   k.product, k.store,   k.referrer,          k.device,
          a.count, start + a.min_second, start + a.max_second, a.sum_time};
}

HashedGrainKey Key(int32_t day, uint32_t product, uint32_t store, uint32_t referrer,
                   uint32_t device) {
  return {{day, product, store, referrer, device},
          star::HashGrain(day, product, store, referrer, device)};
}

// The store rule's candidate: (time, domain), smallest wins.
struct StorePick {
  int64_t time = kNoPick;
  std::string domain;
  bool WouldTake(int64_t t) const { return t <= time; }
  void Offer(int64_t t, absl::string_view d) {
    if (t < time || (t == time && d < domain)) {
      time = t;
      domain.assign(d.data(), d.size());
    }
  }
};

// The device rule's candidate: (time, code), smallest wins.
struct DevicePick {
  int64_t time = kNoPick;
  uint32_t code = 0;
  bool WouldTake(int64_t t) const { return t <= time; }
  void Offer(int64_t t, uint32_t c) {
    if (t < time || (t == time && c < code)) {
      time = t;
      code = c;
    }
  }
};

// What one thread counted of one segment.
struct SegmentCounts {
  uint64_t invalid = 0;
  absl::flat_hash_map<int32_t, uint64_t> day_events;
};

// Which days keep facts, as one block sees it: [lo, hi], and for a sparse
// day list the allowed days of that range.
struct FactWindow {
  int32_t lo = 1, hi = 0;  // empty
  const std::vector<uint8_t>* allowed = nullptr;  // indexed by day - lo
};

// Everything one scan thread owns.
struct ThreadState {
  event::EventParser parser;
  segment::Block block;
  DimensionDictionary products, stores, referrers, devices;
  std::vector<StorePick> store_pick{1};
  std::vector<DevicePick> device_pick{1};
  absl::flat_hash_map<int32_t, DayEvents> day_events;
  std::vector<SegmentCounts> segments;  // by input index
  FactMap facts;
  int32_t newest = INT32_MIN;    // kHorizon: newest day seen (or the floor)
  int32_t pruned_below = INT32_MIN;  // facts of days below this were dropped
  ScanCounts counts;
  // Column buffers of the current block's valid events.
  std::vector<int32_t> col_day;
  std::vector<uint32_t> col_product, col_store, col_referrer, col_device;
  std::vector<int64_t> col_time;
  std::vector<uint32_t> selected;
  std::vector<uint64_t> hashes;
  absl::flat_hash_map<std::string, uint32_t> ua_cache;
};

struct BlockRef {
  uint32_t segment;
  uint32_t block;
};

// The selection, prepared once for all threads.
struct Selection {
  DateSelection dates;
  std::vector<uint8_t> allowed;  // kDays: allowed[d - days.front()]
};

uint32_t DeviceCode(ThreadState& st, absl::string_view ua) {
  auto it = st.ua_cache.find(ua);
  if (it != st.ua_cache.end()) return it->second;
  uint32_t code = star::ParseUserAgent(ua).Code();
  if (st.ua_cache.size() > 100000) st.ua_cache.clear();  // bound memory
  st.ua_cache.emplace(std::string(ua), code);
  return code;
}

// The fact window for the next block of `st`, whose newest day is
// `block_newest`; in horizon mode, drops facts that fell out of it.
FactWindow WindowFor(const Selection& sel, ThreadState& st, int32_t block_newest) {
  FactWindow w;
  const DateSelection& d = sel.dates;
  switch (d.mode) {
    case DateSelection::Mode::kDays:
      if (!d.days.empty()) {
        w.lo = d.days.front();
        w.hi = d.days.back();
        w.allowed = &sel.allowed;
      }
      return w;
    case DateSelection::Mode::kRange:
      w.lo = d.first_day;
      w.hi = d.last_day;
      return w;
    case DateSelection::Mode::kAll:
      w.lo = INT32_MIN;
      w.hi = INT32_MAX;
      return w;
    case DateSelection::Mode::kHorizon: {
      st.newest = std::max({st.newest, d.newest_floor, block_newest});
      if (st.newest == INT32_MIN) return w;
      w.lo = static_cast<int32_t>(std::max<int64_t>(
          INT32_MIN, static_cast<int64_t>(st.newest) - d.horizon + 1));
      w.hi = INT32_MAX;
      if (w.lo > st.pruned_below) {
        // Days below the window can never come back into it: drop them.
        absl::erase_if(st.facts, [&](const auto& kv) { return kv.first.day < w.lo; });
        st.pruned_below = w.lo;
      }
      return w;
    }
  }
  return w;
}

absl::Status ScanBlock(const segment::SegmentReader& reader, const std::string& path,
                       uint32_t segment_index, uint32_t block_index, bool quarantine,
                       const ScanOptions& options, const Selection& sel, ThreadState& st) {
  PV_RETURN_IF_ERROR(reader.ReadBlock(block_index, &st.block));
  CrashPoint("scan.block");  // tests: a scan killed in the middle
  if (st.segments.size() <= segment_index) st.segments.resize(options.segments.size());
  SegmentCounts& seg = st.segments[segment_index];
  const size_t n = st.block.size();
  st.col_day.clear();
  st.col_product.clear();
  st.col_store.clear();
  st.col_referrer.clear();
  st.col_device.clear();
  st.col_time.clear();
  uint64_t bytes = 0;
  event::Event ev;
  // Events arrive clustered by day: remember the last day's counters.
  int32_t last_day = INT32_MIN;
  DayEvents* day_counts = nullptr;
  uint64_t* segment_day_counts = nullptr;
  for (size_t i = 0; i < n; ++i) {
    const segment::RecordView& rec = st.block.record(i);
    bytes += rec.payload.size();
    if (rec.payload.empty()) {
      ++st.counts.tombstones;
      continue;
    }
    event::Invalid reason = st.parser.Parse(rec.payload, &ev);
    if (reason != event::Invalid::kOk) {
      ++st.counts.invalid[static_cast<size_t>(reason)];
      ++seg.invalid;
      if (quarantine && options.quarantine != nullptr) {
        QuarantinedRecord q;
        q.segment = path;
        q.block = block_index;
        q.partition = rec.partition;
        q.offset = rec.offset;
        q.source_id = rec.source_id;
        q.reason = event::InvalidName(reason);
        q.detail = st.parser.error_detail();
        q.payload = rec.payload;
        PV_RETURN_IF_ERROR(options.quarantine->Write(q));
      }
      continue;
    }
    ++st.counts.valid;
    uint32_t product = st.products.Intern(ev.product_id);
    uint32_t store = st.stores.Intern(ev.store_id);
    uint32_t referrer = st.referrers.Intern(ev.referrer_url);
    uint32_t device = st.devices.Intern(ev.device_id);
    if (ev.day != last_day) {
      last_day = ev.day;
      day_counts = &st.day_events[ev.day];
      segment_day_counts = &seg.day_events[ev.day];
    }
    ++day_counts->valid;
    day_counts->with_product += product != 0;
    ++*segment_day_counts;
    if (store != 0) {
      if (store >= st.store_pick.size()) st.store_pick.resize(store + 1);
      if (!ev.current_url.empty() && st.store_pick[store].WouldTake(ev.local_time)) {
        st.store_pick[store].Offer(ev.local_time, star::StoreDomain(ev.current_url));
      }
    }
    if (device != 0) {
      if (device >= st.device_pick.size()) st.device_pick.resize(device + 1);
      if (!ev.user_agent.empty() && st.device_pick[device].WouldTake(ev.local_time)) {
        st.device_pick[device].Offer(ev.local_time, DeviceCode(st, ev.user_agent));
      }
    }
    st.col_day.push_back(ev.day);
    st.col_product.push_back(product);
    st.col_store.push_back(store);
    st.col_referrer.push_back(referrer);
    st.col_device.push_back(device);
    st.col_time.push_back(ev.local_time);
  }
  st.counts.records += n;
  st.counts.payload_bytes += bytes;
  if (options.progress != nullptr) options.progress->Add(n, bytes);

  // Facts, a block at a time: select rows in the fact days, hash their
  // grain keys (SIMD, 10x the scalar hash), then probe the hash table.
  const size_t valid = st.col_day.size();
  if (valid == 0) return absl::OkStatus();
  const FactWindow w = WindowFor(sel, st, MaxDay(st.col_day.data(), valid));
  if (w.lo > w.hi) return absl::OkStatus();
  st.selected.resize(valid + 16);
  // Selection stays scalar: with AVX2, Highway's CompressStore of 32-bit
  // lanes measured 3.5x slower than this branch-free loop
  // (benchmarks/etl_benchmark.cc, BM_SelectFactRows).
  size_t k = SelectFactRowsScalar(st.col_day.data(), st.col_product.data(), valid, w.lo, w.hi,
                                  st.selected.data());
  // Gather the selected rows densely (dropping days a sparse list leaves
  // out), then hash them in one kernel call.
  size_t kept = 0;
  for (size_t j = 0; j < k; ++j) {
    uint32_t i = st.selected[j];
    if (w.allowed != nullptr && !(*w.allowed)[st.col_day[i] - w.lo]) continue;
    st.col_day[kept] = st.col_day[i];
    st.col_product[kept] = st.col_product[i];
    st.col_store[kept] = st.col_store[i];
    st.col_referrer[kept] = st.col_referrer[i];
    st.col_device[kept] = st.col_device[i];
    st.col_time[kept] = st.col_time[i];
    ++kept;
  }
  st.hashes.resize(kept);
  HashGrains({st.col_day.data(), st.col_product.data(), st.col_store.data(),
              st.col_referrer.data(), st.col_device.data()},
             kept, st.hashes.data());
  for (size_t j = 0; j < kept; ++j) {
    const HashedGrainKey key{{st.col_day[j], st.col_product[j], st.col_store[j],
                              st.col_referrer[j], st.col_device[j]},
                             st.hashes[j]};
    st.facts[key].Add(st.col_time[j], st.col_day[j]);
  }
  return absl::OkStatus();
}

// Calls fn(i, key, aggregate) for the i-th entries of `facts`, in its
// iteration order, of the w-th of `parts` equal ranges.
template <typename Fn>
void ForRange(const FactMap& facts, int w, int parts, const Fn& fn) {
  size_t i = facts.size() * w / parts;
  const size_t end = facts.size() * (w + 1) / parts;
  auto it = facts.begin();
  std::advance(it, i);
  for (; i < end; ++i, ++it) fn(i, it->first, it->second);
}

// One dimension's merge of a thread dictionary into the result's.
struct DictionaryMerge {
  const DimensionDictionary* local;
  DimensionDictionary* global;
  std::vector<uint32_t> remap;  // local id -> global id
  size_t misses = 0;
};

// Adds every `local` dictionary to its `global` one on `threads` threads:
// first every member is looked up in the (unchanging) global dictionaries
// by all threads, then each dimension's misses are added by one thread,
// the dimensions spread over the threads. Fills each `remap`.
void MergeDictionaries(int threads, std::vector<DictionaryMerge>& merges) {
  constexpr uint32_t kAbsent = UINT32_MAX;
  struct Piece {
    DictionaryMerge* m;
    uint32_t from, to;
  };
  std::vector<Piece> pieces;
  for (DictionaryMerge& m : merges) {
    m.remap.assign(m.local->size(), kAbsent);
    const uint32_t n = static_cast<uint32_t>(m.local->size());
    for (int w = 0; w < threads; ++w) {
      pieces.push_back({&m, static_cast<uint32_t>(uint64_t{n} * w / threads),
                        static_cast<uint32_t>(uint64_t{n} * (w + 1) / threads)});
    }
  }
  std::vector<size_t> misses(pieces.size(), 0);
  RunJobs(threads, pieces.size(), [&](size_t j) {
    const Piece& p = pieces[j];
    for (uint32_t id = p.from; id < p.to; ++id) {
      const int64_t g = p.m->global->Find(p.m->local->key(id));
      if (g >= 0) {
        p.m->remap[id] = static_cast<uint32_t>(g);
      } else {
        ++misses[j];
      }
    }
  });
  for (size_t j = 0; j < pieces.size(); ++j) pieces[j].m->misses += misses[j];
  std::vector<DictionaryMerge*> order;
  for (DictionaryMerge& m : merges) order.push_back(&m);
  std::sort(order.begin(), order.end(), [](const DictionaryMerge* a, const DictionaryMerge* b) {
    return a->misses > b->misses;
  });
  RunJobs(threads, order.size(), [&](size_t j) {
    DictionaryMerge& m = *order[j];
    m.global->Reserve(m.global->size() + m.misses);
    for (uint32_t id = 0; id < m.remap.size(); ++id) {
      if (m.remap[id] == kAbsent) m.remap[id] = m.global->Intern(m.local->key(id));
    }
  });
}

template <typename Pick>
void MergePicks(const std::vector<Pick>& local, const std::vector<uint32_t>& remap,
                std::vector<Pick>& global) {
  for (uint32_t id = 1; id < local.size() && id < remap.size(); ++id) {
    const uint32_t g = remap[id];
    if (g >= global.size()) global.resize(g + 1);
    if (local[id].time == kNoPick) continue;
    if constexpr (std::is_same_v<Pick, StorePick>) {
      global[g].Offer(local[id].time, local[id].domain);
    } else {
      global[g].Offer(local[id].time, local[id].code);
    }
  }
}

std::vector<std::string> Keys(const DimensionDictionary& dict) {
  std::vector<std::string> keys;
  keys.reserve(dict.size());
  for (uint32_t id = 0; id < dict.size(); ++id) keys.emplace_back(dict.key(id));
  return keys;
}

// fact_events, skipped_no_product and other_days from the day counters.
void RecountFacts(ScanResult* r) {
  ScanCounts& c = r->counts;
  c.fact_events = c.skipped_no_product = 0;
  uint64_t in_fact_days = 0;
  for (int32_t d : r->batch.fact_days) {
    auto it = r->day_events.find(d);
    if (it == r->day_events.end()) continue;
    c.fact_events += it->second.with_product;
    c.skipped_no_product += it->second.valid - it->second.with_product;
    in_fact_days += it->second.valid;
  }
  c.other_days = c.valid - in_fact_days;
}

// The referrer attributes (a function of the URL) of ordinals [from, end).
void DeriveReferrerAttributes(star::StarBatch* batch, size_t from) {
  batch->referrer_attributes.resize(batch->referrers.size());
  for (size_t i = from; i < batch->referrers.size(); ++i) {
    const star::Referrer r = star::ClassifyReferrer(batch->referrers[i]);
    batch->referrer_attributes[i] = {std::string(r.domain), r.type};
  }
}

// Appends the members of `from` missing in `to`; returns from-ordinal ->
// to-ordinal.
std::vector<uint32_t> RemapMembers(const std::vector<std::string>& from,
                                   std::vector<std::string>* to) {
  absl::flat_hash_map<std::string, uint32_t> index;
  index.reserve(to->size());
  for (uint32_t i = 0; i < to->size(); ++i) index.emplace((*to)[i], i);
  std::vector<uint32_t> remap(from.size());
  for (uint32_t i = 0; i < from.size(); ++i) {
    auto [it, inserted] = index.emplace(from[i], static_cast<uint32_t>(to->size()));
    if (inserted) to->push_back(from[i]);
    remap[i] = it->second;
  }
  return remap;
}

}  // namespace

DateSelection DateSelection::Days(std::vector<int32_t> days) {
  std::sort(days.begin(), days.end());
  days.erase(std::unique(days.begin(), days.end()), days.end());
  DateSelection s;
  s.mode = Mode::kDays;
  s.days = std::move(days);
  return s;
}

uint64_t ScanCounts::invalid_total() const {
  uint64_t total = 0;
  for (uint64_t v : invalid) total += v;
  return total;
}

void ScanCounts::Add(const ScanCounts& o) {
  records += o.records;
  payload_bytes += o.payload_bytes;
  valid += o.valid;
  for (size_t r = 0; r < invalid.size(); ++r) invalid[r] += o.invalid[r];
  skipped_no_product += o.skipped_no_product;
  fact_events += o.fact_events;
  other_days += o.other_days;
  tombstones += o.tombstones;
}

absl::StatusOr<ScanResult> Scan(const ScanOptions& options) {
  ScanResult result;
  std::vector<std::unique_ptr<segment::SegmentReader>> readers;
  std::vector<BlockRef> blocks;
  for (const std::string& path : options.segments) {
    PV_ASSIGN_OR_RETURN(auto reader, segment::SegmentReader::Open(path));
    uint32_t seg = static_cast<uint32_t>(readers.size());
    for (size_t b = 0; b < reader->block_count(); ++b) {
      blocks.push_back({seg, static_cast<uint32_t>(b)});
    }
    SegmentSummary summary;
    summary.path = path;
    summary.records = reader->info().records;
    summary.file_bytes = reader->info().file_bytes;
    summary.payload_bytes = reader->info().payload_bytes;
    summary.footer_crc = reader->info().footer_crc;
    result.inputs.push_back(std::move(summary));
    readers.push_back(std::move(reader));
  }
  if (!options.quarantine_segment.empty() &&
      options.quarantine_segment.size() != options.segments.size()) {
    return absl::InvalidArgumentError("scan: quarantine_segment must match segments");
  }
  Selection sel;
  sel.dates = options.dates;
  if (sel.dates.mode == DateSelection::Mode::kDays && !sel.dates.days.empty()) {
    sel.dates = DateSelection::Days(sel.dates.days);  // sorted, unique
    const int32_t lo = sel.dates.days.front();
    sel.allowed.assign(static_cast<size_t>(sel.dates.days.back() - lo) + 1, 0);
    for (int32_t d : sel.dates.days) sel.allowed[d - lo] = 1;
  }

  const int threads =
      options.threads > 0
          ? options.threads
          : static_cast<int>(oneapi::tbb::info::default_concurrency());
  std::mutex error_mu;
  absl::Status error;
  std::atomic<bool> failed{false};
  auto scan_one = [&](size_t i, ThreadState& st) {
    if (failed.load(std::memory_order_relaxed)) return;
    absl::Status s;
    if (ShutdownRequested()) {
      s = absl::CancelledError("scan interrupted by a shutdown signal");
    } else {
      const BlockRef& ref = blocks[i];
      const bool quarantine =
          options.quarantine_segment.empty() || options.quarantine_segment[ref.segment];
      s = ScanBlock(*readers[ref.segment], options.segments[ref.segment], ref.segment,
                    ref.block, quarantine, options, sel, st);
    }
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (error.ok()) error = s;
      failed.store(true);
    }
  };
  std::vector<ThreadState*> all_states;
#ifndef PV_SCAN_STD_THREADS
  oneapi::tbb::global_control limit(
      oneapi::tbb::global_control::max_allowed_parallelism, threads);
  oneapi::tbb::enumerable_thread_specific<ThreadState> states;
  oneapi::tbb::parallel_for(
      oneapi::tbb::blocked_range<size_t>(0, blocks.size(), 1),
      [&](const oneapi::tbb::blocked_range<size_t>& range) {
        ThreadState& st = states.local();
        for (size_t i = range.begin(); i != range.end(); ++i) scan_one(i, st);
      });
  for (ThreadState& st : states) all_states.push_back(&st);
#else
  // ThreadSanitizer builds: Debian's oneTBB is not instrumented, so TSan
  // cannot see its synchronization and reports the scheduler itself. The
  // same per-thread states and block function run on plain std::threads
  // here, so TSan checks our code (see the README, "Testing").
  std::vector<std::unique_ptr<ThreadState>> owned;
  for (int t = 0; t < threads; ++t) owned.push_back(std::make_unique<ThreadState>());
  std::atomic<size_t> next{0};
  RunOnThreads(threads, [&](int t) {
    for (size_t i; (i = next.fetch_add(1)) < blocks.size();) scan_one(i, *owned[t]);
  });
  for (auto& st : owned) all_states.push_back(st.get());
#endif
  if (!error.ok()) return error;

  // The final window of a horizon: from the newest day any thread saw.
  int32_t newest = options.dates.newest_floor;
  for (ThreadState* st : all_states) {
    for (const auto& [day, unused] : st->day_events) newest = std::max(newest, day);
  }
  int32_t keep_from = INT32_MIN;
  if (options.dates.mode == DateSelection::Mode::kHorizon && newest != INT32_MIN) {
    keep_from = static_cast<int32_t>(
        std::max<int64_t>(INT32_MIN, static_cast<int64_t>(newest) - options.dates.horizon + 1));
  }

  // Combine, on the scan's threads. The state with the most facts becomes
  // the result as it is (its ids are the global ones), and the others are
  // merged into it; the order affects only ordinals, never the star schema
  // the loader writes.
  std::sort(all_states.begin(), all_states.end(), [](const ThreadState* a, const ThreadState* b) {
    return a->facts.size() > b->facts.size();
  });
  DimensionDictionary products, stores, referrers, devices;
  std::vector<StorePick> store_pick(1);
  std::vector<DevicePick> device_pick(1);
  FactMap facts;
  // The last state's grains not in `facts`, by the thread that found them.
  std::vector<std::vector<star::FactRow>> unmatched;
  star::StarBatch& batch = result.batch;
  for (size_t t = 0; t < all_states.size(); ++t) {
    ThreadState& st = *all_states[t];
    result.peak_dictionary_bytes += st.products.MemoryBytes() + st.stores.MemoryBytes() +
                                    st.referrers.MemoryBytes() + st.devices.MemoryBytes();
    result.counts.Add(st.counts);
    for (const auto& [day, e] : st.day_events) {
      DayEvents& to = result.day_events[day];
      to.valid += e.valid;
      to.with_product += e.with_product;
    }
    for (size_t s = 0; s < st.segments.size(); ++s) {
      SegmentSummary& summary = result.inputs[s];
      summary.invalid += st.segments[s].invalid;
      for (const auto& [day, n] : st.segments[s].day_events) summary.day_events[day] += n;
    }
    if (t == 0) {
      products = std::move(st.products);
      stores = std::move(st.stores);
      referrers = std::move(st.referrers);
      devices = std::move(st.devices);
      store_pick = std::move(st.store_pick);
      device_pick = std::move(st.device_pick);
      facts = std::move(st.facts);
      if (keep_from != INT32_MIN) {
        absl::erase_if(facts, [&](const auto& kv) { return kv.first.day < keep_from; });
      }
      continue;
    }
    std::vector<DictionaryMerge> dicts = {{&st.products, &products, {}, 0},
                                          {&st.stores, &stores, {}, 0},
                                          {&st.referrers, &referrers, {}, 0},
                                          {&st.devices, &devices, {}, 0}};
    MergeDictionaries(threads, dicts);
    const std::vector<uint32_t>&rp = dicts[0].remap, &rs = dicts[1].remap,
          &rr = dicts[2].remap, &rd = dicts[3].remap;
    MergePicks(st.store_pick, rs, store_pick);
    MergePicks(st.device_pick, rd, device_pick);
    // This state's facts in global ids, looked up in the result on every
    // scan thread, each taking a range of the state's table: a grain found
    // there takes the measures in place (each grain of a state is distinct,
    // so no two threads touch one entry); the others are inserted after,
    // or, from the last state, become rows as they are.
    const bool last = t + 1 == all_states.size();
    std::vector<std::vector<std::pair<HashedGrainKey, FactAgg>>> missed(threads);
    unmatched.resize(threads);
    RunOnThreads(threads, [&](int w) {
      ForRange(st.facts, w, threads, [&](size_t, const GrainKey& local, const FactAgg& agg) {
        if (local.day < keep_from) return;
        const GrainKey key{local.day, rp[local.product], rs[local.store], rr[local.referrer],
                           rd[local.device]};
        const HashedGrainKey hashed{key, GrainKeyHash()(key)};
        auto found = facts.find(hashed);
        if (found != facts.end()) {
          found->second.Merge(agg);
        } else if (last) {
          unmatched[w].push_back(Row(key, agg));
        } else {
          missed[w].push_back({hashed, agg});
        }
      });
    });
    st.facts = FactMap();  // free as we go
    for (auto& m : missed) {
      for (const auto& [key, agg] : m) facts[key].Merge(agg);
    }
  }

  // The batch: every dimension's members and derived attributes (decided
  // here; the loader only encodes), and the fact rows (the table's in its
  // order, then the unmatched ones), as jobs over the threads.
  size_t rows = facts.size();
  for (const auto& u : unmatched) rows += u.size();
  batch.facts.resize(rows);
  std::vector<std::function<void()>> jobs;
  jobs.push_back([&] {
    batch.devices = Keys(devices);
    device_pick.resize(devices.size());
    batch.device_attributes.resize(devices.size());
    for (size_t i = 0; i < devices.size(); ++i) {
      star::DeviceAttributes& a = batch.device_attributes[i];
      a.pick_time = device_pick[i].time;
      a.device = a.pick_time == kNoPick ? star::Device()
                                        : star::Device::FromCode(device_pick[i].code);
    }
  });
  for (int w = 0; w < threads; ++w) {
    jobs.push_back([&, w] {
      ForRange(facts, w, threads, [&](size_t i, const GrainKey& key, const FactAgg& agg) {
        batch.facts[i] = Row(key, agg);
      });
    });
  }
  jobs.push_back([&] {
    size_t at = facts.size();
    for (const auto& u : unmatched) {
      std::copy(u.begin(), u.end(), batch.facts.begin() + static_cast<ptrdiff_t>(at));
      at += u.size();
    }
  });
  jobs.push_back([&] {
    batch.products = Keys(products);
    batch.referrers = Keys(referrers);
    DeriveReferrerAttributes(&batch, 0);
    batch.stores = Keys(stores);
    store_pick.resize(stores.size());
    batch.store_attributes.resize(stores.size());
    for (size_t i = 0; i < stores.size(); ++i) {
      star::StoreAttributes& a = batch.store_attributes[i];
      a.pick_time = store_pick[i].time;
      a.domain = std::move(store_pick[i].domain);
      a.country = a.pick_time == kNoPick ? star::kUnknownCountry
                                         : star::CountryIdFromDomain(a.domain);
    }
  });
  RunJobs(threads, jobs.size(), [&](size_t j) { jobs[j](); });
  for (const auto& [day, unused] : result.day_events) batch.days.push_back(day);
  switch (options.dates.mode) {
    case DateSelection::Mode::kDays:
      batch.fact_days = sel.dates.days;
      break;
    case DateSelection::Mode::kRange:
      for (int32_t d = options.dates.first_day; d <= options.dates.last_day; ++d) {
        batch.fact_days.push_back(d);
      }
      break;
    case DateSelection::Mode::kAll:
      batch.fact_days = batch.days;
      break;
    case DateSelection::Mode::kHorizon:
      for (int32_t d : batch.days) {
        if (d >= keep_from) batch.fact_days.push_back(d);
      }
      break;
  }
  RecountFacts(&result);
  return result;
}

void MergeScanResults(ScanResult&& other, ScanResult* into) {
  star::StarBatch& to = into->batch;
  star::StarBatch& from = other.batch;
  const size_t referrers_before = to.referrers.size();
  const std::vector<uint32_t> rp = RemapMembers(from.products, &to.products);
  const std::vector<uint32_t> rs = RemapMembers(from.stores, &to.stores);
  const std::vector<uint32_t> rr = RemapMembers(from.referrers, &to.referrers);
  const std::vector<uint32_t> rd = RemapMembers(from.devices, &to.devices);
  to.store_attributes.resize(to.stores.size());
  for (size_t i = 0; i < from.store_attributes.size(); ++i) {
    star::StoreAttributes& a = to.store_attributes[rs[i]];
    const star::StoreAttributes& b = from.store_attributes[i];
    if (b.pick_time < a.pick_time || (b.pick_time == a.pick_time && b.domain < a.domain)) {
      a = b;
    }
  }
  to.device_attributes.resize(to.devices.size());
  for (size_t i = 0; i < from.device_attributes.size(); ++i) {
    star::DeviceAttributes& a = to.device_attributes[rd[i]];
    const star::DeviceAttributes& b = from.device_attributes[i];
    if (b.pick_time < a.pick_time ||
        (b.pick_time == a.pick_time && b.device.Code() < a.device.Code())) {
      a = b;
    }
  }
  DeriveReferrerAttributes(&to, referrers_before);

  FactMap facts;
  facts.reserve(to.facts.size() + from.facts.size());
  auto add = [&](const star::FactRow& f) {
    FactAgg& agg = facts[Key(f.day, f.product, f.store, f.referrer, f.device)];
    agg.Merge(FactAgg::Of(f));
  };
  for (const star::FactRow& f : to.facts) add(f);
  for (const star::FactRow& f : from.facts) {
    add({f.day, rp[f.product], rs[f.store], rr[f.referrer], rd[f.device], f.view_count,
         f.min_time, f.max_time, f.sum_time});
  }
  to.facts.clear();
  for (const auto& [key, agg] : facts) to.facts.push_back(Row(key, agg));
  std::vector<int32_t> days;
  std::set_union(to.days.begin(), to.days.end(), from.days.begin(), from.days.end(),
                 std::back_inserter(days));
  to.days = std::move(days);
  std::vector<int32_t> fact_days;
  std::set_union(to.fact_days.begin(), to.fact_days.end(), from.fact_days.begin(),
                 from.fact_days.end(), std::back_inserter(fact_days));
  to.fact_days = std::move(fact_days);
  for (const auto& [day, e] : other.day_events) {
    DayEvents& d = into->day_events[day];
    d.valid += e.valid;
    d.with_product += e.with_product;
  }
  into->counts.Add(other.counts);
  for (SegmentSummary& s : other.inputs) into->inputs.push_back(std::move(s));
  into->peak_dictionary_bytes += other.peak_dictionary_bytes;
  RecountFacts(into);
}

void SelectFactDays(const std::vector<int32_t>& days, ScanResult* result) {
  star::StarBatch& b = result->batch;
  b.facts.erase(std::remove_if(b.facts.begin(), b.facts.end(),
                               [&](const star::FactRow& f) {
                                 return !std::binary_search(days.begin(), days.end(), f.day);
                               }),
                b.facts.end());
  b.fact_days = days;
  RecountFacts(result);
}

}  // namespace pv::etl
