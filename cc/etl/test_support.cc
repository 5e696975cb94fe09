#include "cc/etl/test_support.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cc/common/status.h"
#include "absl/container/flat_hash_map.h"
#include "cc/segment/catalogue.h"
#include "cc/segment/segment.h"

namespace pv::etl::testing {

std::vector<std::string> MessyRecords(const std::string& date) {
  const std::string t = date + " 10:00:00";
  const std::string long_url =
      "https://www.example.com/" + std::string(10 * 1024, 'a') + "?q=1";
  return {
      // Product as a number and as a string: one product.
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":123,"store_id":7,"device_id":"d-1","current_url":"https://www.glamira.de/x"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"123","store_id":"7","device_id":"d-1"})"),
      // Escapes: \/ and \u00e9 decode before comparison.
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p\u00e9","referrer_url":"https:\/\/www.google.de\/search","device_id":"d-2"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"pé","referrer_url":"https://www.google.de/search","device_id":"d-2"})"),
      // $oid ids, T timestamps, a missing device (no visitor), null store.
      absl::StrCat(R"({"_id":{"$oid":"5f0000000000000000000001"},"local_time":")", date, R"(T11:30:00","product_id":{"$oid":"abc"},"store_id":null})"),
      // Empty strings and nulls mean Unknown.
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-empty","store_id":"","referrer_url":null,"device_id":""})"),
      // A 10 KB referrer URL (the seed's unique index failed past 2.7 KB).
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-long","referrer_url":")", long_url, R"(","device_id":"d-3"})"),
      // No product: feeds dimensions, not facts.
      absl::StrCat(R"({"local_time":")", t, R"(","store_id":"99","device_id":"d-4","referrer_url":"https://t.co/x"})"),
      // Derived attributes (docs/semantics.md): a store's country and domain
      // come from its earliest event with a non-empty current_url, ties to
      // the bytewise smaller domain; a device's from its earliest non-empty
      // user_agent, ties to the smaller packed (type, browser, os).
      absl::StrCat(R"({"local_time":")", date, R"( 08:00:00","store_id":"attr-s1","current_url":""})"),
      absl::StrCat(R"({"local_time":")", date, R"( 09:00:00","store_id":"attr-s1","current_url":"HTTPS://u:p@WWW.GLAMIRA.CO.KR.:443/x"})"),
      absl::StrCat(R"({"local_time":")", date, R"( 10:00:00","store_id":"attr-s1","current_url":"https://glamira.de/"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","store_id":"attr-s2","current_url":"https://glamira.de/"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-attr","store_id":"attr-s2","current_url":"https:\/\/www.glamira.com.sg\/x"})"),
      absl::StrCat(R"({"local_time":")", date, R"( 09:00:00","store_id":"attr-s3","current_url":"garbage"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","store_id":"attr-s3","current_url":"https://glamira.de/"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-attr","store_id":"attr-s4","current_url":"//Shop.Glamira.Com.AU:8443?x"})"),
      absl::StrCat(R"({"local_time":")", date, R"( 08:00:00","device_id":"attr-d1","user_agent":null})"),
      absl::StrCat(R"({"local_time":")", date, R"( 09:00:00","device_id":"attr-d1","user_agent":"Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","device_id":"attr-d1","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","device_id":"attr-d2","user_agent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-attr","device_id":"attr-d2","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","device_id":"attr-d3","user_agent":""})"),
      absl::StrCat(R"({"local_time":")", t, R"(","device_id":"attr-d4","user_agent":"Mozilla/5.0 (Linux; Android 14; SM-X700) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"})"),
      absl::StrCat(R"({"local_time":")", t, R"j(","device_id":"attr-d5","user_agent":"Mozilla/5.0 (compatible; Seekport Crawler; http://seekport.com/)"})j"),
      absl::StrCat(R"({"local_time":")", t, R"(","product_id":"p-attr","referrer_url":"HTTP://user:pw@[2001:DB8::1]:8080/x"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","referrer_url":"https://WWW.GOOGLE.CO.KR./search?q=ring"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","referrer_url":"android-app://com.google.android.gm/"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","referrer_url":"https://gl%61mira.de:443/x"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","referrer_url":"about:blank"})"),
      absl::StrCat(R"({"local_time":")", t, R"(","referrer_url":"https://m.fb.com/x"})"),
      // Invalid records of every kind.
      R"([1,2,3])",
      R"("just a string")",
      R"({"local_time": "2024-02-30 10:00:00", "product_id": "p"})",
      R"({"product_id": "no-time"})",
      R"({"local_time": 1717200000, "product_id": "p"})",
      R"({"local_time": ")" + t + R"(", "product_id": "trunc)",
      "not json at all \xff\xfe",
  };
}

std::vector<std::string> GenerateRecords(const datagen::GeneratorOptions& options,
                                         const std::string& messy_date) {
  std::vector<std::string> records;
  datagen::EventGenerator gen(options);
  std::string buf;
  while (gen.remaining() > 0) {
    buf.clear();
    gen.AppendNext(&buf);
    records.push_back(buf);
  }
  for (std::string& r : MessyRecords(messy_date)) records.push_back(std::move(r));
  return records;
}

absl::StatusOr<std::vector<std::string>> WriteSegments(
    const std::string& dir, const std::vector<std::string>& records,
    size_t per_segment) {
  // Continue after what the directory already holds, as consume would.
  segment::SegmentCatalogue catalogue(dir);
  PV_RETURN_IF_ERROR(catalogue.Refresh());
  const absl::flat_hash_map<int32_t, int64_t> next = catalogue.NextKafkaOffsets("product_views");
  int64_t offsets[3] = {0, 0, 0};
  for (int32_t p = 0; p < 3; ++p) {
    if (auto it = next.find(p); it != next.end()) offsets[p] = it->second;
  }
  size_t number = catalogue.size();
  std::vector<std::string> paths;
  for (size_t start = 0; start < records.size(); start += per_segment) {
    segment::WriterOptions o;
    o.dir = dir;
    o.kind = segment::SourceKind::kKafka;
    o.source = "product_views";
    o.block_bytes = 64 << 10;  // many blocks, to exercise the parallel scan
    o.name = absl::StrCat("test-", 100000 + number++);
    PV_ASSIGN_OR_RETURN(auto writer, segment::SegmentWriter::Create(o));
    for (size_t i = start; i < std::min(records.size(), start + per_segment); ++i) {
      segment::RecordMeta m;
      m.partition = static_cast<int32_t>(i % 3);
      m.offset = offsets[i % 3]++;
      m.timestamp_ms = 1717200000000;
      PV_RETURN_IF_ERROR(writer->Append(m, records[i]));
    }
    PV_ASSIGN_OR_RETURN(segment::SegmentInfo info, writer->Publish());
    paths.push_back(info.path);
  }
  return paths;
}

std::string CanonicalText(const star::StarBatch& b) {
  std::vector<std::string> lines;
  for (size_t i = 1; i < b.products.size(); ++i) lines.push_back("P " + b.products[i]);
  for (size_t i = 1; i < b.stores.size(); ++i) {
    lines.push_back(absl::StrCat("S ", b.stores[i], " ", b.store_attributes[i].country, " ",
                                 b.store_attributes[i].domain, " ",
                                 b.store_attributes[i].pick_time));
  }
  for (size_t i = 1; i < b.referrers.size(); ++i) {
    lines.push_back(absl::StrCat("R ", b.referrers[i], " ", b.referrer_attributes[i].domain,
                                 " ", static_cast<int>(b.referrer_attributes[i].type)));
  }
  for (size_t i = 1; i < b.devices.size(); ++i) {
    lines.push_back(absl::StrCat("D ", b.devices[i], " ", b.device_attributes[i].device.Code(),
                                 " ", b.device_attributes[i].pick_time));
  }
  for (int32_t d : b.days) lines.push_back(absl::StrCat("T ", d));
  for (int32_t d : b.fact_days) lines.push_back(absl::StrCat("F ", d));
  for (const star::FactRow& f : b.facts) {
    lines.push_back(absl::StrCat("X ", f.day, "|", b.products[f.product], "|",
                                 b.stores[f.store], "|", b.referrers[f.referrer],
                                 "|", b.devices[f.device], "|", f.view_count, "|",
                                 f.min_time, "|", f.max_time, "|", f.sum_time));
  }
  std::sort(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

}  // namespace pv::etl::testing
