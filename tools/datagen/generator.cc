#include "tools/datagen/generator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cc/star/calendar.h"

namespace pv::datagen {
namespace {

// ---------------------------------------------------------------------------
// Randomness: splitmix64 for seeding and hashing, xoshiro256** for streams.

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

class Rng {
 public:
  explicit Rng(uint64_t* state) : s_(state) {}
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // Uniform in [0, 1).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  bool Chance(double p) { return Unit() < p; }

 private:
  uint64_t* s_;
};

void SeedState(uint64_t seed, uint64_t state[4]) {
  uint64_t x = seed;
  for (int i = 0; i < 4; ++i) {
    x = SplitMix64(x);
    state[i] = x;
  }
}

// Cumulative Zipf weights 1/k^s for ranks 1..n, normalized to end at 1.
std::vector<double> ZipfCdf(size_t n, double s) {
  std::vector<double> cdf(n);
  double total = 0;
  for (size_t k = 0; k < n; ++k) {
    total += 1.0 / std::pow(static_cast<double>(k + 1), s);
    cdf[k] = total;
  }
  for (double& c : cdf) c /= total;
  cdf.back() = 1.0;
  return cdf;
}

size_t SampleCdf(const std::vector<double>& cdf, double unit) {
  size_t i = std::upper_bound(cdf.begin(), cdf.end(), unit) - cdf.begin();
  return std::min(i, cdf.size() - 1);
}

// ---------------------------------------------------------------------------
// Fast appends: the generator writes hundreds of MB/s, so no streams and no
// formatting library per field.

template <size_t N>
inline void Lit(std::string* out, const char (&literal)[N]) {
  out->append(literal, N - 1);
}

// absl::StrAppend formats integers with its own fast digit tables.
inline void AppendUint(std::string* out, uint64_t v) { absl::StrAppend(out, v); }
inline void AppendInt(std::string* out, int64_t v) { absl::StrAppend(out, v); }

inline void AppendHex(std::string* out, uint64_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[16];
  for (int i = digits - 1; i >= 0; --i) {
    buf[i] = kHex[v & 15];
    v >>= 4;
  }
  out->append(buf, digits);
}

inline void Append2(std::string* out, int v) {
  const char buf[2] = {static_cast<char>('0' + v / 10),
                       static_cast<char>('0' + v % 10)};
  out->append(buf, 2);
}

void AppendDate(std::string* out, const star::CivilDate& c) {
  Append2(out, c.year / 100);
  Append2(out, c.year % 100);
  out->push_back('-');
  Append2(out, c.month);
  out->push_back('-');
  Append2(out, c.day);
}

void AppendClock(std::string* out, int64_t seconds_of_day) {
  Append2(out, static_cast<int>(seconds_of_day / 3600));
  out->push_back(':');
  Append2(out, static_cast<int>(seconds_of_day / 60 % 60));
  out->push_back(':');
  Append2(out, static_cast<int>(seconds_of_day % 60));
}

// Text of a URL inside a JSON string, optionally with every '/' written as
// the (valid, needless) escape "\/" as some JSON encoders do.
void AppendUrlText(std::string* out, absl::string_view url,
                   bool escape_slashes) {
  if (!escape_slashes) {
    out->append(url.data(), url.size());
    return;
  }
  for (char c : url) {
    if (c == '/') {
      out->append("\\/", 2);
    } else {
      out->push_back(c);
    }
  }
}

// ---------------------------------------------------------------------------
// Vocabulary.

constexpr const char* kStoreDomains[] = {
    "glamira.de",    "glamira.fr",     "glamira.co.uk", "glamira.com",
    "glamira.it",    "glamira.es",     "glamira.nl",    "glamira.at",
    "glamira.ch",    "glamira.be",     "glamira.dk",    "glamira.se",
    "glamira.no",    "glamira.fi",     "glamira.pl",    "glamira.cz",
    "glamira.sk",    "glamira.hu",     "glamira.ro",    "glamira.bg",
    "glamira.gr",    "glamira.pt",     "glamira.ie",    "glamira.com.au",
    "glamira.ca",    "glamira.com.br", "glamira.com.mx", "glamira.jp",
    "glamira.co.kr", "glamira.in",     "glamira.com.sg", "glamira.co.nz",
    "glamira.co.za", "glamira.ae",     "glamira.com.tr", "glamira.lt",
    "glamira.lv",    "glamira.ee",     "glamira.si",    "glamira.hr",
};
// UTC offset (hours) of each storefront above, in summer.
constexpr int kStoreUtcOffsetHours[] = {
    2, 2, 1, -4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 2, 2, 2, 3, 3,
    3, 1, 1, 10, -4, -3, -5, 9, 9, 5, 8, 12, 2, 4, 3, 3, 3, 3, 2, 2,
};
constexpr int kKnownStores = sizeof(kStoreDomains) / sizeof(kStoreDomains[0]);
static_assert(sizeof(kStoreUtcOffsetHours) / sizeof(int) == kKnownStores);

constexpr const char* kProductTypes[] = {
    "ring",    "necklace", "earring", "bracelet", "pendant", "anillo",
    "bague",   "ring-set", "collier", "armband",  "orecchini", "charm",
};
constexpr const char* kProductNames[] = {
    "saphira", "elia",   "lorena", "vanessa", "amara",  "bellona", "calla",
    "dorine",  "eleni",  "felicia", "gilda",  "helena", "ilona",   "jada",
    "kalinda", "liora",  "mirela", "nadira",  "oriana", "paloma",  "quinta",
    "rosalie", "selene", "tamara", "ursula",  "valora", "wilma",   "xenia",
    "yasmin",  "zelda",
};
constexpr const char* kAlloys[] = {
    "white-375", "yellow-375", "red-375", "white-585", "yellow-585",
    "red-585",   "white-750",  "platin",  "silber",    "palladium-950",
};
constexpr const char* kStones[] = {
    "diamond-Brillant", "sapphire", "ruby", "emerald", "amethyst",
    "swarovskikristall", "zirconia", "pearl", "topaz", "moissanite",
};
constexpr const char* kOptionLabels[] = {
    "alloy", "diamond", "stone1", "stone2", "pearlcolor", "size",
};
constexpr const char* kCategories[] = {
    "engagement-rings", "wedding-rings", "men-s-necklaces", "earrings",
    "bracelets",        "diamond-rings", "birthstone-rings", "pendants",
    "eternity-rings",   "promise-rings",
};
constexpr const char* kSearchWords[] = {
    "glamira", "ring", "diamond", "gold", "engagement", "wedding", "necklace",
    "silver",  "earrings", "bracelet", "sapphire", "cheap", "best", "men",
};
constexpr const char* kOtherSites[] = {
    "idealo",  "pricerunner", "trustpilot", "reddit",   "youtube", "pinterest",
    "weddingwire", "theknot", "brides",     "vogue",    "shopping", "compare",
};
constexpr const char* kTlds[] = {"com", "de", "fr", "co.uk", "it", "es", "nl"};
constexpr const char* kCollections[] = {
    "select_product_option", "select_product_option_quality",
    "view_listing_page",     "product_detail_recommendation_visible",
    "add_to_cart_action",
};
// Non-ASCII category paths, raw UTF-8 and as JSON \u escapes.
constexpr const char* kAccentedRaw[] = {
    "bagues-de-fian\xc3\xa7" "ailles", "verlobungsringe-f\xc3\xbcr-sie",
    "caf\xc3\xa9-collection", "s\xc3\xb8lv-ringe", "\xc3\xa9l\xc3\xa9gance",
};
constexpr const char* kAccentedEscaped[] = {
    "bagues-de-fian\\u00e7ailles", "verlobungsringe-f\\u00fcr-sie",
    "caf\\u00e9-collection", "s\\u00f8lv-ringe", "\\u00e9l\\u00e9gance",
};

struct UserAgent {
  const char* text;
  int weight;
  const char* resolutions[3];
};
constexpr UserAgent kUserAgents[] = {
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.97 Safari/537.36",
     18, {"1920x1080", "1366x768", "1536x864"}},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/81.0.4044.138 Safari/537.36",
     6, {"1920x1080", "1440x900", "1600x900"}},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:77.0) Gecko/20100101 Firefox/77.0",
     5, {"1920x1080", "1366x768", "2560x1440"}},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.97 Safari/537.36 Edg/83.0.478.45",
     4, {"1920x1080", "1366x768", "1280x720"}},
    {"Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.61 Safari/537.36",
     2, {"1366x768", "1280x1024", "1920x1080"}},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15",
     5, {"1440x900", "1680x1050", "2560x1600"}},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_4) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.97 Safari/537.36",
     4, {"1440x900", "1920x1080", "1280x800"}},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:77.0) Gecko/20100101 Firefox/77.0",
     1, {"1440x900", "1680x1050", "1920x1080"}},
    {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.97 Safari/537.36",
     1, {"1920x1080", "1366x768", "2560x1440"}},
    {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:77.0) Gecko/20100101 Firefox/77.0",
     1, {"1920x1080", "1366x768", "1280x1024"}},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 13_5_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1",
     16, {"375x667", "414x896", "375x812"}},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 13_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1 Mobile/15E148 Safari/604.1",
     6, {"375x667", "414x736", "320x568"}},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 13_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/83.0.4103.88 Mobile/15E148 Safari/604.1",
     2, {"375x812", "414x896", "375x667"}},
    {"Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.96 Mobile Safari/537.36",
     9, {"360x760", "412x869", "360x640"}},
    {"Mozilla/5.0 (Linux; Android 9; SM-A505FN) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.96 Mobile Safari/537.36",
     5, {"412x892", "360x780", "393x851"}},
    {"Mozilla/5.0 (Linux; Android 10; Pixel 3a) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.101 Mobile Safari/537.36",
     2, {"393x808", "412x846", "360x740"}},
    {"Mozilla/5.0 (Linux; Android 10; SM-G975F) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/12.0 Chrome/79.0.3945.136 Mobile Safari/537.36",
     3, {"412x869", "360x760", "384x854"}},
    {"Mozilla/5.0 (Android 10; Mobile; rv:68.0) Gecko/68.0 Firefox/68.0",
     1, {"360x720", "412x846", "360x640"}},
    {"Mozilla/5.0 (iPad; CPU OS 13_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1",
     4, {"768x1024", "834x1112", "1024x1366"}},
    {"Mozilla/5.0 (Linux; Android 9; SM-T510) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.96 Safari/537.36",
     2, {"800x1280", "1200x1920", "768x1024"}},
    {"Mozilla/5.0 (Linux; Android 10; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/83.0.4103.101 Safari/537.36",
     1, {"800x1280", "1200x1920", "600x1024"}},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
     1, {"1920x1080", "1280x720", "1920x1080"}},
};
constexpr int kUserAgentCount = sizeof(kUserAgents) / sizeof(kUserAgents[0]);

