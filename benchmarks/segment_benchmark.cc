// Segment file throughput, and the codec measurements behind the format's
// default (cc/segment/FORMAT.md, "Choosing the codec").
//
//   bazel run //benchmarks:segment_benchmark
//   bazel run //benchmarks:segment_benchmark -- --benchmark_filter=Codec
//
// Workload (fixed seed, so every run sees the same bytes): clickstream events
// shaped like the Glamira feed, ~800 bytes of JSON each, with long product
// URLs carrying tracking ids, a dozen real-world user agents, MongoDB-style
// ids, option arrays. Blocks are 1 MiB, as the writer cuts them by default.
//   BM_Codec*        one 1 MiB block: bytes/s of uncompressed data, "ratio"
//   BM_SegmentWrite  64 Ki events into one published segment (fsync included)
//   BM_SegmentRead   open + read + decompress + decode every block of it
// bytes/s always counts payload (uncompressed) bytes.
#include <lz4.h>
#include <lz4hc.h>
#include <stdlib.h>
#include <unistd.h>
#include <zstd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "cc/segment/segment.h"

namespace pv::segment {
namespace {

constexpr size_t kEventsPerSegment = 64 * 1024;

const char* const kUserAgents[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/83.0.4103.97 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 13_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/83.0.4103.101 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:77.0) Gecko/20100101 Firefox/77.0",
    "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/83.0.4103.61 Safari/537.36 Edg/83.0.478.37",
    "Mozilla/5.0 (iPad; CPU OS 13_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "CriOS/83.0.4103.88 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 9; Redmi Note 8 Pro) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.99 Mobile Safari/537.36 YaBrowser/20.4.2.101.00",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/81.0.4044.138 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Linux; Android 10; HUAWEI P30 lite) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/11.2 Chrome/75.0.3770.143 Mobile Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
};
const char* const kDomains[] = {"www.glamira.de", "www.glamira.fr", "www.glamira.com",
                                "www.glamira.co.uk", "www.glamira.it", "www.glamira.es",
                                "www.glamira.pl", "www.glamira.se"};
const char* const kProducts[] = {"glamira-ring-saphira-skug100", "glamira-pendant-viktor",
                                 "glamira-bracelet-hildegard", "glamira-earring-lanette",
                                 "glamira-ring-dolores", "glamira-necklace-aurelia",
                                 "glamira-ring-zanessa-gpwl", "glamira-men-ring-agnar"};
const char* const kAlloys[] = {"white-375", "red-585", "yellow-750", "platin-950", "white-585"};
const char* const kStones[] = {"diamond-Brillant", "sapphire", "ruby", "emerald",
                               "swarovskicrystal", "diamond-Princess", "black-diamond"};
const char* const kCollections[] = {"view_product_detail", "select_product_option",
                                    "select_product_option_quality", "view_shopping_cart",
                                    "product_detail_recommendation_visible", "view_listing_page"};

template <size_t N>
const char* Pick(std::mt19937_64& random, const char* const (&items)[N]) {
  return items[random() % N];
}

std::string RandomToken(std::mt19937_64& random, size_t n) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string s(n, '\0');
  for (char& c : s) c = kAlphabet[random() % 64];
  return s;
}

