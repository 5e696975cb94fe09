// Dimension attributes derived from event fields (DESIGN.md, "The star
// schema"): the storefront country from `current_url`, the referrer's domain
// and type from `referrer_url`, and the device type, browser and OS from
// `user_agent`. Pure functions, no allocation beyond the returned views.
#ifndef PV_STAR_ATTRIBUTES_H_
#define PV_STAR_ATTRIBUTES_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace pv::star {

// The host of a URL, lower-cased ASCII letters expected as in real feeds;
// "" when the text has no scheme or host. "https://www.glamira.de/x" ->
// "www.glamira.de". The view points into `url`.
absl::string_view UrlHost(absl::string_view url);

// A storefront country. Ids are dense and ordered by country_code, so "the
// smallest id" is "the smallest code" (used to break ties deterministically).
struct Country {
  absl::string_view code;       // ISO 3166-1 alpha-2, "XX" when unknown
  absl::string_view name;
  absl::string_view region;
  absl::string_view continent;
};
inline constexpr uint16_t kUnknownCountry = 0;
// The storefront domain of a page URL (dim_country.store_domain): its host,
// lower-cased, without a leading "www." ("https://WWW.Glamira.DE/x" ->
// "glamira.de"); "" when the URL has no host.
std::string StoreDomain(absl::string_view current_url);
// The country of a storefront domain (glamira.de -> DE, glamira.co.uk -> GB,
// glamira.com -> US, ...; any subdomain of them too); kUnknownCountry
// otherwise. `domain` as StoreDomain gives it.
uint16_t CountryIdFromDomain(absl::string_view domain);
// CountryIdFromDomain(StoreDomain(current_url)).
uint16_t CountryIdFromUrl(absl::string_view current_url);
const Country& CountryById(uint16_t id);

enum class ReferrerType : uint8_t { kDirect, kInternal, kSearch, kSocial, kOther };
absl::string_view ReferrerTypeName(ReferrerType type);  // "Search Engine", ...
struct Referrer {
  absl::string_view domain;  // host without a leading "www."; view into url
  ReferrerType type;
};
// Empty URL -> Direct; a glamira host -> Internal; known search engines and
// social networks by domain; everything else Other.
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
Device ParseUserAgent(absl::string_view user_agent);
absl::string_view DeviceTypeName(DeviceType t);
absl::string_view BrowserName(Browser b);
absl::string_view OsName(Os o);

}  // namespace pv::star

#endif  // PV_STAR_ATTRIBUTES_H_
