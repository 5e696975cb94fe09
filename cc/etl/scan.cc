#include "cc/etl/scan.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cc/common/shutdown.h"
#include "cc/common/status.h"
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

// A grain key with its hash computed once, by the SIMD kernel.
struct GrainKey {
  int32_t day;
  uint32_t product, store, referrer, device;
  uint64_t hash;
  bool operator==(const GrainKey& o) const {
    return day == o.day && product == o.product && store == o.store &&
           referrer == o.referrer && device == o.device;
  }
};
struct GrainKeyHash {
  size_t operator()(const GrainKey& k) const { return k.hash; }
};
struct FactAgg {
  int64_t count = 0;
  int64_t min_time = INT64_MAX;
  int64_t max_time = INT64_MIN;
  int64_t sum_time = 0;
  void Add(int64_t t) {
    ++count;
    min_time = std::min(min_time, t);
    max_time = std::max(max_time, t);
    sum_time += t;
  }
  void Merge(const FactAgg& o) {
    count += o.count;
    min_time = std::min(min_time, o.min_time);
    max_time = std::max(max_time, o.max_time);
    sum_time += o.sum_time;
  }
};
using FactMap = absl::flat_hash_map<GrainKey, FactAgg, GrainKeyHash>;

// An attribute chosen by the earliest event (local_time), ties broken by the
// smaller derived value: a total order, so any merge order gives one answer.
struct AttributePick {
  int64_t time = INT64_MAX;
  uint32_t value = 0;
  bool Offer(int64_t t, uint32_t v) {
    if (t < time || (t == time && v < value)) {
      time = t;
      value = v;
      return true;
    }
    return false;
  }
  bool WouldTake(int64_t t) const { return t <= time; }
};

