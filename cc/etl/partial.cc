#include "cc/etl/partial.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cc/common/files.h"
#include "cc/common/status.h"
#include "cc/segment/coding.h"
#include "cc/segment/crc32c.h"
#include "cc/star/attributes.h"
#include "cc/star/calendar.h"

namespace pv::etl {
namespace {

using segment::internal::ByteReader;
using segment::internal::GetFixed32;
using segment::internal::GetFixed64;
using segment::internal::PutFixed32;
using segment::internal::PutFixed64;
using segment::internal::PutLengthPrefixed;
using segment::internal::PutVarint;
using segment::internal::ZigZag;

constexpr char kMagic[8] = {'P', 'V', 'P', 'A', 'R', 'T', '\r', '\n'};
constexpr char kEndMagic[4] = {'P', 'V', 'P', 'E'};
constexpr size_t kHeaderBytes = 12;   // magic, version
constexpr size_t kTrailerBytes = 16;  // length, CRC32C, end magic

enum Section : uint8_t {
  kCover = 1,
  kInputs,
  kCounts,
  kProducts,
  kStores,
  kReferrers,
  kDevices,
  kDays,
  kFacts,
  kSectionEnd,
};
constexpr const char* kSectionNames[] = {"",       "cover",     "inputs",  "counts", "products",
                                         "stores", "referrers", "devices", "days",   "facts"};

void PutZigZag(std::string* out, int64_t v) { PutVarint(out, ZigZag(v)); }

void PutSection(std::string* out, Section tag, const std::string& body) {
  out->push_back(static_cast<char>(tag));
  PutVarint(out, body.size());
  out->append(body);
}

std::string BasenameOf(absl::string_view path) {
  const size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

// Reads one section's fields; the first failure is kept with its offset.
class SectionReader {
 public:
  SectionReader(absl::string_view source, Section section, absl::string_view bytes,
                size_t file_offset)
      : source_(source), section_(section), in_(bytes.data(), bytes.size()),
        file_offset_(file_offset) {}

  bool ok() const { return error_.empty(); }
  size_t remaining() const { return in_.remaining(); }

  uint64_t U(const char* field) {
    uint64_t v = 0;
    if (ok() && !in_.GetVarint(&v)) Fail(field, "truncated or malformed varint");
    return v;
  }
  int64_t I(const char* field) {
    int64_t v = 0;
    if (ok() && !in_.GetZigZag(&v)) Fail(field, "truncated or malformed varint");
    return v;
  }
  uint64_t Bounded(const char* field, uint64_t at_most) {
    const uint64_t v = U(field);
    if (!ok()) return 0;
    if (v > at_most) {
      Fail(field, absl::StrCat("value ", v, " is above ", at_most));
      return 0;
    }
    return v;
  }
  // A count of items of at least one byte each.
  size_t Count(const char* field) { return static_cast<size_t>(Bounded(field, remaining())); }
  int32_t Day(const char* field) {
    const int64_t v = I(field);
    if (ok() && (v < INT32_MIN / 2 || v > INT32_MAX / 2)) Fail(field, "day out of range");
    return static_cast<int32_t>(v);
  }
  std::string Str(const char* field) {
    absl::string_view s;
    if (ok() && !in_.GetLengthPrefixed(&s)) Fail(field, "truncated string");
    return std::string(s);
  }
  void Fail(absl::string_view field, absl::string_view why) {
    if (!ok()) return;
    error_ = absl::StrCat("partial file ", source_, ": section ", kSectionNames[section_],
                          ", field ", field, " at byte ", file_offset_ + in_.position(), ": ",
                          why);
  }
  absl::Status Finish() {
    if (ok() && remaining() != 0) Fail("(end)", absl::StrCat(remaining(), " unread bytes"));
    return ok() ? absl::OkStatus() : absl::DataLossError(error_);
  }

 private:
  absl::string_view source_;
  Section section_;
  ByteReader in_;
  size_t file_offset_;
  std::string error_;
};

template <typename T>
bool SortedUnique(const std::vector<T>& v) {
  for (size_t i = 1; i < v.size(); ++i) {
    if (!(v[i - 1] < v[i])) return false;
  }
  return true;
}

// Member i's key: member 0 is "" (the Unknown member), the others follow in
// strictly increasing byte order (so they are distinct).
void CheckKey(SectionReader& r, size_t i, const std::vector<std::string>& keys) {
  if (!r.ok()) return;
  if (i == 0 ? !keys[0].empty() : !(keys[i - 1] < keys[i])) {
    r.Fail("natural key", absl::StrCat("member ", i, i == 0 ? " is not the Unknown member"
                                                            : " is not after member ",
                                       i == 0 ? "" : absl::StrCat(i - 1), " in key order"));
  }
}

// The ordinals of `keys` in key order (ordinal 0, the Unknown member "",
// stays first), and the inverse: each ordinal's rank.
std::vector<uint32_t> KeyOrder(const std::vector<std::string>& keys) {
  std::vector<uint32_t> order(keys.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
  return order;
}
std::vector<uint32_t> Ranks(const std::vector<uint32_t>& order) {
  std::vector<uint32_t> rank(order.size());
  for (uint32_t r = 0; r < order.size(); ++r) rank[order[r]] = r;
  return rank;
}

auto GrainOf(const star::FactRow& f) {
  return std::make_tuple(f.day, f.product, f.store, f.referrer, f.device);
}

bool ValidDeviceCode(uint64_t code) {
  if (code > 0xffffff) return false;
  const star::Device d = star::Device::FromCode(static_cast<uint32_t>(code));
  return d.type <= star::DeviceType::kBot && d.browser <= star::Browser::kOther &&
         d.os <= star::Os::kOther;
}

}  // namespace

std::string SelectionToken(const DateSelection& d) {
  switch (d.mode) {
    case DateSelection::Mode::kAll:
      return "all";
    case DateSelection::Mode::kDays: {
      std::vector<std::string> days;
      for (int32_t day : d.days) days.push_back(star::DayText(day));
      return absl::StrCat("days:", absl::StrJoin(days, ","));
    }
    case DateSelection::Mode::kRange:
      return absl::StrCat("range:", star::DayText(d.first_day), ":", star::DayText(d.last_day));
    case DateSelection::Mode::kHorizon:
      return absl::StrCat("horizon:", d.horizon, ":",
                          d.newest_floor == INT32_MIN ? "none" : star::DayText(d.newest_floor));
  }
  return "?";
}

absl::StatusOr<DateSelection> ParseSelection(absl::string_view token) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("date selection \"", token, "\": ", why,
                     " (all | days:D,D,... | range:D:D | horizon:N:D|none, D as 2026-01-31)"));
  };
  auto day = [](absl::string_view text, int32_t* out) { return star::ParseDayText(text, out); };
  if (token == "all") return DateSelection::All();
  const std::vector<absl::string_view> parts = absl::StrSplit(token, ':');
  if (parts[0] == "days" && parts.size() == 2) {
    std::vector<int32_t> days;
    if (!parts[1].empty()) {
      for (absl::string_view t : absl::StrSplit(parts[1], ',')) {
        int32_t d;
        if (!day(t, &d)) return bad(absl::StrCat("bad day \"", t, "\""));
        days.push_back(d);
      }
    }
    return DateSelection::Days(std::move(days));
  }
  if (parts[0] == "range" && parts.size() == 3) {
    int32_t a, b;
    if (!day(parts[1], &a) || !day(parts[2], &b) || a > b) return bad("bad range");
    return DateSelection::Range(a, b);
  }
  if (parts[0] == "horizon" && parts.size() == 3) {
    int32_t horizon, floor = INT32_MIN;
    if (!absl::SimpleAtoi(parts[1], &horizon) || horizon < 1) return bad("bad horizon");
    if (parts[2] != "none" && !day(parts[2], &floor)) return bad("bad newest day");
    return DateSelection::Horizon(horizon, floor);
  }
  return bad("unknown form");
}