template <typename T, size_t N>
constexpr size_t CountOf(const T (&)[N]) {
  return N;
}

template <size_t N>
const char* Pick(const char* const (&items)[N], uint64_t r) {
  return items[r % N];
}

}  // namespace

// ---------------------------------------------------------------------------

absl::string_view RecordKindName(RecordKind kind) {
  switch (kind) {
    case RecordKind::kClean:
      return "clean";
    case RecordKind::kMessy:
      return "messy";
    case RecordKind::kNotJson:
      return "not_json";
    case RecordKind::kNotObject:
      return "not_object";
    case RecordKind::kBadTime:
      return "bad_time";
    case RecordKind::kMissingTime:
      return "missing_time";
    case RecordKind::kCount:
      break;
  }
  return "unknown";
}

absl::Status ValidateOptions(const GeneratorOptions& o) {
  if (o.events < 0) return absl::InvalidArgumentError("events must be >= 0");
  if (o.days < 1) return absl::InvalidArgumentError("days must be >= 1");
  if (o.products < 1) return absl::InvalidArgumentError("products must be >= 1");
  if (o.devices < 0) return absl::InvalidArgumentError("devices must be >= 0");
  if (o.referrers < 1) {
    return absl::InvalidArgumentError("referrers must be >= 1");
  }
  if (o.stores < 1) return absl::InvalidArgumentError("stores must be >= 1");
  const double rates[] = {o.rate_not_json, o.rate_not_object, o.rate_bad_time,
                          o.rate_missing_time, o.rate_messy};
  const char* names[] = {"rate_not_json", "rate_not_object", "rate_bad_time",
                         "rate_missing_time", "rate_messy"};
  double total = 0;
  for (int i = 0; i < 5; ++i) {
    if (!(rates[i] >= 0 && rates[i] <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat(names[i], " must be in [0, 1], got ", rates[i]));
    }
    total += rates[i];
  }
  if (total > 1 + 1e-9) {
    return absl::InvalidArgumentError(
        absl::StrCat("the rates sum to ", total, ", more than 1"));
  }
  // Dates outside four-digit years would not print as YYYY-MM-DD.
  if (o.start_day < star::DayFromCivil(1000, 1, 1) ||
      static_cast<int64_t>(o.start_day) + o.days >
          star::DayFromCivil(9999, 12, 31)) {
    return absl::InvalidArgumentError("dates must stay within years 1000-9999");
  }
  return absl::OkStatus();
}