// Everything one scan thread owns.
struct ThreadState {
  event::EventParser parser;
  segment::Block block;
  DimensionDictionary products, stores, referrers, devices;
  std::vector<AttributePick> store_pick{1};
  std::vector<AttributePick> device_pick{1};
  absl::flat_hash_set<int32_t> days;
  FactMap facts;
  int32_t latest_day = INT32_MIN;  // latest mode: the day `facts` holds
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

uint32_t DeviceCode(ThreadState& st, absl::string_view ua) {
  auto it = st.ua_cache.find(ua);
  if (it != st.ua_cache.end()) return it->second;
  uint32_t code = star::ParseUserAgent(ua).Code();
  if (st.ua_cache.size() > 100000) st.ua_cache.clear();  // bound memory
  st.ua_cache.emplace(std::string(ua), code);
  return code;
}

absl::Status ScanBlock(const segment::SegmentReader& reader,
                       const std::string& path, uint32_t block_index,
                       const ScanOptions& options, ThreadState& st) {
  PV_RETURN_IF_ERROR(reader.ReadBlock(block_index, &st.block));
  const size_t n = st.block.size();
  st.col_day.clear();
  st.col_product.clear();
  st.col_store.clear();
  st.col_referrer.clear();
  st.col_device.clear();
  st.col_time.clear();
  uint64_t bytes = 0;
  event::Event ev;
  for (size_t i = 0; i < n; ++i) {
    const segment::RecordView& rec = st.block.record(i);
    bytes += rec.payload.size();
    event::Invalid reason = st.parser.Parse(rec.payload, &ev);
    if (reason != event::Invalid::kOk) {
      ++st.counts.invalid[static_cast<size_t>(reason)];
      if (options.quarantine != nullptr) {
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
    st.days.insert(ev.day);
    if (store != 0) {
      if (store >= st.store_pick.size()) st.store_pick.resize(store + 1);
      if (!ev.current_url.empty() && st.store_pick[store].WouldTake(ev.local_time)) {
        st.store_pick[store].Offer(ev.local_time, star::CountryIdFromUrl(ev.current_url));
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
  int32_t lo = options.dates.first_day, hi = options.dates.last_day;
  if (options.dates.latest) {
    int32_t block_max = MaxDay(st.col_day.data(), valid);
    if (block_max > st.latest_day) {
      // Facts of earlier days can never be the latest day's: drop them.
      st.counts.other_days += st.counts.fact_events + st.counts.skipped_no_product;
      st.counts.fact_events = 0;
      st.counts.skipped_no_product = 0;
      st.facts.clear();
      st.latest_day = block_max;
    }
    lo = hi = st.latest_day;
  }
  st.selected.resize(valid + 16);
  // Selection stays scalar: with AVX2, Highway's CompressStore of 32-bit
  // lanes measured 3.5x slower than this branch-free loop
  // (benchmarks/etl_benchmark.cc, BM_SelectFactRows).
  size_t k = SelectFactRowsScalar(st.col_day.data(), st.col_product.data(),
                                  valid, lo, hi, st.selected.data());
  // Valid events of the fact days without a product feed dimensions only.
  size_t in_days = 0;
  for (size_t i = 0; i < valid; ++i) {
    in_days += st.col_day[i] >= lo && st.col_day[i] <= hi;
  }
  st.counts.skipped_no_product += in_days - k;
  st.counts.other_days += valid - in_days;
  st.counts.fact_events += k;
  // Gather the selected rows densely, then hash them in one kernel call.
  for (size_t j = 0; j < k; ++j) {
    uint32_t i = st.selected[j];
    st.col_day[j] = st.col_day[i];
    st.col_product[j] = st.col_product[i];
    st.col_store[j] = st.col_store[i];
    st.col_referrer[j] = st.col_referrer[i];
    st.col_device[j] = st.col_device[i];
    st.col_time[j] = st.col_time[i];
  }
  st.hashes.resize(k);
  HashGrains({st.col_day.data(), st.col_product.data(), st.col_store.data(),
              st.col_referrer.data(), st.col_device.data()},
             k, st.hashes.data());
  for (size_t j = 0; j < k; ++j) {
    GrainKey key{st.col_day[j],      st.col_product[j], st.col_store[j],
                 st.col_referrer[j], st.col_device[j],  st.hashes[j]};
    st.facts[key].Add(st.col_time[j]);
  }
  return absl::OkStatus();
}

// Adds a thread's dictionary to the global one; returns local -> global.
std::vector<uint32_t> MergeDictionary(const DimensionDictionary& local,
                                      DimensionDictionary& global) {
  std::vector<uint32_t> remap(local.size());
  for (uint32_t id = 0; id < local.size(); ++id) {
    remap[id] = global.Intern(local.key(id));
  }
  return remap;
}

void MergePicks(const std::vector<AttributePick>& local,
                const std::vector<uint32_t>& remap,
                std::vector<AttributePick>& global) {
  for (uint32_t id = 1; id < local.size() && id < remap.size(); ++id) {
    uint32_t g = remap[id];
    if (g >= global.size()) global.resize(g + 1);
    if (local[id].time != INT64_MAX) global[g].Offer(local[id].time, local[id].value);
  }
}

std::vector<std::string> Keys(const DimensionDictionary& dict) {
  std::vector<std::string> keys;
  keys.reserve(dict.size());
  for (uint32_t id = 0; id < dict.size(); ++id) keys.emplace_back(dict.key(id));
  return keys;
}

}  // namespace

uint64_t ScanCounts::invalid_total() const {
  uint64_t total = 0;
  for (uint64_t v : invalid) total += v;
  return total;
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
    result.inputs.push_back(
        {path, reader->info().records, reader->info().file_bytes});
    readers.push_back(std::move(reader));
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
      s = ScanBlock(*readers[ref.segment], options.segments[ref.segment],
                    ref.block, options, st);
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
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (size_t i; (i = next.fetch_add(1)) < blocks.size();) scan_one(i, *owned[t]);
    });
  }
  for (std::thread& w : workers) w.join();
  for (auto& st : owned) all_states.push_back(st.get());
#endif
  if (!error.ok()) return error;

  // Combine, on this thread, in a fixed order of the thread states. The
  // order affects only ordinals, never the star schema the loader writes.
  DimensionDictionary products, stores, referrers, devices;
  std::vector<AttributePick> store_pick(1), device_pick(1);
  absl::flat_hash_set<int32_t> days;
  int32_t latest = INT32_MIN;
  for (ThreadState* st : all_states) {
    latest = std::max(latest, st->latest_day);
    for (int32_t d : st->days) days.insert(d);
  }
  FactMap facts;
  star::StarBatch& batch = result.batch;
  ScanCounts& counts = result.counts;
  for (ThreadState* state : all_states) {
    ThreadState& st = *state;
    result.peak_dictionary_bytes +=
        st.products.MemoryBytes() + st.stores.MemoryBytes() +
        st.referrers.MemoryBytes() + st.devices.MemoryBytes();
    std::vector<uint32_t> rp = MergeDictionary(st.products, products);
    std::vector<uint32_t> rs = MergeDictionary(st.stores, stores);
    std::vector<uint32_t> rr = MergeDictionary(st.referrers, referrers);
    std::vector<uint32_t> rd = MergeDictionary(st.devices, devices);
    MergePicks(st.store_pick, rs, store_pick);
    MergePicks(st.device_pick, rd, device_pick);
    counts.records += st.counts.records;
    counts.payload_bytes += st.counts.payload_bytes;
    counts.valid += st.counts.valid;
    for (size_t r = 0; r < counts.invalid.size(); ++r) {
      counts.invalid[r] += st.counts.invalid[r];
    }
    bool facts_count = !options.dates.latest || st.latest_day == latest;
    if (!facts_count) {
      // This thread's latest day is not the input's: its facts are of an
      // earlier day, which this run does not load.
      counts.other_days += st.counts.fact_events + st.counts.skipped_no_product +
                           st.counts.other_days;
      continue;
    }
    counts.fact_events += st.counts.fact_events;
    counts.skipped_no_product += st.counts.skipped_no_product;
    counts.other_days += st.counts.other_days;
    facts.reserve(facts.size() + st.facts.size());
    for (const auto& [key, agg] : st.facts) {
      GrainKey g{key.day, rp[key.product], rs[key.store], rr[key.referrer],
                 rd[key.device], 0};
      g.hash = star::HashGrain(g.day, g.product, g.store, g.referrer, g.device);
      facts[g].Merge(agg);
    }
    st.facts = FactMap();  // free as we go
  }

  batch.products = Keys(products);
  batch.stores = Keys(stores);
  batch.referrers = Keys(referrers);
  batch.devices = Keys(devices);
  store_pick.resize(stores.size());
  device_pick.resize(devices.size());
  // Every derived attribute is decided here; the loader only encodes.
  batch.store_country.resize(stores.size());
  for (size_t i = 0; i < stores.size(); ++i) {
    batch.store_country[i] = static_cast<uint16_t>(
        store_pick[i].time == INT64_MAX ? star::kUnknownCountry : store_pick[i].value);
  }
  batch.device_attributes.resize(devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    batch.device_attributes[i] = device_pick[i].time == INT64_MAX
                                     ? star::Device()
                                     : star::Device::FromCode(device_pick[i].value);
  }
  batch.referrer_attributes.resize(batch.referrers.size());
  for (size_t i = 0; i < batch.referrers.size(); ++i) {
    const star::Referrer r = star::ClassifyReferrer(batch.referrers[i]);
    batch.referrer_attributes[i] = {std::string(r.domain), r.type};
  }
  batch.days.assign(days.begin(), days.end());
  std::sort(batch.days.begin(), batch.days.end());
  if (options.dates.latest) {
    if (latest != INT32_MIN) batch.fact_days.push_back(latest);
  } else {
    for (int32_t d = options.dates.first_day; d <= options.dates.last_day; ++d) {
      batch.fact_days.push_back(d);
    }
  }
  batch.facts.reserve(facts.size());
  for (const auto& [key, agg] : facts) {
    batch.facts.push_back({key.day, key.product, key.store, key.referrer,
                           key.device, agg.count, agg.min_time, agg.max_time,
                           agg.sum_time});
  }
  return result;
}

}  // namespace pv::etl
