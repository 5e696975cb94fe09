// Event extraction throughput: pv::event::EventParser against raw simdjson
// On-Demand on the same records.
//
//   bazel run //benchmarks:event_benchmark
//
// Workload (fixed): 100,000 records from //tools/datagen:generator with its
// default options (seed 42: ~5% messy records, 0.1% of each invalid kind),
// held in one buffer as NDJSON, so each record is followed by readable bytes
// (the next records; 64 bytes of slack after the last), as in a segment block.
//
// Cases:
//  - BM_EventParser: EventParser::Parse on every record (validation of the
//    whole record, decoding of the 7 dimensions, local_time, time_stamp).
//  - BM_RawOnDemand: the reference. simdjson On-Demand iterate + get_object +
//    find_field_unordered of the same 9 fields, touching each value's raw
//    token without decoding or validating it.
//  - BM_RawOnDemandSinglePass: the same, iterating the object once and
//    switching on the key (the access pattern EventParser uses).
// The figure of merit is the ratio of the two (bytes/s); the bar is >= 0.5.
// Before timing, both loops run once and the checks below must hold.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "cc/event/event.h"
#include "simdjson.h"
#include "tools/datagen/generator.h"

// On-Demand's kernel is chosen when this file is compiled (the library's
// builtin_implementation() names the library's own choice, not ours).
#define PV_EVENT_BENCHMARK_STRING_(x) #x
#define PV_EVENT_BENCHMARK_STRING(x) PV_EVENT_BENCHMARK_STRING_(x)

namespace {

struct Workload {
  std::string buffer;  // records separated by '\n', then kPadding slack
  std::vector<std::pair<size_t, size_t>> records;  // offset, size
  int64_t payload_bytes = 0;
};

const Workload& GetWorkload() {
  static const Workload* workload = [] {
    auto* w = new Workload();
    pv::datagen::GeneratorOptions options;
    options.events = 100000;
    pv::datagen::EventGenerator generator(options);
    while (generator.remaining() > 0) {
      const size_t offset = w->buffer.size();
      generator.AppendNext(&w->buffer);
      w->records.emplace_back(offset, w->buffer.size() - offset);
      w->payload_bytes += w->buffer.size() - offset;
      w->buffer.push_back('\n');
    }
    w->buffer.append(pv::event::kPadding, '\0');
    return w;
  }();
  return *workload;
}

constexpr std::string_view kFields[] = {
    "_id",       "product_id",  "store_id",   "referrer_url", "device_id",
    "current_url", "user_agent", "local_time", "time_stamp"};

// One pass of the reference loop; returns the number of records whose 9
// lookups all ran without error, and sums token lengths into *touched.
int64_t RawOnDemandPass(simdjson::ondemand::parser& parser,
                        const Workload& w, size_t* touched) {
  int64_t complete = 0;
  for (const auto& [offset, size] : w.records) {
    simdjson::ondemand::document doc;
    if (parser
            .iterate(simdjson::padded_string_view(w.buffer.data() + offset, size,
                                                  size + pv::event::kPadding))
            .get(doc)) {
      continue;
    }
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) continue;
    bool ok = true;
    for (std::string_view field : kFields) {
      simdjson::ondemand::value value;
      auto error = object.find_field_unordered(field).get(value);
      if (error == simdjson::NO_SUCH_FIELD) continue;
      if (error) {
        ok = false;
        break;
      }
      *touched += value.raw_json_token().size();
    }
    complete += ok;
  }
  return complete;
}

// The reference's single-pass form: iterate the object once, switch on the
// key, touch the raw token of the 9 fields (no decoding, no validation of
// skipped values).
int64_t RawOnDemandSinglePass(simdjson::ondemand::parser& parser,
                              const Workload& w, size_t* touched) {
  int64_t complete = 0;
  for (const auto& [offset, size] : w.records) {
    simdjson::ondemand::document doc;
    if (parser
            .iterate(simdjson::padded_string_view(w.buffer.data() + offset, size,
                                                  size + pv::event::kPadding))
            .get(doc)) {
      continue;
    }
    simdjson::ondemand::object object;
    if (doc.get_object().get(object)) continue;
    bool ok = true;
    for (auto field_result : object) {
      simdjson::ondemand::field field;
      if (std::move(field_result).get(field)) {
        ok = false;
        break;
      }
      const simdjson::ondemand::raw_json_string key = field.key();
      for (std::string_view name : kFields) {
        if (key.unsafe_is_equal(name)) {
          *touched += field.value().raw_json_token().size();
          break;
        }
      }
    }
    complete += ok;
  }
  return complete;
}

