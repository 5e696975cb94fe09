// Dimension attributes derived from event fields (docs/semantics.md,
// "Derived attributes"): the storefront country and domain from
// `current_url`, the referrer's domain and type from `referrer_url`, and the
// device type, browser and OS from `user_agent`. Pure functions of their
// arguments; thread-safe.
#ifndef PV_STAR_ATTRIBUTES_H_
#define PV_STAR_ATTRIBUTES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace pv::star {

// The normalised host of a URL by the rules of docs/semantics.md ("The host
// of a URL"): scheme optional ("glamira.de/x", "//glamira.de/x"), userinfo
// and port dropped, an IPv6 literal kept with its brackets, %XX decoded, ASCII
// lower-cased, one trailing dot dropped. "" when the URL has no valid host
// (empty, garbage, an opaque URI such as "mailto:x@y", an invalid port or
// character). "HTTPS://u:p@WWW.Glamira.DE.:443/x" -> "www.glamira.de".
std::string UrlHost(absl::string_view url);

// A storefront country. Ids are dense and ordered by country_code, so "the
// smallest id" is "the smallest code" (used to break ties deterministically).
struct Country {
  absl::string_view code;       // ISO 3166-1 alpha-2, "XX" when unknown
  absl::string_view name;
  absl::string_view region;
  absl::string_view continent;
};
inline constexpr uint16_t kUnknownCountry = 0;
// The storefront domain of a page URL (dim_country.store_domain): UrlHost
// without one leading "www." label when at least two labels remain
// ("https://WWW.Glamira.DE/x" -> "glamira.de", "www.com" stays); "" when the
// URL has no host.
std::string StoreDomain(absl::string_view current_url);
// The country of a storefront domain: `domain` is glamira.<suffix> or ends
// with .glamira.<suffix> for a suffix of the table in docs/semantics.md
// (glamira.de -> DE, glamira.co.uk -> GB, glamira.co.kr -> KR, glamira.com ->
// US, shop.glamira.de -> DE); kUnknownCountry otherwise. `domain` as
// StoreDomain (or UrlHost) gives it: lower-case, no trailing dot.
uint16_t CountryIdFromDomain(absl::string_view domain);
// CountryIdFromDomain(StoreDomain(current_url)).
uint16_t CountryIdFromUrl(absl::string_view current_url);
// The country of an id; the Unknown country for ids >= CountryCount().
const Country& CountryById(uint16_t id);
// The number of country ids (the Unknown one included); ids are
// [0, CountryCount()).
uint16_t CountryCount();

enum class ReferrerType : uint8_t { kDirect, kInternal, kSearch, kSocial, kOther };
absl::string_view ReferrerTypeName(ReferrerType type);  // "Search Engine", ...
struct Referrer {
  std::string domain;  // StoreDomain(url): the host without "www."
  ReferrerType type;
};
// docs/semantics.md, "dim_referrer": an empty URL -> Direct (domain ""); no
// host -> Other (domain ""); else by the host's labels: a label "glamira" ->
// Internal, a known search engine -> Search, a known social network (or
// t.co, x.com, fb.com) -> Social, anything else Other.
Referrer ClassifyReferrer(absl::string_view referrer_url);

enum class DeviceType : uint8_t { kUnknown, kDesktop, kMobile, kTablet, kBot };
enum class Browser : uint8_t { kUnknown, kChrome, kEdge, kFirefox, kOpera, kSafari, kSamsung, kOther };
enum class Os : uint8_t { kUnknown, kAndroid, kChromeOs, kIos, kLinux, kMacOs, kWindows, kOther };
struct Device {
  DeviceType type = DeviceType::kUnknown;
  Browser browser = Browser::kUnknown;
  Os os = Os::kUnknown;
  // Packs the three into one ordered code (type, browser, os) and back.
  uint32_t Code() const;
  static Device FromCode(uint32_t code);
};
// docs/semantics.md, "dim_device": empty -> all Unknown; a bot token -> (Bot,
// Other, Other); else the OS, browser and type by token, in the documented
// order. The enumerators' values are stored (attr_code): append, never
// renumber.
Device ParseUserAgent(absl::string_view user_agent);
absl::string_view DeviceTypeName(DeviceType t);
absl::string_view BrowserName(Browser b);
absl::string_view OsName(Os o);

}  // namespace pv::star

#endif  // PV_STAR_ATTRIBUTES_H_
