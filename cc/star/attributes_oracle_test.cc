// An independent oracle for the derived attributes of cc/star/attributes.h.
//
// Everything under "The oracle" below is written from docs/semantics.md
// ("Derived attributes") alone, not from attributes.cc: the host of a URL is
// taken by two small character state machines (where production slices with
// find), names are matched by splitting into labels (where production scans
// for substrings), and the storefront, referrer and user-agent rules are
// tables of data. The production functions are compared with it over
//   (a) the fields of a few thousand tools/datagen records (every storefront,
//       referrer kind and user agent the generator emits, including its messy
//       records: \/ and \u escapes, very long referrers, empty fields), and
//   (b) hand-written edge cases, each also pinned to the value the docs give
//       (so that an oracle agreeing with a wrong production still fails).
// Every disagreement is reported with its input.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "cc/star/attributes.h"
#include "gtest/gtest.h"
#include "tools/datagen/generator.h"

namespace pv::star {
namespace {

// ===========================================================================
// The oracle.

// --- The host of a URL ("The host of a URL", steps 1-10). -------------------

bool OracleIsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
         c == '\v';
}
bool OracleIsLetter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool OracleIsDigit(char c) { return c >= '0' && c <= '9'; }
bool OracleIsHex(char c) {
  return OracleIsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool OracleEndsAuthority(char c) { return c == '/' || c == '?' || c == '#'; }
char OracleLower(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

// Step 2: where the authority begins in `s` (already trimmed), or -1 when the
// URL is an opaque URI or empty. *schemeless: the "no scheme" case.
int64_t OracleAuthorityBegin(absl::string_view s, bool* schemeless) {
  enum class State { kStart, kScheme, kColon, kColonSlash, kSlash };
  State state = State::kStart;
  *schemeless = false;
  size_t colon = 0;
  // The "scheme:" case without "//": opaque unless digits up to /?# follow.
  auto after_colon = [&]() -> int64_t {
    for (size_t j = colon + 1; j < s.size() && !OracleEndsAuthority(s[j]); ++j) {
      if (!OracleIsDigit(s[j])) return -1;
    }
    *schemeless = true;
    return 0;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (state) {
      case State::kStart:
        if (OracleIsLetter(c)) {
          state = State::kScheme;
        } else if (c == '/') {
          state = State::kSlash;
        } else {
          *schemeless = true;
          return 0;
        }
        break;
      case State::kScheme:
        if (c == ':') {
          colon = i;
          state = State::kColon;
        } else if (!(OracleIsLetter(c) || OracleIsDigit(c) || c == '+' ||
                     c == '-' || c == '.')) {
          *schemeless = true;
          return 0;
        }
        break;
      case State::kColon:
        if (c != '/') return after_colon();
        state = State::kColonSlash;
        break;
      case State::kColonSlash:
        if (c == '/') return static_cast<int64_t>(i + 1);  // scheme://
        return after_colon();
      case State::kSlash:
        if (c == '/') return static_cast<int64_t>(i + 1);  // //authority
        *schemeless = true;
        return 0;
    }
  }
  switch (state) {
    case State::kStart:
      return -1;
    case State::kColon:
    case State::kColonSlash:
      return after_colon();
    default:
      *schemeless = true;
      return 0;
  }
}

// Steps 1-10. "" when there is no host.
std::string OracleHost(absl::string_view url) {
  size_t b = 0, e = url.size();
  while (b < e && OracleIsSpace(url[b])) ++b;
  while (e > b && OracleIsSpace(url[e - 1])) --e;
  const absl::string_view s = url.substr(b, e - b);
  bool schemeless = false;
  const int64_t begin = OracleAuthorityBegin(s, &schemeless);
  if (begin < 0) return "";

  // Steps 3-6: one pass over the authority; every '@' starts it afresh (so
  // the userinfo up to the last '@' is dropped).
  enum class State { kHost, kBracket, kAfterBracket, kPort };
  State state = State::kHost;
  std::string raw;
  bool ipv6 = false, bad = false;
  for (size_t i = static_cast<size_t>(begin); i < s.size(); ++i) {
    const char c = s[i];
    if (OracleEndsAuthority(c)) break;
    if (c == '@') {
      state = State::kHost;
      raw.clear();
      ipv6 = bad = false;
      continue;
    }
    switch (state) {
      case State::kHost:
        if (c == '[' && raw.empty()) {
          ipv6 = true;
          raw.push_back(c);
          state = State::kBracket;
        } else if (c == ':') {
          state = State::kPort;
        } else {
          raw.push_back(c);
        }
        break;
      case State::kBracket:
        raw.push_back(OracleLower(c));
        if (c == ']') {
          state = State::kAfterBracket;
        } else if (!(OracleIsHex(c) || c == ':' || c == '.')) {
          bad = true;
        }
        break;
      case State::kAfterBracket:
        if (c == ':') {
          state = State::kPort;
        } else {
          bad = true;
        }
        break;
      case State::kPort:
        if (!OracleIsDigit(c)) bad = true;
        break;
    }
  }
  if (bad || state == State::kBracket) return "";
  if (ipv6) return raw.size() > 2 ? raw : "";

  // Steps 7-8: decode %XX, lower-case ASCII.
  std::string host;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      host.push_back(OracleLower(raw[i]));
      continue;
    }
    if (i + 2 >= raw.size()) return "";  // fewer than two characters follow
    if (!OracleIsHex(raw[i + 1]) || !OracleIsHex(raw[i + 2])) return "";
    const int value = std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16);
    host.push_back(OracleLower(static_cast<char>(value)));
    i += 2;
  }
  // Step 9, then step 10 label by label.
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return "";
  const std::vector<std::string> labels = absl::StrSplit(host, '.');
  for (const std::string& label : labels) {
    if (label.empty()) return "";
    for (char c : label) {
      const bool ok = static_cast<unsigned char>(c) >= 0x80 ||
                      OracleIsLetter(c) || OracleIsDigit(c) || c == '-' ||
                      c == '_';
      if (!ok) return "";
    }
  }
  if (schemeless && labels.size() < 2) return "";
  return host;
}