// One clickstream event, ~800 bytes.
std::string ClickstreamEvent(std::mt19937_64& random, uint64_t i) {
  const uint64_t ts = 1590969600 + i / 4 + random() % 3;
  const int product = static_cast<int>(random() % 100000);
  const char* domain = Pick(random, kDomains);
  const char* name = Pick(random, kProducts);
  const char* alloy = Pick(random, kAlloys);
  const char* stone = Pick(random, kStones);
  std::string url = absl::StrFormat(
      "https://%s/%s.html?alloy=%s&diamond=%s&itm_source=recommendation&gclid=%s",
      domain, name, alloy, stone, RandomToken(random, 20 + random() % 30));
  std::string referrer =
      random() % 3 == 0
          ? absl::StrCat("https://www.google.com/search?q=", name, "&sa=X&ved=",
                         RandomToken(random, 40))
          : absl::StrFormat("https://%s/%s/", domain,
                            random() % 2 ? "ringe/verlobungsringe" : "diamond-rings/");
  return absl::StrFormat(
      R"js({"_id":{"$oid":"5ed8%020x"},"time_stamp":%d,"ip":"%d.%d.%d.%d",)js"
      R"js("user_agent":"%s","resolution":"%s","user_id_db":"%s",)js"
      R"js("device_id":"%08x-%04x-4%03x-%04x-%012x","api_version":"1.0","store_id":"%d",)js"
      R"js("local_time":"2020-06-%02d %02d:%02d:%02d",)js"
      R"js("current_url":"%s","referrer_url":"%s","email_address":"%s",)js"
            R"js("collection":"%s","product_id":"%d",)js"
      R"js("option":[{"option_label":"alloy","option_id":"%d","value_label":"%s","value_id":"%d"},)js"
      R"js({"option_label":"diamond","value_label":"%s"}]})js",
      random() & 0xFFFFFFFFFFFFull, ts, 10 + random() % 200, random() % 256, random() % 256,
      random() % 256, Pick(random, kUserAgents), random() % 2 ? "1920x1080" : "375x667",
      random() % 4 == 0 ? absl::StrCat(random() % 1000000) : "",
      static_cast<uint32_t>(random()), random() & 0xFFFF, random() & 0xFFF, random() & 0xFFFF,
      random() & 0xFFFFFFFFFFFFull, static_cast<int>(random() % 90), 1 + i / 200000 % 28,
      random() % 24, random() % 60, random() % 60, url, referrer,
      random() % 10 == 0 ? absl::StrCat("user", random() % 100000, "@example.com") : "",
      Pick(random, kCollections), product, 100000 + random() % 900, alloy, random() % 10000,
      stone);
}

const std::vector<std::string>& Events() {
  static const std::vector<std::string>* events = [] {
    auto* v = new std::vector<std::string>();
    std::mt19937_64 random(2020);
    for (uint64_t i = 0; i < kEventsPerSegment; ++i) v->push_back(ClickstreamEvent(random, i));
    return v;
  }();
  return *events;
}

// A 1 MiB run of events, as a block body holds them.
const std::string& BlockOfEvents() {
  static const std::string* block = [] {
    auto* s = new std::string();
    for (const std::string& e : Events()) {
      if (s->size() >= (1u << 20)) break;
      s->append(e);
    }
    return s;
  }();
  return *block;
}

// Benchmark arguments: codec, level (lz4: <= 1 fast, >= 2 HC).
std::string Compress(Codec codec, int level, const std::string& in) {
  std::string out;
  if (codec == Codec::kZstd) {
    static ZSTD_CCtx* ctx = ZSTD_createCCtx();
    out.resize(ZSTD_compressBound(in.size()));
    out.resize(ZSTD_compressCCtx(ctx, out.data(), out.size(), in.data(), in.size(), level));
  } else {
    out.resize(LZ4_compressBound(static_cast<int>(in.size())));
    int n = level >= 2 ? LZ4_compress_HC(in.data(), out.data(), static_cast<int>(in.size()),
                                         static_cast<int>(out.size()), level)
                       : LZ4_compress_default(in.data(), out.data(),
                                              static_cast<int>(in.size()),
                                              static_cast<int>(out.size()));
    out.resize(n);
  }
  return out;
}

void BM_CodecCompress(benchmark::State& state) {
  const Codec codec = static_cast<Codec>(state.range(0));
  const int level = static_cast<int>(state.range(1));
  const std::string& block = BlockOfEvents();
  size_t compressed = 0;
  for (auto _ : state) {
    std::string out = Compress(codec, level, block);
    compressed = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(absl::StrCat(CodecName(codec), " level ", level));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.size()));
  state.counters["ratio"] = static_cast<double>(block.size()) / compressed;
}

void BM_CodecDecompress(benchmark::State& state) {
  const Codec codec = static_cast<Codec>(state.range(0));
  const int level = static_cast<int>(state.range(1));
  const std::string& block = BlockOfEvents();
  const std::string compressed = Compress(codec, level, block);
  std::string out(block.size(), '\0');
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  for (auto _ : state) {
    size_t n = codec == Codec::kZstd
                   ? ZSTD_decompressDCtx(ctx, out.data(), out.size(), compressed.data(),
                                         compressed.size())
                   : static_cast<size_t>(LZ4_decompress_safe(
                         compressed.data(), out.data(), static_cast<int>(compressed.size()),
                         static_cast<int>(out.size())));
    if (n != block.size()) state.SkipWithError("decompression failed");
    benchmark::DoNotOptimize(out.data());
  }
  ZSTD_freeDCtx(ctx);
  if (out != block) state.SkipWithError("round trip mismatch");
  state.SetLabel(absl::StrCat(CodecName(codec), " level ", level));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * block.size()));
  state.counters["ratio"] = static_cast<double>(block.size()) / compressed.size();
}