int64_t EventParserPass(pv::event::EventParser& parser, const Workload& w,
                        size_t* touched) {
  int64_t valid = 0;
  pv::event::Event event;
  for (const auto& [offset, size] : w.records) {
    if (parser.Parse(absl::string_view(w.buffer.data() + offset, size),
                     &event) == pv::event::Invalid::kOk) {
      ++valid;
      *touched += event.product_id.size() + event.referrer_url.size() +
                  event.current_url.size() + event.device_id.size() +
                  event.store_id.size() + event.user_agent.size() +
                  event.id.size();
    }
  }
  return valid;
}

// Checks before timing: the parser accepts what the generator meant to be
// valid (~99.6%), and the reference loop really reads the fields.
void CheckWorkload() {
  static bool checked = [] {
    const Workload& w = GetWorkload();
    pv::event::EventParser parser;
    size_t touched = 0;
    const int64_t valid = EventParserPass(parser, w, &touched);
    simdjson::ondemand::parser raw_parser;
    size_t raw_touched = 0;
    const int64_t complete = RawOnDemandPass(raw_parser, w, &raw_touched);
    const int64_t n = static_cast<int64_t>(w.records.size());
    if (valid < n * 99 / 100 || valid > n || complete < n * 99 / 100 ||
        touched < static_cast<size_t>(valid) * 100 ||
        raw_touched < static_cast<size_t>(complete) * 100) {
      std::fprintf(stderr,
                   "event_benchmark: workload check failed: %lld valid, "
                   "%lld complete of %lld\n",
                   static_cast<long long>(valid),
                   static_cast<long long>(complete),
                   static_cast<long long>(n));
      std::abort();
    }
    std::fprintf(stderr,
                 "event_benchmark: %lld records, %.1f MB, %lld valid; "
                 "simdjson stage 1: %s, On-Demand: %s\n",
                 static_cast<long long>(n), w.payload_bytes / 1e6,
                 static_cast<long long>(valid),
                 simdjson::get_active_implementation()->name().c_str(),
                 PV_EVENT_BENCHMARK_STRING(SIMDJSON_BUILTIN_IMPLEMENTATION));
    return true;
  }();
  (void)checked;
}

void BM_EventParser(benchmark::State& state) {
  CheckWorkload();
  const Workload& w = GetWorkload();
  pv::event::EventParser parser;
  size_t touched = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(EventParserPass(parser, w, &touched));
  }
  benchmark::DoNotOptimize(touched);
  state.SetBytesProcessed(state.iterations() * w.payload_bytes);
  state.SetItemsProcessed(state.iterations() * w.records.size());
}
BENCHMARK(BM_EventParser)->Unit(benchmark::kMillisecond);

void BM_RawOnDemand(benchmark::State& state) {
  CheckWorkload();
  const Workload& w = GetWorkload();
  simdjson::ondemand::parser parser;
  size_t touched = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(RawOnDemandPass(parser, w, &touched));
  }
  benchmark::DoNotOptimize(touched);
  state.SetBytesProcessed(state.iterations() * w.payload_bytes);
  state.SetItemsProcessed(state.iterations() * w.records.size());
}
BENCHMARK(BM_RawOnDemand)->Unit(benchmark::kMillisecond);

}  // namespace

void BM_RawOnDemandSinglePass(benchmark::State& state) {
  CheckWorkload();
  const Workload& w = GetWorkload();
  simdjson::ondemand::parser parser;
  size_t touched = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(RawOnDemandSinglePass(parser, w, &touched));
  }
  benchmark::DoNotOptimize(touched);
  state.SetBytesProcessed(state.iterations() * w.payload_bytes);
  state.SetItemsProcessed(state.iterations() * w.records.size());
}
BENCHMARK(BM_RawOnDemandSinglePass)->Unit(benchmark::kMillisecond);