std::vector<std::string> Labels(absl::string_view host) {
  if (host.empty()) return {};
  return absl::StrSplit(host, '.');
}

// "www.": one leading label dropped when at least two labels remain.
std::string OracleDomain(absl::string_view host) {
  std::vector<std::string> labels = Labels(host);
  if (labels.size() >= 3 && labels[0] == "www") {
    labels.erase(labels.begin());
    return absl::StrJoin(labels, ".");
  }
  return std::string(host);
}

// --- dim_country. ------------------------------------------------------------

struct OracleCountry {
  std::string code, name, region, continent;
  std::string Text() const {
    return absl::StrCat(code, "|", name, "|", region, "|", continent);
  }
};

// The table of docs/semantics.md, suffix by suffix.
const std::map<std::string, OracleCountry>& OracleStorefronts() {
  static const auto* table = new std::map<std::string, OracleCountry>{
      {"ae", {"AE", "United Arab Emirates", "Western Asia", "Asia"}},
      {"at", {"AT", "Austria", "Western Europe", "Europe"}},
      {"com.au", {"AU", "Australia", "Australia and New Zealand", "Oceania"}},
      {"be", {"BE", "Belgium", "Western Europe", "Europe"}},
      {"bg", {"BG", "Bulgaria", "Eastern Europe", "Europe"}},
      {"com.br", {"BR", "Brazil", "South America", "Americas"}},
      {"ca", {"CA", "Canada", "Northern America", "Americas"}},
      {"ch", {"CH", "Switzerland", "Western Europe", "Europe"}},
      {"cl", {"CL", "Chile", "South America", "Americas"}},
      {"cz", {"CZ", "Czechia", "Eastern Europe", "Europe"}},
      {"de", {"DE", "Germany", "Western Europe", "Europe"}},
      {"dk", {"DK", "Denmark", "Northern Europe", "Europe"}},
      {"ee", {"EE", "Estonia", "Northern Europe", "Europe"}},
      {"es", {"ES", "Spain", "Southern Europe", "Europe"}},
      {"fi", {"FI", "Finland", "Northern Europe", "Europe"}},
      {"fr", {"FR", "France", "Western Europe", "Europe"}},
      {"co.uk", {"GB", "United Kingdom", "Northern Europe", "Europe"}},
      {"uk", {"GB", "United Kingdom", "Northern Europe", "Europe"}},
      {"gr", {"GR", "Greece", "Southern Europe", "Europe"}},
      {"hr", {"HR", "Croatia", "Southern Europe", "Europe"}},
      {"hu", {"HU", "Hungary", "Eastern Europe", "Europe"}},
      {"ie", {"IE", "Ireland", "Northern Europe", "Europe"}},
      {"in", {"IN", "India", "Southern Asia", "Asia"}},
      {"it", {"IT", "Italy", "Southern Europe", "Europe"}},
      {"jp", {"JP", "Japan", "Eastern Asia", "Asia"}},
      {"co.kr", {"KR", "South Korea", "Eastern Asia", "Asia"}},
      {"lt", {"LT", "Lithuania", "Northern Europe", "Europe"}},
      {"lu", {"LU", "Luxembourg", "Western Europe", "Europe"}},
      {"lv", {"LV", "Latvia", "Northern Europe", "Europe"}},
      {"com.mx", {"MX", "Mexico", "Central America", "Americas"}},
      {"mx", {"MX", "Mexico", "Central America", "Americas"}},
      {"nl", {"NL", "Netherlands", "Western Europe", "Europe"}},
      {"no", {"NO", "Norway", "Northern Europe", "Europe"}},
      {"co.nz", {"NZ", "New Zealand", "Australia and New Zealand", "Oceania"}},
      {"pl", {"PL", "Poland", "Eastern Europe", "Europe"}},
      {"pt", {"PT", "Portugal", "Southern Europe", "Europe"}},
      {"ro", {"RO", "Romania", "Eastern Europe", "Europe"}},
      {"rs", {"RS", "Serbia", "Southern Europe", "Europe"}},
      {"se", {"SE", "Sweden", "Northern Europe", "Europe"}},
      {"com.sg", {"SG", "Singapore", "South-eastern Asia", "Asia"}},
      {"sg", {"SG", "Singapore", "South-eastern Asia", "Asia"}},
      {"si", {"SI", "Slovenia", "Southern Europe", "Europe"}},
      {"sk", {"SK", "Slovakia", "Eastern Europe", "Europe"}},
      {"com.tr", {"TR", "Turkey", "Western Asia", "Asia"}},
      {"com", {"US", "United States", "Northern America", "Americas"}},
      {"co.za", {"ZA", "South Africa", "Southern Africa", "Africa"}},
  };
  return *table;
}

