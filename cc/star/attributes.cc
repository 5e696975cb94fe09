#include "cc/star/attributes.h"

#include <array>
#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace pv::star {
namespace {

// Ordered by code; index 0 is the Unknown member.
constexpr Country kCountries[] = {
    {"XX", "Unknown", "Unknown", "Unknown"},
    {"AE", "United Arab Emirates", "Western Asia", "Asia"},
    {"AT", "Austria", "Western Europe", "Europe"},
    {"AU", "Australia", "Australia and New Zealand", "Oceania"},
    {"BE", "Belgium", "Western Europe", "Europe"},
    {"BG", "Bulgaria", "Eastern Europe", "Europe"},
    {"BR", "Brazil", "South America", "Americas"},
    {"CA", "Canada", "Northern America", "Americas"},
    {"CH", "Switzerland", "Western Europe", "Europe"},
    {"CL", "Chile", "South America", "Americas"},
    {"CZ", "Czechia", "Eastern Europe", "Europe"},
    {"DE", "Germany", "Western Europe", "Europe"},
    {"DK", "Denmark", "Northern Europe", "Europe"},
    {"EE", "Estonia", "Northern Europe", "Europe"},
    {"ES", "Spain", "Southern Europe", "Europe"},
    {"FI", "Finland", "Northern Europe", "Europe"},
    {"FR", "France", "Western Europe", "Europe"},
    {"GB", "United Kingdom", "Northern Europe", "Europe"},
    {"GR", "Greece", "Southern Europe", "Europe"},
    {"HR", "Croatia", "Southern Europe", "Europe"},
    {"HU", "Hungary", "Eastern Europe", "Europe"},
    {"IE", "Ireland", "Northern Europe", "Europe"},
    {"IN", "India", "Southern Asia", "Asia"},
    {"IT", "Italy", "Southern Europe", "Europe"},
    {"JP", "Japan", "Eastern Asia", "Asia"},
    {"KR", "South Korea", "Eastern Asia", "Asia"},
    {"LT", "Lithuania", "Northern Europe", "Europe"},
    {"LU", "Luxembourg", "Western Europe", "Europe"},
    {"LV", "Latvia", "Northern Europe", "Europe"},
    {"MX", "Mexico", "Central America", "Americas"},
    {"NL", "Netherlands", "Western Europe", "Europe"},
    {"NO", "Norway", "Northern Europe", "Europe"},
    {"NZ", "New Zealand", "Australia and New Zealand", "Oceania"},
    {"PL", "Poland", "Eastern Europe", "Europe"},
    {"PT", "Portugal", "Southern Europe", "Europe"},
    {"RO", "Romania", "Eastern Europe", "Europe"},
    {"RS", "Serbia", "Southern Europe", "Europe"},
    {"SE", "Sweden", "Northern Europe", "Europe"},
    {"SG", "Singapore", "South-eastern Asia", "Asia"},
    {"SI", "Slovenia", "Southern Europe", "Europe"},
    {"SK", "Slovakia", "Eastern Europe", "Europe"},
    {"TR", "Turkey", "Western Asia", "Asia"},
    {"US", "United States", "Northern America", "Americas"},
    {"ZA", "South Africa", "Southern Africa", "Africa"},
};

struct Suffix {
  absl::string_view suffix;  // the host's ending after "glamira"
  absl::string_view code;
};
// Storefront domains: glamira.<suffix> (the table of docs/semantics.md).
constexpr Suffix kStorefronts[] = {
    {".ae", "AE"},     {".at", "AT"},     {".com.au", "AU"}, {".be", "BE"},
    {".bg", "BG"},     {".com.br", "BR"}, {".ca", "CA"},     {".ch", "CH"},
    {".cl", "CL"},     {".cz", "CZ"},     {".de", "DE"},     {".dk", "DK"},
    {".ee", "EE"},     {".es", "ES"},     {".fi", "FI"},     {".fr", "FR"},
    {".co.uk", "GB"},  {".uk", "GB"},     {".gr", "GR"},     {".hr", "HR"},
    {".hu", "HU"},     {".ie", "IE"},     {".in", "IN"},     {".it", "IT"},
    {".jp", "JP"},     {".co.kr", "KR"},  {".lt", "LT"},     {".lu", "LU"},
    {".lv", "LV"},     {".com.mx", "MX"}, {".mx", "MX"},     {".nl", "NL"},
    {".no", "NO"},     {".co.nz", "NZ"},  {".pl", "PL"},     {".pt", "PT"},
    {".ro", "RO"},     {".rs", "RS"},     {".se", "SE"},     {".com.sg", "SG"},
    {".sg", "SG"},     {".si", "SI"},     {".sk", "SK"},     {".com.tr", "TR"},
    {".com", "US"},    {".co.za", "ZA"},
};

uint16_t CountryIdByCode(absl::string_view code) {
  for (uint16_t i = 1; i < std::size(kCountries); ++i) {
    if (kCountries[i].code == code) return i;
  }
  return kUnknownCountry;
}

bool HostIs(absl::string_view host, absl::string_view domain) {
  // host == domain or host ends with "." + domain.
  if (!absl::EndsWith(host, domain)) return false;
  return host.size() == domain.size() ||
         host[host.size() - domain.size() - 1] == '.';
}

bool HostHasLabel(absl::string_view host, absl::string_view label) {
  // "google" matches www.google.de, google.com, images.google.co.uk.
  size_t pos = 0;
  while ((pos = host.find(label, pos)) != absl::string_view::npos) {
    bool starts = pos == 0 || host[pos - 1] == '.';
    size_t end = pos + label.size();
    bool ends = end == host.size() || host[end] == '.';
    if (starts && ends) return true;
    ++pos;
  }
  return false;
}

// The length of the scheme `url` begins with (an ASCII letter, then
// letters, digits, '+', '-', '.'), 0 when it does not begin with a letter.
// Whether a ':' follows is the caller's business.
size_t SchemeLength(absl::string_view url) {
  if (url.empty() || !absl::ascii_isalpha(static_cast<unsigned char>(url[0]))) {
    return 0;
  }
  size_t n = 1;
  while (n < url.size()) {
    const unsigned char c = static_cast<unsigned char>(url[n]);
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.') break;
    ++n;
  }
  return n;
}

// True when every byte is an ASCII digit (also for "").
bool AllDigits(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// True when `text` (between the brackets) has only hex digits, ':' and '.'.
bool IsIpv6Text(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
        c != '.') {
      return false;
    }
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends `text` with its %XX escapes decoded to `*out`; false when a '%' is
// not followed by two hex digits.
bool PercentDecode(absl::string_view text, std::string* out) {
  out->reserve(out->size() + text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    if (text.size() - i < 3) return false;  // fewer than two characters follow
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// A non-empty host of letters, digits, '-', '_', '.' and non-ASCII bytes,
// without an empty label.
bool IsValidHostName(absl::string_view host) {
  if (host.empty() || host.front() == '.' || host.back() == '.') return false;
  char previous = 0;
  for (char c : host) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == '.' && previous == '.') return false;
    if (u < 0x80 && !absl::ascii_isalnum(u) && c != '-' && c != '_' &&
        c != '.') {
      return false;
    }
    previous = c;
  }
  return true;
}

// `host` without one leading "www." label when at least two labels remain.
absl::string_view WithoutWww(absl::string_view host) {
  absl::string_view rest = host;
  if (absl::ConsumePrefix(&rest, "www.") &&
      rest.find('.') != absl::string_view::npos) {
    return rest;
  }
  return host;
}

}  // namespace

std::string UrlHost(absl::string_view url) {
  url = absl::StripAsciiWhitespace(url);
  // Where the authority starts (docs/semantics.md, step 2).
  const size_t scheme = SchemeLength(url);
  bool schemeless = false;
  if (scheme > 0 && url.substr(scheme, 3) == "://") {
    url.remove_prefix(scheme + 3);
  } else if (absl::StartsWith(url, "//")) {
    url.remove_prefix(2);
  } else {
    if (scheme > 0 && scheme < url.size() && url[scheme] == ':') {
      absl::string_view after = url.substr(scheme + 1);
      if (!AllDigits(after.substr(0, after.find_first_of("/?#")))) {
        return "";  // an opaque URI: mailto:, about:, user:pw@host
      }
    }
    schemeless = true;
  }
  absl::string_view authority = url.substr(0, url.find_first_of("/?#"));
  const size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority.remove_prefix(at + 1);

  absl::string_view host, port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return "";
    host = authority.substr(0, close + 1);
    absl::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !absl::ConsumePrefix(&rest, ":")) return "";
    port = rest;
    absl::string_view address = host.substr(1, host.size() - 2);
    if (address.empty() || !IsIpv6Text(address) || !AllDigits(port)) return "";
    return absl::AsciiStrToLower(host);
  }
  const size_t colon = authority.find(':');
  host = authority.substr(0, colon);
  if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
  if (!AllDigits(port)) return "";

  std::string out;
  if (!PercentDecode(host, &out)) return "";
  absl::AsciiStrToLower(&out);
  if (absl::EndsWith(out, ".")) out.pop_back();
  if (!IsValidHostName(out)) return "";
  if (schemeless && out.find('.') == std::string::npos) return "";
  return out;
}

