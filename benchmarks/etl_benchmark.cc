// Micro-benchmarks of the batch job's hot parts, each on a fixed workload:
//   - the SIMD kernels against their scalar references (grain hashing, fact
//     row selection), and the whole per-block aggregation step with each;
//   - dimension dictionary insert and lookup (device-id-like keys);
//   - binary COPY encoding of fact rows;
//   - the full scan of generated segments (parse + dictionaries + facts).
//
//   bazel run -c opt //benchmarks:etl_benchmark -- --benchmark_filter=Hash
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "cc/etl/dictionary.h"
#include "cc/etl/fact_columns.h"
#include "cc/etl/scan.h"
#include "cc/etl/test_support.h"
#include "cc/warehouse/copy_binary.h"

namespace pv::etl {
namespace {

constexpr size_t kRows = 1200;  // valid events of a typical 1 MiB block

struct Columns {
  std::vector<int32_t> day;
  std::vector<uint32_t> product, store, referrer, device;
  std::vector<int64_t> time;
  explicit Columns(size_t n) {
    std::mt19937 rng(1);
    for (size_t i = 0; i < n; ++i) {
      day.push_back(19000 + static_cast<int32_t>(rng() % 2));
      product.push_back(rng() % 20 == 0 ? 0 : 1 + rng() % 20000);
      store.push_back(rng() % 40);
      referrer.push_back(rng() % 30000);
      device.push_back(rng() % 300000);
      time.push_back(1640000000 + rng() % 86400);
    }
  }
  GrainColumns view() const {
    return {day.data(), product.data(), store.data(), referrer.data(), device.data()};
  }
};

void BM_HashGrains(benchmark::State& state) {
  Columns c(kRows);
  std::vector<uint64_t> out(kRows);
  const bool simd = state.range(0) == 1;
  for (auto _ : state) {
    if (simd) {
      HashGrains(c.view(), kRows, out.data());
    } else {
      HashGrainsScalar(c.view(), kRows, out.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetLabel(simd ? ActiveKernelName() : "scalar");
}
BENCHMARK(BM_HashGrains)->Arg(0)->Arg(1);

void BM_SelectFactRows(benchmark::State& state) {
  Columns c(kRows);
  std::vector<uint32_t> out(kRows + 16);
  const bool simd = state.range(0) == 1;
  for (auto _ : state) {
    size_t k = simd ? SelectFactRows(c.day.data(), c.product.data(), kRows, 19001,
                                     19001, out.data())
                    : SelectFactRowsScalar(c.day.data(), c.product.data(), kRows,
                                           19001, 19001, out.data());
    benchmark::DoNotOptimize(k);
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetLabel(simd ? ActiveKernelName() : "scalar");
}
BENCHMARK(BM_SelectFactRows)->Arg(0)->Arg(1);

// The per-block fact step as the scan runs it: select, hash, probe/insert;
// Arg(1) hashes with the SIMD kernel, Arg(0) with the scalar reference.
struct Key {
  int32_t day;
  uint32_t p, s, r, d;
  uint64_t hash;
  bool operator==(const Key& o) const {
    return day == o.day && p == o.p && s == o.s && r == o.r && d == o.d;
  }
};
struct KeyHash {
  size_t operator()(const Key& k) const { return k.hash; }
};
struct Agg {
  int64_t count = 0, min = INT64_MAX, max = INT64_MIN, sum = 0;
};

void BM_AggregateBlock(benchmark::State& state) {
  const bool simd = state.range(0) == 1;
  std::vector<Columns> blocks;
  for (int b = 0; b < 64; ++b) blocks.emplace_back(kRows);
  std::vector<uint32_t> sel(kRows + 16);
  std::vector<uint64_t> hashes(kRows);
  std::vector<int32_t> day(kRows);
  std::vector<uint32_t> p(kRows), s(kRows), r(kRows), d(kRows);
  std::vector<int64_t> t(kRows);
  absl::flat_hash_map<Key, Agg, KeyHash> map;
  size_t b = 0;
  for (auto _ : state) {
    const Columns& c = blocks[b++ % blocks.size()];
    // As the scan does it: scalar selection (faster, see BM_SelectFactRows),
    // then the grain hash with the kernel under test.
    size_t k = SelectFactRowsScalar(c.day.data(), c.product.data(), kRows, 19000,
                                    19001, sel.data());
    for (size_t j = 0; j < k; ++j) {
      uint32_t i = sel[j];
      day[j] = c.day[i];
      p[j] = c.product[i];
      s[j] = c.store[i];
      r[j] = c.referrer[i];
      d[j] = c.device[i];
      t[j] = c.time[i];
    }
    GrainColumns g{day.data(), p.data(), s.data(), r.data(), d.data()};
    if (simd) {
      HashGrains(g, k, hashes.data());
    } else {
      HashGrainsScalar(g, k, hashes.data());
    }
    for (size_t j = 0; j < k; ++j) {
      Agg& a = map[Key{day[j], p[j], s[j], r[j], d[j], hashes[j]}];
      ++a.count;
      a.min = std::min(a.min, t[j]);
      a.max = std::max(a.max, t[j]);
      a.sum += t[j];
    }
  }
  state.SetItemsProcessed(state.iterations() * kRows);
  state.SetLabel(simd ? ActiveKernelName() : "scalar");
}
BENCHMARK(BM_AggregateBlock)->Arg(0)->Arg(1);

std::vector<std::string> DeviceIds(size_t n) {
  std::vector<std::string> ids;
  std::mt19937_64 rng(3);
  for (size_t i = 0; i < n; ++i) {
    ids.push_back(absl::StrCat(absl::Hex(rng(), absl::kZeroPad16), "-",
                               absl::Hex(rng() % 65536, absl::kZeroPad4), "-4",
                               absl::Hex(rng() % 4096, absl::kZeroPad3)));
  }
  return ids;
}

void BM_DictionaryInsert(benchmark::State& state) {
  std::vector<std::string> ids = DeviceIds(300000);
  for (auto _ : state) {
    DimensionDictionary dict;
    for (const std::string& id : ids) benchmark::DoNotOptimize(dict.Intern(id));
  }
  state.SetItemsProcessed(state.iterations() * ids.size());
}
BENCHMARK(BM_DictionaryInsert)->Unit(benchmark::kMillisecond);

void BM_DictionaryLookup(benchmark::State& state) {
  std::vector<std::string> ids = DeviceIds(300000);
  DimensionDictionary dict;
  for (const std::string& id : ids) dict.Intern(id);
  std::mt19937 rng(5);
  std::vector<uint32_t> probe(1 << 16);
  for (uint32_t& x : probe) x = rng() % ids.size();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(dict.Intern(ids[probe[i++ & 0xffff]]));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DictionaryLookup);

void BM_CopyEncodeFacts(benchmark::State& state) {
  std::string out;
  out.reserve(64 << 20);
  for (auto _ : state) {
    out.clear();
    warehouse::CopyBinaryEncoder e(&out);
    e.Header();
    for (int i = 0; i < 100000; ++i) {
      e.StartRow(12);
      e.Int4(20240601);
      e.Int4(i);
      e.Int4(i % 40);
      e.Int4(i % 30000);
      e.Int4(i);
      e.Int8(3);
      e.Int8(1);
      e.TimestampUnix(1717200000 + i);
      e.TimestampUnix(1717200100 + i);
      e.Int8(100);
      e.Float8(1717200050.5 + i);
      e.TimestampUnixMicros(1717300000000000);
    }
    e.Trailer();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 100000);
  state.SetBytesProcessed(state.iterations() * out.size());
}
BENCHMARK(BM_CopyEncodeFacts)->Unit(benchmark::kMillisecond);

// The whole scan over 200k generated events in segments (written once).
void BM_Scan(benchmark::State& state) {
  static std::vector<std::string>* paths = [] {
    std::string dir = absl::StrCat("/tmp/pv-etl-benchmark-", getpid());
    std::string cmd = "rm -rf " + dir + " && mkdir -p " + dir;
    if (std::system(cmd.c_str()) != 0) std::abort();
    datagen::GeneratorOptions o;
    o.events = 200000;
    o.days = 2;
    auto written = testing::WriteSegments(dir, testing::GenerateRecords(o, "2020-06-02"),
                                          100000);
    if (!written.ok()) std::abort();
    return new std::vector<std::string>(*written);
  }();
  uint64_t bytes = 0, records = 0;
  for (auto _ : state) {
    ScanOptions options;
    options.segments = *paths;
    options.threads = static_cast<int>(state.range(0));
    auto r = Scan(options);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    bytes = r->counts.payload_bytes;
    records = r->counts.records;
  }
  state.SetItemsProcessed(state.iterations() * records);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_Scan)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace pv::etl