const OracleCountry kOracleUnknown = {"XX", "Unknown", "Unknown", "Unknown"};

// The row whose suffix follows a label "glamira" to the domain's end.
OracleCountry OracleCountryOf(absl::string_view domain) {
  const std::vector<std::string> labels = Labels(domain);
  for (size_t i = 0; i + 1 < labels.size(); ++i) {
    if (labels[i] != "glamira") continue;
    const std::string suffix = absl::StrJoin(
        std::vector<std::string>(labels.begin() + i + 1, labels.end()), ".");
    auto it = OracleStorefronts().find(suffix);
    if (it != OracleStorefronts().end()) return it->second;
  }
  return kOracleUnknown;
}

// --- dim_referrer. -----------------------------------------------------------

struct OracleReferrer {
  std::string domain, type;
};

bool HasLabelIn(absl::string_view host, const std::set<std::string>& names) {
  for (const std::string& label : Labels(host)) {
    if (names.count(label) > 0) return true;
  }
  return false;
}

OracleReferrer OracleClassify(absl::string_view url) {
  static const auto* search = new std::set<std::string>{
      "google", "bing",   "yahoo",  "duckduckgo", "yandex",
      "baidu",  "ecosia", "qwant",  "seznam",     "naver"};
  static const auto* social = new std::set<std::string>{
      "facebook", "instagram", "pinterest", "twitter",  "tiktok",
      "youtube",  "reddit",    "linkedin",  "snapchat", "whatsapp"};
  if (url.empty()) return {"", "Direct"};
  const std::string host = OracleHost(url);
  if (host.empty()) return {"", "Other"};
  const std::string domain = OracleDomain(host);
  if (HasLabelIn(host, {"glamira"})) return {domain, "Internal"};
  if (HasLabelIn(host, *search)) return {domain, "Search Engine"};
  if (HasLabelIn(host, *social)) return {domain, "Social Media"};
  for (absl::string_view site : {"t.co", "x.com", "fb.com"}) {
    if (host == site || absl::EndsWith(host, absl::StrCat(".", site))) {
      return {domain, "Social Media"};
    }
  }
  return {domain, "Other"};
}

// --- dim_device. -------------------------------------------------------------

struct OracleDevice {
  std::string type, browser, os;
  std::string Text() const { return absl::StrCat(type, "|", browser, "|", os); }
};

struct TokenRule {
  std::vector<std::string> tokens;  // any of them
  std::string value;
};

bool HasAny(absl::string_view ua, const std::vector<std::string>& tokens) {
  for (const std::string& t : tokens) {
    if (ua.find(t) != absl::string_view::npos) return true;
  }
  return false;
}

std::string FirstRule(absl::string_view ua, const std::vector<TokenRule>& rules,
                      const std::string& otherwise) {
  for (const TokenRule& r : rules) {
    if (HasAny(ua, r.tokens)) return r.value;
  }
  return otherwise;
}

OracleDevice OracleParseUserAgent(absl::string_view ua) {
  static const auto* bots = new std::vector<std::string>{
      "bot", "Bot", "crawler", "Crawler", "spider", "Spider", "HeadlessChrome"};
  static const auto* os_rules = new std::vector<TokenRule>{
      {{"iPhone", "iPad", "iPod"}, "iOS"},
      {{"Android"}, "Android"},
      {{"CrOS"}, "Chrome OS"},
      {{"Windows"}, "Windows"},
      {{"Mac OS X", "Macintosh"}, "macOS"},
      {{"Linux", "X11"}, "Linux"},
  };
  static const auto* browser_rules = new std::vector<TokenRule>{
      {{"Edg/", "Edge/", "EdgA/", "EdgiOS/"}, "Edge"},
      {{"OPR/", "Opera"}, "Opera"},
      {{"SamsungBrowser"}, "Samsung Internet"},
      {{"Firefox/", "FxiOS/"}, "Firefox"},
      {{"Chrome/", "CriOS/", "Chromium/"}, "Chrome"},
      {{"Safari/", "AppleWebKit"}, "Safari"},
  };
  if (ua.empty()) return {"Unknown", "Unknown", "Unknown"};
  if (HasAny(ua, *bots)) return {"Bot", "Other", "Other"};
  OracleDevice d;
  d.os = FirstRule(ua, *os_rules, "Other");
  d.browser = FirstRule(ua, *browser_rules, "Other");
  const bool mobile_token = HasAny(ua, {"Mobile"});
  if (HasAny(ua, {"iPad", "Tablet"}) || (d.os == "Android" && !mobile_token)) {
    d.type = "Tablet";
  } else if (HasAny(ua, {"Mobile", "iPhone", "iPod", "Windows Phone"})) {
    d.type = "Mobile";
  } else if (d.os == "Other") {
    d.type = "Unknown";
  } else {
    d.type = "Desktop";
  }
  return d;
}

// ===========================================================================
// Comparison.

// An input as it is reported: C-escaped, long ones cut.
std::string Show(absl::string_view input) {
  std::string shown = absl::CHexEscape(input.substr(0, 160));
  if (input.size() > 160) absl::StrAppend(&shown, "... (", input.size(), " bytes)");
  return absl::StrCat("\"", shown, "\"");
}