std::string StoreDomain(absl::string_view current_url) {
  std::string host = UrlHost(current_url);
  return std::string(WithoutWww(host));
}

uint16_t CountryIdFromDomain(absl::string_view host) {
  size_t pos = host.rfind("glamira.");
  if (pos == absl::string_view::npos) return kUnknownCountry;
  if (pos > 0 && host[pos - 1] != '.') return kUnknownCountry;
  absl::string_view suffix = host.substr(pos + 7);  // from the '.'
  for (const Suffix& s : kStorefronts) {
    if (suffix == s.suffix) return CountryIdByCode(s.code);
  }
  return kUnknownCountry;
}

uint16_t CountryIdFromUrl(absl::string_view current_url) {
  return CountryIdFromDomain(StoreDomain(current_url));
}

const Country& CountryById(uint16_t id) {
  return id < std::size(kCountries) ? kCountries[id] : kCountries[0];
}

uint16_t CountryCount() { return static_cast<uint16_t>(std::size(kCountries)); }

absl::string_view ReferrerTypeName(ReferrerType type) {
  switch (type) {
    case ReferrerType::kDirect:
      return "Direct";
    case ReferrerType::kInternal:
      return "Internal";
    case ReferrerType::kSearch:
      return "Search Engine";
    case ReferrerType::kSocial:
      return "Social Media";
    case ReferrerType::kOther:
      return "Other";
  }
  return "Other";
}