bool SameSelection(const DateSelection& a, const DateSelection& b) {
  return SelectionToken(a) == SelectionToken(b);
}

std::string PartialName(const Partial& p) {
  std::vector<std::string> items;
  for (const SegmentSummary& s : p.scan.inputs) {
    items.push_back(absl::StrCat(BasenameOf(s.path), "/", s.file_bytes, "/", s.footer_crc));
  }
  std::sort(items.begin(), items.end());
  const std::string what = absl::StrCat(SelectionToken(p.dates), "\n", p.quarantined ? 1 : 0,
                                        "\n", absl::StrJoin(items, "\n"));
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bits
  for (unsigned char c : what) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return absl::StrFormat("part-%016x%s", h, kPartialSuffix);
}

std::string EncodePartial(const Partial& p) {
  const ScanResult& r = p.scan;
  const star::StarBatch& b = r.batch;
  std::string out(kMagic, sizeof(kMagic));
  out.resize(kHeaderBytes);
  PutFixed32(&out[8], kPartialVersion);
  std::string s;

  PutLengthPrefixed(&s, SelectionToken(p.dates));
  PutVarint(&s, p.quarantined ? 1 : 0);
  PutLengthPrefixed(&s, p.quarantine_file);
  PutVarint(&s, p.quarantined_records);
  PutSection(&out, kCover, s);

  s.clear();
  PutVarint(&s, r.inputs.size());
  for (const SegmentSummary& in : r.inputs) {
    PutLengthPrefixed(&s, in.path);
    PutVarint(&s, in.records);
    PutVarint(&s, in.file_bytes);
    PutVarint(&s, in.payload_bytes);
    PutVarint(&s, in.invalid);
    PutVarint(&s, in.footer_crc);
    PutVarint(&s, in.day_events.size());
    for (const auto& [day, n] : in.day_events) {
      PutZigZag(&s, day);
      PutVarint(&s, n);
    }
  }
  PutSection(&out, kInputs, s);

  s.clear();
  const ScanCounts& c = r.counts;
  for (uint64_t v : {c.records, c.payload_bytes, c.valid}) PutVarint(&s, v);
  PutVarint(&s, c.invalid.size());
  for (uint64_t v : c.invalid) PutVarint(&s, v);
  for (uint64_t v : {c.skipped_no_product, c.fact_events, c.other_days, c.tombstones}) {
    PutVarint(&s, v);
  }
  PutVarint(&s, r.day_events.size());
  for (const auto& [day, e] : r.day_events) {
    PutZigZag(&s, day);
    PutVarint(&s, e.valid);
    PutVarint(&s, e.with_product);
  }
  PutSection(&out, kCounts, s);

  // Members in natural-key order (the Unknown member first) and facts in
  // grain order: the bytes depend on what was scanned, not on the scan's
  // thread schedule, so a retried task writes the same file.
  const std::vector<uint32_t> products = KeyOrder(b.products), stores = KeyOrder(b.stores),
                              referrers = KeyOrder(b.referrers), devices = KeyOrder(b.devices);
  s.clear();
  PutVarint(&s, b.products.size());
  for (uint32_t i : products) PutLengthPrefixed(&s, b.products[i]);
  PutSection(&out, kProducts, s);

  s.clear();
  PutVarint(&s, b.stores.size());
  for (uint32_t i : stores) {
    PutLengthPrefixed(&s, b.stores[i]);
    PutZigZag(&s, b.store_attributes[i].pick_time);
    PutLengthPrefixed(&s, b.store_attributes[i].domain);
    PutVarint(&s, b.store_attributes[i].country);
  }
  PutSection(&out, kStores, s);

  s.clear();
  PutVarint(&s, b.referrers.size());
  for (uint32_t i : referrers) {
    PutLengthPrefixed(&s, b.referrers[i]);
    PutLengthPrefixed(&s, b.referrer_attributes[i].domain);
    PutVarint(&s, static_cast<uint64_t>(b.referrer_attributes[i].type));
  }
  PutSection(&out, kReferrers, s);

  s.clear();
  PutVarint(&s, b.devices.size());
  for (uint32_t i : devices) {
    PutLengthPrefixed(&s, b.devices[i]);
    PutZigZag(&s, b.device_attributes[i].pick_time);
    PutVarint(&s, b.device_attributes[i].device.Code());
  }
  PutSection(&out, kDevices, s);

  s.clear();
  PutVarint(&s, b.days.size());
  for (int32_t d : b.days) PutZigZag(&s, d);
  PutVarint(&s, b.fact_days.size());
  for (int32_t d : b.fact_days) PutZigZag(&s, d);
  PutSection(&out, kDays, s);

  s.clear();
  const std::vector<uint32_t> product_rank = Ranks(products), store_rank = Ranks(stores),
                              referrer_rank = Ranks(referrers), device_rank = Ranks(devices);
  // (An ordinal out of range, a caller's bug, is written as it is, and the
  // reader refuses it.)
  auto remap = [](const std::vector<uint32_t>& rank, uint32_t& ordinal) {
    if (ordinal < rank.size()) ordinal = rank[ordinal];
  };
  std::vector<star::FactRow> facts = b.facts;
  for (star::FactRow& f : facts) {
    remap(product_rank, f.product);
    remap(store_rank, f.store);
    remap(referrer_rank, f.referrer);
    remap(device_rank, f.device);
  }
  std::sort(facts.begin(), facts.end(), [](const star::FactRow& x, const star::FactRow& y) {
    return GrainOf(x) < GrainOf(y);
  });
  PutVarint(&s, facts.size());
  for (const star::FactRow& f : facts) {
    PutZigZag(&s, f.day);
    for (uint32_t m : {f.product, f.store, f.referrer, f.device}) PutVarint(&s, m);
    PutVarint(&s, static_cast<uint64_t>(f.view_count));
    PutZigZag(&s, f.min_time);
    PutZigZag(&s, f.max_time);
    PutZigZag(&s, f.sum_time);
  }
  PutSection(&out, kFacts, s);

  const size_t end = out.size();
  out.resize(end + kTrailerBytes);
  PutFixed64(&out[end], end);
  PutFixed32(&out[end + 8], segment::Crc32c(out.data(), end));
  std::memcpy(&out[end + 12], kEndMagic, sizeof(kEndMagic));
  return out;
}