class Mismatches {
 public:
  explicit Mismatches(std::string source) : source_(std::move(source)) {}
  ~Mismatches() {
    int shown = 0;
    for (const std::string& m : list_) {
      if (++shown > 60) break;
      ADD_FAILURE() << m;
    }
    if (!list_.empty()) {
      ADD_FAILURE() << source_ << ": " << list_.size() << " mismatch(es) over "
                    << checks_ << " checks";
    }
  }
  void Expect(absl::string_view what, absl::string_view input,
              absl::string_view got, absl::string_view want) {
    ++checks_;
    if (got == want) return;
    list_.push_back(absl::StrCat(source_, ": ", what, " of ", Show(input),
                                 ": production ", Show(got), ", expected ",
                                 Show(want)));
  }

 private:
  std::string source_;
  std::vector<std::string> list_;
  int64_t checks_ = 0;
};

std::string CountryText(uint16_t id) {
  const Country& c = CountryById(id);
  return OracleCountry{std::string(c.code), std::string(c.name),
                       std::string(c.region), std::string(c.continent)}
      .Text();
}

// Production against the oracle for one URL (as current_url and as
// referrer_url), and the cross-field rules of the docs.
void CheckUrl(absl::string_view url, Mismatches* m) {
  const std::string host = OracleHost(url);
  const std::string domain = OracleDomain(host);
  m->Expect("UrlHost", url, UrlHost(url), host);
  m->Expect("StoreDomain", url, StoreDomain(url), domain);
  const uint16_t country = CountryIdFromUrl(url);
  m->Expect("country", url, CountryText(country),
            OracleCountryOf(domain).Text());
  m->Expect("CountryIdFromDomain(StoreDomain)", url,
            CountryText(CountryIdFromDomain(StoreDomain(url))),
            CountryText(country));
  const Referrer r = ClassifyReferrer(url);
  const OracleReferrer want = OracleClassify(url);
  m->Expect("referrer_domain", url, r.domain, want.domain);
  m->Expect("referrer_type", url, ReferrerTypeName(r.type), want.type);
  // "every URL that has a storefront country is Internal as a referrer, with
  // referrer_domain equal to its store_domain".
  if (!url.empty()) {
    m->Expect("referrer_domain vs store_domain", url, r.domain,
              StoreDomain(url));
  }
  if (country != kUnknownCountry) {
    m->Expect("referrer_type of a storefront URL", url,
              ReferrerTypeName(r.type), "Internal");
  }
}

void CheckUserAgent(absl::string_view ua, Mismatches* m) {
  const Device d = ParseUserAgent(ua);
  const std::string got = absl::StrCat(DeviceTypeName(d.type), "|",
                                       BrowserName(d.browser), "|", OsName(d.os));
  m->Expect("device", ua, got, OracleParseUserAgent(ua).Text());
  const Device back = Device::FromCode(d.Code());
  m->Expect("Device::FromCode(Code())", ua,
            absl::StrCat(back.Code()), absl::StrCat(d.Code()));
}

// ===========================================================================
// (a) The generator's records.

// The value of top-level string field `key` of a generated record, decoded
// (\/, \", \\, \uXXXX and the other JSON escapes); "" when it is null, empty
// or missing. The generator writes these three fields only as strings or
// null, and no other value contains their quoted key.
std::string FieldOf(absl::string_view record, absl::string_view key) {
  const std::string quoted = absl::StrCat("\"", key, "\":");
  size_t i = record.find(quoted);
  if (i == absl::string_view::npos) return "";
  i += quoted.size();
  if (i >= record.size() || record[i] != '"') return "";  // null
  std::string out;
  auto append_utf8 = [&out](uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xc0 | cp >> 6));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xe0 | cp >> 12));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out.push_back(static_cast<char>(0xf0 | cp >> 18));
      out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  };
  auto hex4 = [&record](size_t at) -> uint32_t {
    return static_cast<uint32_t>(
        std::stoul(std::string(record.substr(at, 4)), nullptr, 16));
  };
  for (++i; i < record.size() && record[i] != '"'; ++i) {
    if (record[i] != '\\') {
      out.push_back(record[i]);
      continue;
    }
    const char e = record[++i];
    switch (e) {
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        uint32_t cp = hex4(i + 1);
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && record.substr(i + 1, 2) == "\\u") {
          const uint32_t low = hex4(i + 3);
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          i += 6;
        }
        append_utf8(cp);
        break;
      }
      default: out.push_back(e); break;  // \" \\ \/
    }
  }
  return out;
}