Referrer ClassifyReferrer(absl::string_view referrer_url) {
  if (referrer_url.empty()) return {"", ReferrerType::kDirect};
  const std::string host = UrlHost(referrer_url);
  if (host.empty()) return {"", ReferrerType::kOther};
  std::string domain(WithoutWww(host));
  if (HostHasLabel(host, "glamira")) {
    return {std::move(domain), ReferrerType::kInternal};
  }
  for (absl::string_view label :
       {"google", "bing", "yahoo", "duckduckgo", "yandex", "baidu", "ecosia",
        "qwant", "seznam", "naver"}) {
    if (HostHasLabel(host, label)) {
      return {std::move(domain), ReferrerType::kSearch};
    }
  }
  for (absl::string_view label :
       {"facebook", "instagram", "pinterest", "twitter", "tiktok", "youtube",
        "reddit", "linkedin", "snapchat", "whatsapp"}) {
    if (HostHasLabel(host, label)) {
      return {std::move(domain), ReferrerType::kSocial};
    }
  }
  if (HostIs(host, "t.co") || HostIs(host, "x.com") || HostIs(host, "fb.com")) {
    return {std::move(domain), ReferrerType::kSocial};
  }
  return {std::move(domain), ReferrerType::kOther};
}

uint32_t Device::Code() const {
  return (static_cast<uint32_t>(type) << 16) |
         (static_cast<uint32_t>(browser) << 8) | static_cast<uint32_t>(os);
}