struct EventGenerator::Pools {
  std::vector<std::string> store_ids;      // "12"
  std::vector<std::string> store_origins;  // "https://www.glamira.de"
  std::vector<int> store_offsets;          // seconds east of UTC
  std::vector<double> store_cdf;
  std::vector<std::string> product_ids;    // "110474"
  std::vector<std::string> product_paths;  // "/glamira-ring-saphira-skug100335.html"
  std::vector<double> product_cdf;
  std::vector<std::string> referrers;      // non-empty URLs
  std::vector<double> referrer_cdf;
  std::vector<int> user_agent_cdf;         // cumulative weights
  int user_agent_total = 0;
  std::string noise;                       // URL-safe filler for long URLs
  int64_t devices = 0;
  int64_t start_second = 0, span_seconds = 0;
  // Cache of the last day's "YYYY-MM-DD", as consecutive records share it.
  int32_t cached_day = INT32_MIN;
  std::string cached_date;
};

EventGenerator::EventGenerator(const GeneratorOptions& options)
    : options_(options), pools_(std::make_unique<Pools>()) {
  SeedState(options.seed, rng_);
  // Pools come from their own stream so that they do not shift when the
  // per-record logic changes.
  uint64_t pool_state[4];
  SeedState(options.seed ^ 0x5eed5eed5eed5eedULL, pool_state);
  Rng rng(pool_state);
  Pools& p = *pools_;

  for (int i = 0; i < options.stores; ++i) {
    p.store_ids.push_back(absl::StrCat(i < kKnownStores ? i + 1 : 100 + i));
    p.store_origins.push_back(
        i < kKnownStores ? absl::StrCat("https://www.", kStoreDomains[i])
                         : absl::StrCat("https://www.glamira-store", i, ".com"));
    p.store_offsets.push_back(
        3600 * (i < kKnownStores ? kStoreUtcOffsetHours[i] : 0));
  }
  p.store_cdf = ZipfCdf(options.stores, 1.0);

  for (int i = 0; i < options.products; ++i) {
    const uint64_t h = SplitMix64(options.seed * 31 + i);
    p.product_ids.push_back(absl::StrCat(100000 + i * 7 + h % 7));
    p.product_paths.push_back(absl::StrCat(
        "/glamira-", Pick(kProductTypes, h), "-", Pick(kProductNames, h >> 8),
        "-skug", 100000 + (h >> 16) % 900000, ".html"));
  }
  p.product_cdf = ZipfCdf(options.products, 1.1);

  p.referrers.reserve(options.referrers);
  for (int i = 0; i < options.referrers; ++i) {
    const uint64_t h = rng.Next();
    const int kind = static_cast<int>(h % 100);
    const char* tld = Pick(kTlds, h >> 8);
    std::string url;
    if (kind < 35) {  // search: Google
      url = (h >> 16) % 4 == 0
                ? absl::StrCat("https://www.google.", tld, "/")
                : absl::StrCat("https://www.google.", tld, "/search?q=",
                               Pick(kSearchWords, h >> 20), "+",
                               Pick(kSearchWords, h >> 28), "&ei=", i);
    } else if (kind < 40) {  // search: Bing
      url = absl::StrCat("https://www.bing.com/search?q=",
                         Pick(kSearchWords, h >> 20), "+",
                         Pick(kSearchWords, h >> 28), "&form=", i);
    } else if (kind < 52) {  // social
      switch ((h >> 16) % 4) {
        case 0:
          url = absl::StrCat("https://www.facebook.com/?ref=", i);
          break;
        case 1:
          url = absl::StrCat("https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.",
                             Pick(kStoreDomains, h >> 20), "&h=AT", i);
          break;
        case 2:
          url = absl::StrCat("https://www.instagram.com/p/B", i, "/");
          break;
        default:
          url = absl::StrCat("https://www.pinterest.", tld, "/pin/",
                             1000000 + i, "/");
          break;
      }
    } else if (kind < 88) {  // internal: another Glamira page
      const int store = static_cast<int>((h >> 16) % options.stores);
      url = (h >> 24) % 2 == 0
                ? absl::StrCat(p.store_origins[store], "/",
                               Pick(kCategories, h >> 32), "/?p=", i)
                : absl::StrCat(p.store_origins[store],
                               p.product_paths[(h >> 32) % options.products],
                               "?ref=", i);
    } else {  // other sites
      url = absl::StrCat("https://www.", Pick(kOtherSites, h >> 16), ".", tld,
                         "/", Pick(kCategories, h >> 24), "/", i);
    }
    p.referrers.push_back(std::move(url));
  }
  p.referrer_cdf = ZipfCdf(options.referrers, 1.0);

  for (const UserAgent& ua : kUserAgents) {
    p.user_agent_total += ua.weight;
    p.user_agent_cdf.push_back(p.user_agent_total);
  }
  static constexpr char kUrlSafe[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  p.noise.resize(16384);
  for (char& c : p.noise) c = kUrlSafe[rng.Below(64)];

  p.devices = options.devices > 0
                  ? options.devices
                  : std::max<int64_t>(100, options.events * 3 / 10);
  p.start_second = static_cast<int64_t>(options.start_day) * 86400;
  p.span_seconds = static_cast<int64_t>(options.days) * 86400;
}

EventGenerator::~EventGenerator() = default;

int64_t EventGenerator::remaining() const {
  return options_.events - next_index_;
}

namespace {

// How a valid record deviates from the clean shape (messy records), and how
// an invalid one is broken. All false/zero: a clean record.
struct Style {
  bool product_as_number = false;
  bool store_as_number = false;
  bool id_as_plain_string = false;
  bool product_as_oid = false;
  bool escape_slashes = false;
  bool accented_escaped = false;
  bool accented_raw = false;
  bool long_referrer = false;
  bool time_stamp_as_string = false;
  bool local_time_last = false;
  bool t_separator = false;
  // Dimensions (bit per Dim) written as null, as "", or left out.
  uint32_t null_mask = 0, empty_mask = 0, missing_mask = 0;
  // local_time: omitted, null, or replaced by `bad_time` (a JSON value).
  bool time_missing = false, time_null = false;
  std::string bad_time;
};

enum Dim : uint32_t {
  kDimProduct = 0,
  kDimStore,
  kDimReferrer,
  kDimDevice,
  kDimCurrentUrl,
  kDimUserAgent,
  kDimCount,
};

}  // namespace

RecordKind EventGenerator::AppendNext(std::string* out) {
  Rng rng(rng_);
  Pools& p = *pools_;
  const int64_t index = next_index_++;

  // Kind of record.
  RecordKind kind = RecordKind::kClean;
  {
    double u = rng.Unit();
    const double rates[] = {options_.rate_not_json, options_.rate_not_object,
                            options_.rate_bad_time, options_.rate_missing_time,
                            options_.rate_messy};
    const RecordKind kinds[] = {RecordKind::kNotJson, RecordKind::kNotObject,
                                RecordKind::kBadTime, RecordKind::kMissingTime,
                                RecordKind::kMessy};
    for (int i = 0; i < 5; ++i) {
      if (u < rates[i]) {
        kind = kinds[i];
        break;
      }
      u -= rates[i];
    }
  }

  // What the event is about.
  const size_t store = SampleCdf(p.store_cdf, rng.Unit());
  const size_t product = SampleCdf(p.product_cdf, rng.Unit());
  const double d = rng.Unit();
  const int64_t device = static_cast<int64_t>(d * d * p.devices);
  const uint64_t device_hash = SplitMix64(options_.seed ^ (device * 0x9e37ULL));
  const uint64_t device_hash2 = SplitMix64(device_hash);
  const bool direct = rng.Chance(0.30);
  const size_t referrer = direct ? 0 : SampleCdf(p.referrer_cdf, rng.Unit());
  int user_agent = 0;
  {
    const int w = static_cast<int>(device_hash % p.user_agent_total);
    while (p.user_agent_cdf[user_agent] <= w) ++user_agent;
  }
  const int64_t jitter = static_cast<int64_t>(rng.Below(361)) - 180;
  int64_t local = p.start_second +
                  (options_.events > 0
                       ? static_cast<int64_t>(
                             (static_cast<__int128>(index) * p.span_seconds) /
                             options_.events)
                       : 0) +
                  jitter;
  local = std::clamp(local, p.start_second, p.start_second + p.span_seconds - 1);
  const int64_t time_stamp = local - p.store_offsets[store];
  const uint64_t r = rng.Next();  // spare bits for small choices below

  Style style;
  style.t_separator = (r & 63) == 0;  // ~1.6% of all records
  if (kind == RecordKind::kMessy) {
    const int perturbations = 1 + static_cast<int>(rng.Below(3) == 0);
    for (int n = 0; n < perturbations; ++n) {
      switch (rng.Below(13)) {
        case 0: style.product_as_number = true; break;
        case 1: style.store_as_number = true; break;
        case 2: style.null_mask |= 1u << rng.Below(kDimCount); break;
        case 3: style.empty_mask |= 1u << rng.Below(kDimCount); break;
        case 4: style.missing_mask |= 1u << rng.Below(kDimCount); break;
        case 5: style.id_as_plain_string = true; break;
        case 6: style.product_as_oid = true; break;
        case 7: style.escape_slashes = true; break;
        case 8: style.accented_escaped = true; break;
        case 9: style.accented_raw = true; break;
        case 10: style.long_referrer = true; break;
        case 11: style.time_stamp_as_string = true; break;
        default: style.local_time_last = true; break;
      }
    }
  } else if (kind == RecordKind::kMissingTime) {
    if (rng.Below(10) < 7) {
      style.time_missing = true;
    } else {
      style.time_null = true;
    }
  } else if (kind == RecordKind::kBadTime) {
    const star::CivilDate c = star::CivilFromDay(star::DayFromUnixSeconds(local));
    std::string date;
    AppendDate(&date, c);
    std::string clock;
    AppendClock(&clock, local - static_cast<int64_t>(star::DayFromUnixSeconds(local)) * 86400);
    std::string& bad = style.bad_time;
    switch (rng.Below(8)) {
      case 0: bad = absl::StrCat("\"", c.year, "-13-", date.substr(8), " ", clock, "\""); break;
      case 1: bad = absl::StrCat("\"", c.year, "-02-30 ", clock, "\""); break;
      case 2: bad = absl::StrCat("\"", date.substr(8), "/", date.substr(5, 2), "/", c.year, " ", clock, "\""); break;
      case 3: bad = absl::StrCat("\"", date, " ", clock.substr(0, 5), "\""); break;
      case 4: bad = absl::StrCat(time_stamp); break;
      case 5: bad = "\"\""; break;
      case 6: bad = absl::StrCat("\"", date, " 24:", clock.substr(3), "\""); break;
      default: bad = absl::StrCat("\"", date, "T", clock, "Z\""); break;
    }
  }

  const size_t record_start = out->size();
  // Writes `"key":` and the special value of a null/empty dimension; returns
  // true when the caller should write the normal value (the key is written).
  auto begin_dim = [&](Dim dim, const char* key_json, size_t key_len) -> bool {
    const uint32_t bit = 1u << dim;
    if (style.missing_mask & bit) return false;
    out->append(key_json, key_len);
    if (style.null_mask & bit) {
      Lit(out, "null");
      return false;
    }
    if (style.empty_mask & bit) {
      Lit(out, "\"\"");
      return false;
    }
    return true;
  };

  // local_time, in any of its forms (the key included).
  auto write_local_time = [&]() {
    if (style.time_missing) return;
    Lit(out, ",\"local_time\":");
    if (style.time_null) {
      Lit(out, "null");
      return;
    }
    if (!style.bad_time.empty()) {
      out->append(style.bad_time);
      return;
    }
    const int32_t day = star::DayFromUnixSeconds(local);
    if (day != p.cached_day) {
      p.cached_day = day;
      p.cached_date.clear();
      AppendDate(&p.cached_date, star::CivilFromDay(day));
    }
    out->push_back('"');
    out->append(p.cached_date);
    out->push_back(style.t_separator ? 'T' : ' ');
    AppendClock(out, local - static_cast<int64_t>(day) * 86400);
    out->push_back('"');
  };

  // _id: ObjectId-like, the time followed by random bits.
  const uint64_t oid_random = rng.Next();
  const uint32_t oid_time = static_cast<uint32_t>(time_stamp);
  if (style.id_as_plain_string) {
    Lit(out, "{\"_id\":\"");
  } else {
    Lit(out, "{\"_id\":{\"$oid\":\"");
  }
  AppendHex(out, oid_time, 8);
  AppendHex(out, oid_random, 16);
  out->append(style.id_as_plain_string ? "\"" : "\"}");

  Lit(out, ",\"time_stamp\":");
  if (style.time_stamp_as_string) out->push_back('"');
  AppendInt(out, time_stamp);
  if (style.time_stamp_as_string) out->push_back('"');

  Lit(out, ",\"ip\":\"");
  AppendUint(out, 2 + device_hash2 % 220);
  out->push_back('.');
  AppendUint(out, (device_hash2 >> 8) & 255);
  out->push_back('.');
  AppendUint(out, (device_hash2 >> 16) & 255);
  out->push_back('.');
  AppendUint(out, 1 + (device_hash2 >> 24) % 254);
  out->push_back('"');

  const UserAgent& ua = kUserAgents[user_agent];
  if (begin_dim(kDimUserAgent, ",\"user_agent\":", 14)) {
    out->push_back('"');
    AppendUrlText(out, ua.text, style.escape_slashes);
    out->push_back('"');
  }
  Lit(out, ",\"resolution\":\"");
  out->append(ua.resolutions[(device_hash >> 40) % 3]);
  Lit(out, "\",\"user_id_db\":\"");
  if ((device_hash >> 20) % 10 == 0) AppendUint(out, 100000 + (device_hash >> 24) % 900000);
  out->push_back('"');

  if (begin_dim(kDimDevice, ",\"device_id\":", 13)) {
    out->push_back('"');
    AppendHex(out, device_hash >> 32, 8);
    out->push_back('-');
    AppendHex(out, device_hash >> 16, 4);
    out->push_back('-');
    AppendHex(out, 0x4000 | (device_hash & 0x0fff), 4);
    out->push_back('-');
    AppendHex(out, 0x8000 | (device_hash2 >> 48 & 0x3fff), 4);
    out->push_back('-');
    AppendHex(out, device_hash2, 12);
    out->push_back('"');
  }
  Lit(out, ",\"api_version\":\"1.0\"");

  if (begin_dim(kDimStore, ",\"store_id\":", 12)) {
    if (style.store_as_number) {
      out->append(p.store_ids[store]);
    } else {
      out->push_back('"');
      out->append(p.store_ids[store]);
      out->push_back('"');
    }
  }
  if (!style.local_time_last) write_local_time();
  Lit(out, ",\"show_recommendation\":\"false\"");

  if (begin_dim(kDimCurrentUrl, ",\"current_url\":", 15)) {
    out->push_back('"');
    AppendUrlText(out, p.store_origins[store], style.escape_slashes);
    AppendUrlText(out, p.product_paths[product], style.escape_slashes);
    Lit(out, "?alloy=");
    out->append(Pick(kAlloys, r >> 8));
    Lit(out, "&diamond=");
    out->append(Pick(kStones, r >> 16));
    if ((r >> 24) % 4 == 0) Lit(out, "&itm_source=recommendation&itm_medium=sorting");
    if (style.accented_escaped) {
      Lit(out, "&c=");
      out->append(Pick(kAccentedEscaped, r >> 32));
    } else if (style.accented_raw) {
      Lit(out, "&c=");
      out->append(Pick(kAccentedRaw, r >> 32));
    }
    out->push_back('"');
  }

  if (begin_dim(kDimReferrer, ",\"referrer_url\":", 16)) {
    out->push_back('"');
    if (style.long_referrer) {
      // Tracking redirects carry kilobytes of parameters.
      Lit(out, "https://www.google.com/url?sa=t&rct=j&q=&esrc=s&source=web&url=");
      AppendUrlText(out, p.product_paths[product], style.escape_slashes);
      Lit(out, "&ved=");
      size_t length = 3000 + rng.Below(7000);
      while (length > 0) {
        const size_t chunk = std::min(length, p.noise.size() / 2);
        out->append(p.noise, rng.Below(p.noise.size() / 2), chunk);
        length -= chunk;
      }
    } else if (!direct) {
      const std::string& url = p.referrers[referrer];
      if (style.accented_raw || style.accented_escaped) {
        // A category page with accents instead of the pooled URL.
        AppendUrlText(out, p.store_origins[(r >> 40) % p.store_origins.size()],
                      style.escape_slashes);
        out->push_back('/');
        out->append(style.accented_raw ? Pick(kAccentedRaw, r >> 44)
                                       : Pick(kAccentedEscaped, r >> 44));
        out->push_back('/');
      } else {
        AppendUrlText(out, url, style.escape_slashes);
      }
    }
    out->push_back('"');
  }

  Lit(out, ",\"email_address\":\"");
  if ((device_hash >> 28) % 10 == 0) {
    Lit(out, "customer");
    AppendUint(out, (device_hash >> 8) % 1000000);
    Lit(out, "@example.com");
  }
  Lit(out, "\",\"recommendation\":false,\"utm_source\":false,\"utm_medium\":false");
  Lit(out, ",\"collection\":\"");
  if ((r >> 48) % 100 < 93) {
    Lit(out, "view_product_detail");
  } else {
    out->append(Pick(kCollections, r >> 52));
  }
  out->push_back('"');

  if (begin_dim(kDimProduct, ",\"product_id\":", 14)) {
    if (style.product_as_oid) {
      Lit(out, "{\"$oid\":\"");
      out->append(p.product_ids[product]);
      Lit(out, "\"}");
    } else if (style.product_as_number) {
      out->append(p.product_ids[product]);
    } else {
      out->push_back('"');
      out->append(p.product_ids[product]);
      out->push_back('"');
    }
  }

  // Options of the product: fixed per product, values vary per view.
  Lit(out, ",\"option\":[");
  const uint64_t product_hash = SplitMix64(product * 0x51ULL + 7);
  const int options = 1 + static_cast<int>(product_hash % 4 == 0);
  for (int o = 0; o < options; ++o) {
    if (o > 0) out->push_back(',');
    Lit(out, "{\"option_label\":\"");
    out->append(kOptionLabels[o == 0 ? 0 : 1 + (product_hash >> (8 + 4 * o)) % 5]);
    Lit(out, "\",\"option_id\":\"");
    AppendUint(out, 100000 + (product_hash >> (16 + o * 8)) % 900000);
    Lit(out, "\",\"value_label\":\"");
    if (o == 0) out->append(Pick(kAlloys, r >> (8 + o)));
    Lit(out, "\",\"value_id\":\"");
    AppendUint(out, 1000000 + (product_hash >> o) % 9000000 + (r >> 56));
    Lit(out, "\"}");
  }
  out->push_back(']');

  if (style.local_time_last) write_local_time();
  Lit(out, ",\"id\":\"");
  AppendHex(out, oid_time, 8);
  AppendHex(out, oid_random, 16);
  Lit(out, "\"}");

  // Break invalid records after writing them whole.
  if (kind == RecordKind::kNotJson) {
    const size_t length = out->size() - record_start;
    switch (rng.Below(5)) {
      case 0:
      case 1:  // truncated (a torn write upstream)
        out->resize(record_start + rng.Below(length));
        break;
      case 2:  // trailing garbage
        out->append(rng.Below(2) == 0 ? "}" : " xyz");
        break;
      case 3: {  // invalid UTF-8 inside a string value
        const size_t at = out->find("\"api_version\":\"", record_start);
        (*out)[at + 15] = static_cast<char>(0xff);
        break;
      }
      default: {  // Python's repr instead of JSON
        const size_t at = out->find(":false", record_start);
        out->replace(at, 6, ":False");
        break;
      }
    }
  } else if (kind == RecordKind::kNotObject) {
    switch (rng.Below(3)) {
      case 0:  // an array of events
        out->insert(record_start, 1, '[');
        out->push_back(']');
        break;
      case 1: {  // the event double-encoded as a JSON string
        std::string encoded = "\"";
        for (size_t i = record_start; i < out->size(); ++i) {
          const char c = (*out)[i];
          if (c == '"' || c == '\\') encoded.push_back('\\');
          encoded.push_back(c);
        }
        encoded.push_back('"');
        out->resize(record_start);
        out->append(encoded);
        break;
      }
      default:  // a bare number
        out->resize(record_start);
        AppendInt(out, time_stamp);
        break;
    }
  }
  return kind;
}

}  // namespace pv::datagen