TEST(AttributesOracle, AgreesOnGeneratedRecords) {
  datagen::GeneratorOptions options;
  options.seed = 20200601;
  options.events = 20000;
  options.stores = 48;  // datagen's 40 storefronts and 8 glamira-storeN.com
  options.referrers = 4000;
  options.rate_not_json = 0;
  options.rate_not_object = 0;
  options.rate_bad_time = 0;
  options.rate_missing_time = 0;
  options.rate_messy = 0.3;
  ASSERT_TRUE(datagen::ValidateOptions(options).ok());
  datagen::EventGenerator generator(options);

  std::set<std::string> urls, user_agents, store_domains;
  int64_t escaped_records = 0, long_referrers = 0, empty_current_urls = 0;
  std::string record;
  while (generator.remaining() > 0) {
    record.clear();
    generator.AppendNext(&record);
    if (absl::StrContains(record, "\\/")) ++escaped_records;
    const std::string current_url = FieldOf(record, "current_url");
    const std::string referrer_url = FieldOf(record, "referrer_url");
    if (current_url.empty()) ++empty_current_urls;
    if (referrer_url.size() > 3000) ++long_referrers;
    urls.insert(current_url);
    urls.insert(referrer_url);
    user_agents.insert(FieldOf(record, "user_agent"));
    if (!current_url.empty()) store_domains.insert(StoreDomain(current_url));
  }

  Mismatches m("datagen");
  std::map<std::string, int> referrer_types;
  for (const std::string& url : urls) {
    CheckUrl(url, &m);
    ++referrer_types[OracleClassify(url).type];
  }
  for (const std::string& ua : user_agents) CheckUserAgent(ua, &m);
  // Independent of both tables: every glamira.<suffix> storefront datagen
  // emits has a country, and every page URL a store_domain.
  for (const std::string& url : urls) {
    const std::string domain = StoreDomain(url);
    if (absl::StartsWith(domain, "glamira.")) {
      m.Expect("country of a datagen storefront (known?)", url,
               CountryById(CountryIdFromUrl(url)).code == "XX" ? "unknown"
                                                                : "known",
               "known");
    }
    if (!url.empty()) m.Expect("host filled", url, domain.empty() ? "" : "yes", "yes");
  }

  // The sample covers what datagen emits.
  EXPECT_EQ(store_domains.size(), static_cast<size_t>(options.stores))
      << absl::StrJoin(store_domains, " ");
  EXPECT_GE(user_agents.size(), 22u + 1u)  // generator.cc's 22, and ""
      << "datagen emits fewer user agents than it used to";
  for (absl::string_view type :
       {"Direct", "Internal", "Search Engine", "Social Media", "Other"}) {
    EXPECT_GT(referrer_types[std::string(type)], 0) << type;
  }
  EXPECT_GT(escaped_records, 0);
  EXPECT_GT(long_referrers, 0);
  EXPECT_GT(empty_current_urls, 0);
}

// ===========================================================================
// (b) Edge cases, each with the value docs/semantics.md gives.

struct HostCase {
  std::string url, host;
};

std::vector<HostCase> HostCases() {
  const std::string a100k(100000, 'a');
  return {
      // Case, scheme.
      {"https://www.glamira.de/x", "www.glamira.de"},
      {"HTTPS://WWW.GLAMIRA.DE/X", "www.glamira.de"},
      {"hTtP://GlAmIrA.Co.Uk", "glamira.co.uk"},
      {"ftp://files.glamira.de/", "files.glamira.de"},
      {"android-app://com.google.android.gm/", "com.google.android.gm"},
      // Userinfo.
      {"http://user:pw@glamira.de/", "glamira.de"},
      {"http://user@glamira.de/", "glamira.de"},
      {"http://a@b@glamira.de/", "glamira.de"},
      {"http://user:p@ss@GLAMIRA.DE:8080/", "glamira.de"},
      {"https://glamira.de/x?email=a@b.com", "glamira.de"},
      // Query or fragment right after the host.
      {"https://glamira.de?x=1", "glamira.de"},
      {"https://glamira.de#frag", "glamira.de"},
      {"https://glamira.de?next=http://evil.example/", "glamira.de"},
      // No scheme.
      {"glamira.de/x", "glamira.de"},
      {"glamira.de", "glamira.de"},
      {"www.glamira.de", "www.glamira.de"},
      {"glamira.de:443", "glamira.de"},
      {"glamira.de:443/x", "glamira.de"},
      {"glamira.de?x", "glamira.de"},
      {"//glamira.de/x", "glamira.de"},
      {"//user@glamira.de:80", "glamira.de"},
      {"user@glamira.de/x", "glamira.de"},
      {"192.168.0.1/x", "192.168.0.1"},
      {"[::1]:80/x", "[::1]"},
      {"user:pw@glamira.de/x", ""},  // reads as scheme "user"
      {"mailto:someone@glamira.de", ""},
      {"about:blank", ""},
      {"javascript:void(0)", ""},
      {"data:text/html,hi", ""},
      {"https:glamira.de", ""},
      {"http:/glamira.de", ""},
      {"https//glamira.de", ""},
      {"garbage", ""},
      {"no scheme here", ""},
      {"localhost:8080", ""},
      {"/relative/path.html", ""},
      {"?q=1", ""},
      {"#x", ""},
      // Trailing dot, empty labels.
      {"glamira.de.", "glamira.de"},
      {"https://glamira.de./", "glamira.de"},
      {"https://GLAMIRA.CO.KR.:443/", "glamira.co.kr"},
      {"https://glamira.de../", ""},
      {"https://.glamira.de/", ""},
      {"https://glamira..de/", ""},
      {"https://./", ""},
      {"https://www./", "www"},
      // Ports.
      {"https://glamira.de:443/", "glamira.de"},
      {"https://glamira.de:/", "glamira.de"},
      {"https://glamira.de:99999999999999999999/", "glamira.de"},
      {"https://glamira.de:abc/", ""},
      {"https://glamira.de:443:1/", ""},
      {"https://glamira.de:-1/", ""},
      // IPv6, IPv4.
      {"http://[2001:db8::1]/", "[2001:db8::1]"},
      {"http://[2001:DB8::1]:8080/a", "[2001:db8::1]"},
      {"http://user@[::1]:80/", "[::1]"},
      {"http://[::ffff:192.0.2.1]/", "[::ffff:192.0.2.1]"},
      {"http://[::1]?x", "[::1]"},
      {"http://[::1/", ""},
      {"http://[]/", ""},
      {"http://[::1]x/", ""},
      {"http://[::1]:8x/", ""},
      {"http://[fe80::1%25eth0]/", ""},
      {"http://[g::1]/", ""},
      {"http://a[::1]/", ""},
      {"http://192.168.0.1:8080/", "192.168.0.1"},
      // Percent-encoding.
      {"https://gl%61mira.de/", "glamira.de"},
      {"https://GL%41MIRA.DE/", "glamira.de"},
      {"https://glamira%2Ede/", "glamira.de"},
      {"https://glamira.de%2E/", "glamira.de"},
      {"https://glamira.de%2F/", ""},
      {"https://glamira.de%3A443/", ""},
      {"https://glamira.de%/", ""},
      {"https://glamira.de%4/", ""},
      {"https://glamira.de%zz/", ""},
      {"https://b%C3%BCcher.de/", "b\xc3\xbc" "cher.de"},
      // Non-ASCII / IDN: kept as UTF-8, ASCII lower-cased only.
      {"https://b\xc3\xbc" "cher.de/x", "b\xc3\xbc" "cher.de"},
      {"https://B\xc3\x9c" "CHER.DE/", "b\xc3\x9c" "cher.de"},
      {"https://xn--bcher-kva.de/", "xn--bcher-kva.de"},
      {"https://glamira.de\xe3\x80\x82/", "glamira.de\xe3\x80\x82"},
      {"https://glamira.de/verlobungsringe-f\xc3\xbcr", "glamira.de"},
      // Characters a host cannot have.
      {"https://gla mira.de/", ""},
      {"https://glamira.de\\x", ""},
      {std::string("https://glamira\0.de/", 20), ""},
      {"https://glamira.de\x01/", ""},
      {"https://<script>/", ""},
      {"https://glamira_de.example/", "glamira_de.example"},
      {"https://-glamira.de/", "-glamira.de"},
      // Empty, whitespace.
      {"", ""},
      {"   ", ""},
      {"  https://glamira.de/x \n", "glamira.de"},
      {"\thttps://glamira.fr", "glamira.fr"},
      {"https://", ""},
      {"https:///glamira.de", ""},
      {"https://@/", ""},
      {"https://user@/", ""},
      // Very long.
      {"https://" + a100k + ".glamira.de/x", a100k + ".glamira.de"},
      {"https://glamira.de/" + a100k, "glamira.de"},
      {"https://glamira.de?" + a100k + "@evil.example", "glamira.de"},
      {a100k, ""},
      {"a." + a100k, "a." + a100k},
  };
}