absl::StatusOr<Partial> DecodePartial(absl::string_view bytes, absl::string_view source) {
  auto error = [&](auto&&... why) {
    return absl::DataLossError(absl::StrCat("partial file ", source, ": ", why...));
  };
  if (bytes.size() < kHeaderBytes + kTrailerBytes ||
      std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return error("not a partial result (", bytes.size(), " bytes, no PVPART header)");
  }
  const size_t end = bytes.size() - kTrailerBytes;
  const char* trailer = bytes.data() + end;
  if (std::memcmp(trailer + 12, kEndMagic, sizeof(kEndMagic)) != 0 ||
      GetFixed64(trailer) != end) {
    return error("truncated or extended: ", bytes.size(),
                 " bytes and no valid trailer at its end (the file is incomplete)");
  }
  const uint32_t stored_crc = GetFixed32(trailer + 8);
  const uint32_t crc = segment::Crc32c(bytes.data(), end);
  if (crc != stored_crc) {
    return error(absl::StrFormat("checksum mismatch over bytes [0, %d): stored %08x, computed "
                                 "%08x (the file is corrupt)",
                                 end, stored_crc, crc));
  }
  const uint32_t version = GetFixed32(bytes.data() + 8);
  if (version != kPartialVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "partial file ", source, ": format version ", version, " is not supported (this build "
        "reads version ", kPartialVersion, "); scan its segments again with this build"));
  }

  // The sections, in order.
  absl::string_view body[kSectionEnd];
  size_t offset[kSectionEnd] = {};
  {
    ByteReader in(bytes.data() + kHeaderBytes, end - kHeaderBytes);
    for (int tag = kCover; tag < kSectionEnd; ++tag) {
      const size_t at = kHeaderBytes + in.position();
      uint64_t got = 0;
      absl::string_view b;
      if (!in.GetVarint(&got) || got != static_cast<uint64_t>(tag) || !in.GetLengthPrefixed(&b)) {
        return error("section ", kSectionNames[tag], " expected at byte ", at,
                     " (the file is inconsistent)");
      }
      body[tag] = b;
      offset[tag] = static_cast<size_t>(b.data() - bytes.data());
    }
    if (in.remaining() != 0) {
      return error(in.remaining(), " unexpected bytes after the last section");
    }
  }
  auto reader = [&](Section tag) { return SectionReader(source, tag, body[tag], offset[tag]); };

  Partial p;
  ScanResult& r = p.scan;
  star::StarBatch& b = r.batch;
  {
    SectionReader s = reader(kCover);
    const std::string token = s.Str("selection");
    p.quarantined = s.Bounded("quarantined", 1) == 1;
    p.quarantine_file = s.Str("quarantine file");
    p.quarantined_records = s.U("quarantined records");
    if (s.ok() && p.quarantine_file.find('/') != std::string::npos) {
      s.Fail("quarantine file", "is not a base name");
    }
    PV_RETURN_IF_ERROR(s.Finish());
    absl::StatusOr<DateSelection> dates = ParseSelection(token);
    if (!dates.ok()) return error("section cover: ", dates.status().message());
    p.dates = *dates;
  }
  {
    SectionReader s = reader(kInputs);
    const size_t n = s.Count("input count");
    for (size_t i = 0; i < n && s.ok(); ++i) {
      SegmentSummary in;
      in.path = s.Str("segment path");
      in.records = s.U("records");
      in.file_bytes = s.U("file bytes");
      in.payload_bytes = s.U("payload bytes");
      in.invalid = s.U("invalid");
      in.footer_crc = static_cast<uint32_t>(s.Bounded("footer checksum", UINT32_MAX));
      const size_t days = s.Count("day count");
      for (size_t d = 0; d < days && s.ok(); ++d) {
        const int32_t day = s.Day("day");
        const uint64_t events = s.U("day events");
        if (s.ok() && !in.day_events.emplace(day, events).second) s.Fail("day", "repeated");
      }
      r.inputs.push_back(std::move(in));
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kCounts);
    ScanCounts& c = r.counts;
    c.records = s.U("records");
    c.payload_bytes = s.U("payload bytes");
    c.valid = s.U("valid");
    if (s.ok() && s.U("reasons") != c.invalid.size()) {
      s.Fail("reasons", absl::StrCat("this build counts ", c.invalid.size(), " reasons"));
    }
    for (uint64_t& v : c.invalid) v = s.U("invalid");
    c.skipped_no_product = s.U("skipped");
    c.fact_events = s.U("fact events");
    c.other_days = s.U("other days");
    c.tombstones = s.U("tombstones");
    const size_t days = s.Count("day count");
    for (size_t i = 0; i < days && s.ok(); ++i) {
      const int32_t day = s.Day("day");
      DayEvents e;
      e.valid = s.U("valid");
      e.with_product = s.U("with product");
      if (s.ok() && !r.day_events.emplace(day, e).second) s.Fail("day", "repeated");
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kProducts);
    const size_t n = s.Count("member count");
    if (s.ok() && n == 0) s.Fail("member count", "no Unknown member");
    for (size_t i = 0; i < n && s.ok(); ++i) {
      b.products.push_back(s.Str("natural key"));
      CheckKey(s, i, b.products);
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kStores);
    const size_t n = s.Count("member count");
    if (s.ok() && n == 0) s.Fail("member count", "no Unknown member");
    for (size_t i = 0; i < n && s.ok(); ++i) {
      b.stores.push_back(s.Str("natural key"));
      CheckKey(s, i, b.stores);
      star::StoreAttributes a;
      a.pick_time = s.I("pick time");
      a.domain = s.Str("domain");
      a.country = static_cast<uint16_t>(s.Bounded("country", star::CountryCount() - 1));
      b.store_attributes.push_back(std::move(a));
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kReferrers);
    const size_t n = s.Count("member count");
    if (s.ok() && n == 0) s.Fail("member count", "no Unknown member");
    for (size_t i = 0; i < n && s.ok(); ++i) {
      b.referrers.push_back(s.Str("natural key"));
      CheckKey(s, i, b.referrers);
      star::ReferrerAttributes a;
      a.domain = s.Str("domain");
      a.type = static_cast<star::ReferrerType>(
          s.Bounded("type", static_cast<uint64_t>(star::ReferrerType::kOther)));
      b.referrer_attributes.push_back(std::move(a));
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kDevices);
    const size_t n = s.Count("member count");
    if (s.ok() && n == 0) s.Fail("member count", "no Unknown member");
    for (size_t i = 0; i < n && s.ok(); ++i) {
      b.devices.push_back(s.Str("natural key"));
      CheckKey(s, i, b.devices);
      star::DeviceAttributes a;
      a.pick_time = s.I("pick time");
      const uint64_t code = s.U("device code");
      if (s.ok() && !ValidDeviceCode(code)) s.Fail("device code", "unknown device code");
      a.device = star::Device::FromCode(static_cast<uint32_t>(code));
      b.device_attributes.push_back(a);
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kDays);
    for (std::vector<int32_t>* days : {&b.days, &b.fact_days}) {
      const size_t n = s.Count("day count");
      for (size_t i = 0; i < n && s.ok(); ++i) days->push_back(s.Day("day"));
      if (s.ok() && !SortedUnique(*days)) s.Fail("day", "days not sorted or repeated");
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  {
    SectionReader s = reader(kFacts);
    const size_t n = s.Count("row count");
    b.facts.reserve(n);
    for (size_t i = 0; i < n && s.ok(); ++i) {
      star::FactRow f;
      f.day = s.Day("day");
      f.product = static_cast<uint32_t>(s.Bounded("product", b.products.size() - 1));
      f.store = static_cast<uint32_t>(s.Bounded("store", b.stores.size() - 1));
      f.referrer = static_cast<uint32_t>(s.Bounded("referrer", b.referrers.size() - 1));
      f.device = static_cast<uint32_t>(s.Bounded("device", b.devices.size() - 1));
      f.view_count = static_cast<int64_t>(s.Bounded("view count", INT64_MAX));
      f.min_time = s.I("first view");
      f.max_time = s.I("last view");
      f.sum_time = s.I("time sum");
      if (!s.ok()) break;
      const int64_t start = int64_t{f.day} * 86400;
      if (!std::binary_search(b.fact_days.begin(), b.fact_days.end(), f.day)) {
        s.Fail("day", absl::StrCat("row ", i, " is not in a fact day"));
      } else if (f.view_count < 1 || f.min_time < start || f.max_time < f.min_time ||
                 f.max_time >= start + 86400) {
        s.Fail("measures", absl::StrCat("row ", i, " has impossible measures"));
      } else if (!b.facts.empty() && !(GrainOf(b.facts.back()) < GrainOf(f))) {
        s.Fail("grain", absl::StrCat("row ", i, " is not after row ", i - 1, " in grain order"));
      }
      b.facts.push_back(f);
    }
    PV_RETURN_IF_ERROR(s.Finish());
  }
  return p;
}

absl::StatusOr<std::string> WritePartialFile(const std::string& dir, const Partial& partial) {
  const std::string path = absl::StrCat(dir, "/", PartialName(partial));
  PV_RETURN_IF_ERROR(WriteFileAtomically(path, EncodePartial(partial), "partial.before_rename"));
  return path;
}

absl::StatusOr<Partial> ReadPartialFile(const std::string& path) {
  PV_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path));
  return DecodePartial(bytes, path);
}

}  // namespace pv::etl