void CodecArgs(benchmark::internal::Benchmark* b) {
  for (int level : {-1, 1, 3, 6}) b->Args({static_cast<int>(Codec::kZstd), level});
  for (int level : {1, 9}) b->Args({static_cast<int>(Codec::kLz4), level});
}
BENCHMARK(BM_CodecCompress)->Apply(CodecArgs);
BENCHMARK(BM_CodecDecompress)->Apply(CodecArgs);

std::string BenchDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base ? base : "/tmp", "/segment_benchmark.XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) abort();
  return templ;
}

absl::StatusOr<SegmentInfo> WriteSegment(const std::string& dir, Codec codec, int level,
                                         const std::string& name) {
  WriterOptions options;
  options.dir = dir;
  options.source = "product_views";
  options.codec = codec;
  options.level = level;
  options.name = name;
  auto writer = SegmentWriter::Create(options);
  if (!writer.ok()) return writer.status();
  const std::vector<std::string>& events = Events();
  for (size_t i = 0; i < events.size(); ++i) {
    RecordMeta meta;
    meta.partition = static_cast<int32_t>(i % 3);
    meta.offset = static_cast<int64_t>(1000000 + i / 3);
    meta.timestamp_ms = 1590969600000 + static_cast<int64_t>(i) * 250;
    absl::Status status = (*writer)->Append(meta, events[i]);
    if (!status.ok()) return status;
  }
  return (*writer)->Publish();
}

uint64_t EventBytes() {
  uint64_t n = 0;
  for (const std::string& e : Events()) n += e.size();
  return n;
}

void BM_SegmentWrite(benchmark::State& state) {
  const Codec codec = static_cast<Codec>(state.range(0));
  const int level = static_cast<int>(state.range(1));
  const std::string dir = BenchDir();
  uint64_t file_bytes = 0;
  int n = 0;
  for (auto _ : state) {
    auto info = WriteSegment(dir, codec, level, absl::StrCat("w", n++));
    if (!info.ok()) {
      state.SkipWithError(std::string(info.status().message()).c_str());
      break;
    }
    file_bytes = info->file_bytes;
    state.PauseTiming();
    unlink(info->path.c_str());
    state.ResumeTiming();
  }
  rmdir(dir.c_str());
  state.SetLabel(absl::StrCat(CodecName(codec), " level ", level));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * EventBytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * Events().size()));
  state.counters["ratio"] = static_cast<double>(EventBytes()) / file_bytes;
  state.counters["event_bytes"] = static_cast<double>(EventBytes()) / Events().size();
}

void BM_SegmentRead(benchmark::State& state) {
  const Codec codec = static_cast<Codec>(state.range(0));
  const int level = static_cast<int>(state.range(1));
  const std::string dir = BenchDir();
  auto info = WriteSegment(dir, codec, level, "r");
  if (!info.ok()) {
    state.SkipWithError(std::string(info.status().message()).c_str());
    return;
  }
  Block block;
  uint64_t records = 0;
  for (auto _ : state) {
    auto reader = SegmentReader::Open(info->path);
    if (!reader.ok()) {
      state.SkipWithError(std::string(reader.status().message()).c_str());
      break;
    }
    for (size_t b = 0; b < (*reader)->block_count(); ++b) {
      absl::Status status = (*reader)->ReadBlock(b, &block);
      if (!status.ok()) {
        state.SkipWithError(std::string(status.message()).c_str());
        break;
      }
      for (size_t i = 0; i < block.size(); ++i) {
        benchmark::DoNotOptimize(block.record(i).payload.data());
      }
      records += block.size();
    }
  }
  if (records != state.iterations() * Events().size()) state.SkipWithError("records lost");
  unlink(info->path.c_str());
  rmdir(dir.c_str());
  state.SetLabel(absl::StrCat(CodecName(codec), " level ", level));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * EventBytes()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * Events().size()));
}

void SegmentArgs(benchmark::internal::Benchmark* b) {
  b->Args({static_cast<int>(Codec::kZstd), 1});
  b->Args({static_cast<int>(Codec::kZstd), 3});
  b->Args({static_cast<int>(Codec::kLz4), 1});
  b->Args({static_cast<int>(Codec::kNone), 0});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}
BENCHMARK(BM_SegmentWrite)->Apply(SegmentArgs);
BENCHMARK(BM_SegmentRead)->Apply(SegmentArgs);

}  // namespace
}  // namespace pv::segment