TEST(AttributesOracle, HostEdgeCases) {
  Mismatches pinned("oracle vs docs");
  Mismatches m("edge case");
  for (const HostCase& c : HostCases()) {
    pinned.Expect("oracle host", c.url, OracleHost(c.url), c.host);
    CheckUrl(c.url, &m);
  }
}

struct CountryCase {
  std::string url, code, store_domain;
};

TEST(AttributesOracle, CountryEdgeCases) {
  const std::vector<CountryCase> cases = {
      {"https://www.glamira.de/x", "DE", "glamira.de"},
      {"https://www.glamira.co.kr/x", "KR", "glamira.co.kr"},
      {"https://www.glamira.com.sg/x", "SG", "glamira.com.sg"},
      {"https://glamira.sg/", "SG", "glamira.sg"},
      {"https://glamira.kr/", "XX", "glamira.kr"},
      {"https://glamira.com/", "US", "glamira.com"},
      {"https://www.glamira.com.au/", "AU", "glamira.com.au"},
      {"https://glamira.au/", "XX", "glamira.au"},
      {"https://glamira.uk/", "GB", "glamira.uk"},
      {"https://www.glamira.co.uk/", "GB", "glamira.co.uk"},
      {"https://glamira.com.mx/", "MX", "glamira.com.mx"},
      {"https://glamira.mx/", "MX", "glamira.mx"},
      {"https://glamira.co.nz/", "NZ", "glamira.co.nz"},
      {"https://glamira.co.za/", "ZA", "glamira.co.za"},
      {"https://glamira.com.tr/", "TR", "glamira.com.tr"},
      {"https://glamira.com.br/", "BR", "glamira.com.br"},
      {"https://shop.glamira.de/", "DE", "shop.glamira.de"},
      {"https://www.shop.glamira.de/", "DE", "shop.glamira.de"},
      {"https://www.www.glamira.de/", "DE", "www.glamira.de"},
      {"https://GLAMIRA.DE/", "DE", "glamira.de"},
      {"https://WWW.GLAMIRA.CO.KR./", "KR", "glamira.co.kr"},
      {"glamira.fr/x", "FR", "glamira.fr"},
      {"//www.glamira.it", "IT", "glamira.it"},
      {"glamira.de:443", "DE", "glamira.de"},
      {"https://user:pw@www.glamira.es:8443/x", "ES", "glamira.es"},
      {"https://glamira.glamira.de/", "DE", "glamira.glamira.de"},
      {"https://glamira.de.glamira.fr/", "FR", "glamira.de.glamira.fr"},
      {"https://notglamira.de/", "XX", "notglamira.de"},
      {"https://glamira.de.example.com/", "XX", "glamira.de.example.com"},
      {"https://glamira.com.ar/", "XX", "glamira.com.ar"},
      {"https://glamira.com.xx/", "XX", "glamira.com.xx"},
      {"https://www.glamira-store41.com/", "XX", "glamira-store41.com"},
      {"https://www.com/", "XX", "www.com"},
      {"https://glamira/", "XX", "glamira"},
      {"https://[::1]/", "XX", "[::1]"},
      {"", "XX", ""},
      {"garbage", "XX", ""},
  };
  Mismatches pinned("oracle vs docs");
  Mismatches m("edge case");
  for (const CountryCase& c : cases) {
    const std::string domain = OracleDomain(OracleHost(c.url));
    pinned.Expect("oracle store_domain", c.url, domain, c.store_domain);
    pinned.Expect("oracle country_code", c.url, OracleCountryOf(domain).code,
                  c.code);
    CheckUrl(c.url, &m);
  }
  // The table itself, row by row, as a domain of its own.
  for (const auto& [suffix, country] : OracleStorefronts()) {
    for (const std::string& url :
         {absl::StrCat("https://glamira.", suffix, "/"),
          absl::StrCat("https://www.glamira.", suffix, "/"),
          absl::StrCat("https://shop.glamira.", suffix, "/"),
          absl::StrCat("https://glamira.", suffix, ".example/")}) {
      CheckUrl(url, &m);
    }
    m.Expect("country of the domain", suffix,
             CountryText(CountryIdFromDomain(absl::StrCat("glamira.", suffix))),
             country.Text());
  }
  // Every country id names a row of the table (or is the Unknown one).
  std::set<std::string> rows = {kOracleUnknown.Text()};
  for (const auto& [suffix, country] : OracleStorefronts()) rows.insert(country.Text());
  for (uint16_t id = 0; id < CountryCount(); ++id) {
    m.Expect("country id", absl::StrCat(id),
             rows.count(CountryText(id)) ? "in the table" : CountryText(id),
             "in the table");
  }
  m.Expect("number of countries", "CountryCount()", absl::StrCat(CountryCount()),
           absl::StrCat(rows.size()));
}