Device Device::FromCode(uint32_t code) {
  Device d;
  d.type = static_cast<DeviceType>((code >> 16) & 0xff);
  d.browser = static_cast<Browser>((code >> 8) & 0xff);
  d.os = static_cast<Os>(code & 0xff);
  return d;
}

Device ParseUserAgent(absl::string_view ua) {
  Device d;
  if (ua.empty()) return d;
  auto has = [&](absl::string_view s) { return absl::StrContains(ua, s); };
  // Bots first: they often imitate browsers.
  if (has("bot") || has("Bot") || has("crawler") || has("Crawler") ||
      has("spider") || has("Spider") || has("HeadlessChrome")) {
    d.type = DeviceType::kBot;
    d.browser = Browser::kOther;
    d.os = Os::kOther;
    return d;
  }
  // Operating system.
  if (has("iPhone") || has("iPad") || has("iPod")) {
    d.os = Os::kIos;
  } else if (has("Android")) {
    d.os = Os::kAndroid;
  } else if (has("CrOS")) {
    d.os = Os::kChromeOs;
  } else if (has("Windows")) {
    d.os = Os::kWindows;
  } else if (has("Mac OS X") || has("Macintosh")) {
    d.os = Os::kMacOs;
  } else if (has("Linux") || has("X11")) {
    d.os = Os::kLinux;
  } else {
    d.os = Os::kOther;
  }
  // Browser: the order matters, since Edge and Opera also say "Chrome" and
  // Chrome also says "Safari".
  if (has("Edg/") || has("Edge/") || has("EdgA/") || has("EdgiOS/")) {
    d.browser = Browser::kEdge;
  } else if (has("OPR/") || has("Opera")) {
    d.browser = Browser::kOpera;
  } else if (has("SamsungBrowser")) {
    d.browser = Browser::kSamsung;
  } else if (has("Firefox/") || has("FxiOS/")) {
    d.browser = Browser::kFirefox;
  } else if (has("Chrome/") || has("CriOS/") || has("Chromium/")) {
    d.browser = Browser::kChrome;
  } else if (has("Safari/") || has("AppleWebKit")) {
    d.browser = Browser::kSafari;
  } else {
    d.browser = Browser::kOther;
  }
  // Device type.
  if (has("iPad") || has("Tablet") ||
      (d.os == Os::kAndroid && !has("Mobile"))) {
    d.type = DeviceType::kTablet;
  } else if (has("Mobile") || has("iPhone") || has("iPod") ||
             has("Windows Phone")) {
    d.type = DeviceType::kMobile;
  } else if (d.os == Os::kOther) {
    d.type = DeviceType::kUnknown;
  } else {
    d.type = DeviceType::kDesktop;
  }
  return d;
}

absl::string_view DeviceTypeName(DeviceType t) {
  static constexpr absl::string_view kNames[] = {"Unknown", "Desktop", "Mobile",
                                                 "Tablet", "Bot"};
  return kNames[static_cast<int>(t)];
}

absl::string_view BrowserName(Browser b) {
  static constexpr absl::string_view kNames[] = {
      "Unknown", "Chrome", "Edge", "Firefox", "Opera", "Safari",
      "Samsung Internet", "Other"};
  return kNames[static_cast<int>(b)];
}

absl::string_view OsName(Os o) {
  static constexpr absl::string_view kNames[] = {
      "Unknown", "Android", "Chrome OS", "iOS", "Linux", "macOS", "Windows",
      "Other"};
  return kNames[static_cast<int>(o)];
}

}  // namespace pv::star