struct ReferrerCase {
  std::string url, type, domain;
};

TEST(AttributesOracle, ReferrerEdgeCases) {
  const std::vector<ReferrerCase> cases = {
      {"", "Direct", ""},
      {" ", "Other", ""},
      {"garbage", "Other", ""},
      {"about:blank", "Other", ""},
      {"http://", "Other", ""},
      {"https://www.google.de/search?q=ring", "Search Engine", "google.de"},
      {"HTTPS://WWW.GOOGLE.DE/", "Search Engine", "google.de"},
      {"https://images.google.co.uk/", "Search Engine", "images.google.co.uk"},
      {"https://mail.google.com/", "Search Engine", "mail.google.com"},
      {"https://user:pw@www.bing.com:443/x", "Search Engine", "bing.com"},
      {"https://duckduckgo.com?q=ring", "Search Engine", "duckduckgo.com"},
      {"https://www.google.de./", "Search Engine", "google.de"},
      {"google.de/search?q=x", "Search Engine", "google.de"},
      {"android-app://com.google.android.gm/", "Search Engine",
       "com.google.android.gm"},
      {"https://googleplex.example.com/", "Other", "googleplex.example.com"},
      {"https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.glamira.de", "Social Media",
       "l.facebook.com"},
      {"https://www.pinterest.de/pin/1/", "Social Media", "pinterest.de"},
      {"https://www.reddit.com/r/x", "Social Media", "reddit.com"},
      {"https://t.co/abc", "Social Media", "t.co"},
      {"https://T.CO/abc", "Social Media", "t.co"},
      {"https://www.x.com/", "Social Media", "x.com"},
      {"https://x.com/", "Social Media", "x.com"},
      {"https://fb.com", "Social Media", "fb.com"},
      {"https://m.fb.com", "Social Media", "m.fb.com"},
      {"https://notx.com/", "Other", "notx.com"},
      {"https://x.com.example/", "Other", "x.com.example"},
      {"https://www.glamira.fr/rings/", "Internal", "glamira.fr"},
      {"https://www.glamira.co.kr/", "Internal", "glamira.co.kr"},
      {"https://GLAMIRA.COM.SG:443/", "Internal", "glamira.com.sg"},
      {"glamira.de/x", "Internal", "glamira.de"},
      {"//glamira.de/x", "Internal", "glamira.de"},
      {"https://www.glamira.google.com/", "Internal", "glamira.google.com"},
      {"https://blog.glamira.example/", "Internal", "blog.glamira.example"},
      {"https://notglamira.de/", "Other", "notglamira.de"},
      {"https://www.glamira-store41.com/x", "Other", "glamira-store41.com"},
      {"https://www.idealo.de/", "Other", "idealo.de"},
      {"http://[::1]/", "Other", "[::1]"},
      {"http://192.168.0.1:8080/", "Other", "192.168.0.1"},
      {"https://www.com/", "Other", "www.com"},
  };
  Mismatches pinned("oracle vs docs");
  Mismatches m("edge case");
  for (const ReferrerCase& c : cases) {
    const OracleReferrer o = OracleClassify(c.url);
    pinned.Expect("oracle referrer_type", c.url, o.type, c.type);
    pinned.Expect("oracle referrer_domain", c.url, o.domain, c.domain);
    CheckUrl(c.url, &m);
  }
  for (const HostCase& c : HostCases()) CheckUrl(c.url, &m);
}

struct UserAgentCase {
  std::string ua, device;  // "type|browser|os"
};

TEST(AttributesOracle, UserAgentEdgeCases) {
  const std::vector<UserAgentCase> cases = {
      {"", "Unknown|Unknown|Unknown"},
      {"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
       "Bot|Other|Other"},
      {"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
       "Bot|Other|Other"},
      {"Mozilla/5.0 (compatible; Seekport Crawler; http://seekport.com/)",
       "Bot|Other|Other"},
      {"Mozilla/5.0 (compatible; Baiduspider/2.0)", "Bot|Other|Other"},
      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
       "HeadlessChrome/120.0.0.0 Safari/537.36",
       "Bot|Other|Other"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/120.0.0.0 Safari/537.36",
       "Desktop|Chrome|Windows"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0",
       "Desktop|Edge|Windows"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
       "like Gecko) Chrome/120.0.0.0 Safari/537.36 OPR/106.0.0.0",
       "Desktop|Opera|Windows"},
      {"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:77.0) Gecko/20100101 Firefox/77.0",
       "Desktop|Firefox|Linux"},
      {"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like "
       "Gecko) Chrome/120.0.0.0 Safari/537.36",
       "Desktop|Chrome|Chrome OS"},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.0 Safari/605.1.15",
       "Desktop|Safari|macOS"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
       "Mobile|Safari|iOS"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) FxiOS/120.0 Mobile/15E148 Safari/605.1.15",
       "Mobile|Firefox|iOS"},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
       "(KHTML, like Gecko) EdgiOS/120.0 Mobile/15E148 Safari/605.1.15",
       "Mobile|Edge|iOS"},
      {"Mozilla/5.0 (iPod touch; CPU iPhone OS 12_0 like Mac OS X) AppleWebKit/605.1.15",
       "Mobile|Safari|iOS"},
      {"Mozilla/5.0 (iPad; CPU OS 13_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
       "like Gecko) Version/13.1.1 Mobile/15E148 Safari/604.1",
       "Tablet|Safari|iOS"},
      {"Mozilla/5.0 (Linux; Android 10; SM-G973F) AppleWebKit/537.36 (KHTML, like "
       "Gecko) Chrome/83.0.4103.96 Mobile Safari/537.36",
       "Mobile|Chrome|Android"},
      {"Mozilla/5.0 (Linux; Android 9; SM-T510) AppleWebKit/537.36 (KHTML, like "
       "Gecko) Chrome/83.0.4103.96 Safari/537.36",
       "Tablet|Chrome|Android"},
      {"Mozilla/5.0 (Linux; Android 10; SM-G975F) AppleWebKit/537.36 (KHTML, like "
       "Gecko) SamsungBrowser/12.0 Chrome/79.0.3945.136 Mobile Safari/537.36",
       "Mobile|Samsung Internet|Android"},
      {"Mozilla/5.0 (Android 10; Mobile; rv:68.0) Gecko/68.0 Firefox/68.0",
       "Mobile|Firefox|Android"},
      {"Mozilla/5.0 (Android 10; Tablet; rv:68.0) Gecko/68.0 Firefox/68.0",
       "Tablet|Firefox|Android"},
      {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
       "Chrome/120.0.0.0 Mobile Safari/537.36 EdgA/120.0.0.0",
       "Mobile|Edge|Android"},
      {"Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) "
       "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0.2743.116 Mobile "
       "Safari/537.36 Edge/15.15063",
       "Mobile|Edge|Android"},
      {"Mozilla/5.0 (Windows Phone 8.1; ARM; Trident/7.0; Touch; rv:11.0; IEMobile/11.0)",
       "Mobile|Other|Windows"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 "
       "(KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041",
       "Desktop|Edge|Windows"},
      {"Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; "
       "en) Presto/2.5.25 Version/10.54",
       "Unknown|Opera|Other"},
      {"Mozilla/5.0 (Linux; Android 12; Chromium/110) AppleWebKit/537.36 Mobile",
       "Mobile|Chrome|Android"},
      {"Dalvik/2.1.0 (Linux; U; Android 9; Redmi Note 8 MIUI/V11)",
       "Tablet|Other|Android"},
      {"curl/7.68.0", "Unknown|Other|Other"},
      {"garbage", "Unknown|Other|Other"},
      {"mozilla/5.0 (windows nt 10.0) chrome/120", "Unknown|Other|Other"},
      {"Mozilla/5.0 (Linux; Android 10; \xe5\xb0\x8f\xe7\xb1\xb3) AppleWebKit/537.36 "
       "Chrome/83.0 Mobile Safari/537.36",
       "Mobile|Chrome|Android"},
      {std::string(100000, 'x') + " Chrome/1", "Unknown|Chrome|Other"},
      {std::string("Mozilla/5.0 (Windows NT 10.0\0) Firefox/1", 40),
       "Desktop|Firefox|Windows"},
  };
  Mismatches pinned("oracle vs docs");
  Mismatches m("edge case");
  for (const UserAgentCase& c : cases) {
    pinned.Expect("oracle device", c.ua, OracleParseUserAgent(c.ua).Text(),
                  c.device);
    CheckUserAgent(c.ua, &m);
  }
}

}  // namespace
}  // namespace pv::star
