#include "cc/star/attributes.h"

#include "gtest/gtest.h"

namespace pv::star {
namespace {

TEST(Attributes, UrlHost) {
  EXPECT_EQ(UrlHost("https://www.glamira.de/ring.html?x=1"), "www.glamira.de");
  EXPECT_EQ(UrlHost("http://user:pw@example.com:8080/a"), "example.com");
  EXPECT_EQ(UrlHost("no scheme here"), "");
  EXPECT_EQ(UrlHost("https://glamira.fr"), "glamira.fr");
}

TEST(Attributes, UrlHostNormalises) {
  EXPECT_EQ(UrlHost("HTTPS://GLAMIRA.DE/x"), "glamira.de");
  EXPECT_EQ(UrlHost("glamira.de/x"), "glamira.de");
  EXPECT_EQ(UrlHost("//glamira.de/x"), "glamira.de");
  EXPECT_EQ(UrlHost("glamira.de:443"), "glamira.de");
  EXPECT_EQ(UrlHost("https://glamira.de./x"), "glamira.de");
  EXPECT_EQ(UrlHost("https://glamira.de?x"), "glamira.de");
  EXPECT_EQ(UrlHost("https://gl%61mira.de/"), "glamira.de");
  EXPECT_EQ(UrlHost("http://[2001:DB8::1]:8080/a"), "[2001:db8::1]");
  EXPECT_EQ(UrlHost("mailto:a@glamira.de"), "");
  EXPECT_EQ(UrlHost("https://glamira.de:abc/"), "");
  EXPECT_EQ(UrlHost("https://glamira..de/"), "");
}

TEST(Attributes, CountryFromStorefront) {
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://www.glamira.co.kr/x")).code, "KR");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://www.glamira.com.sg/x")).code, "SG");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://GLAMIRA.DE/x")).code, "DE");
  EXPECT_EQ(StoreDomain("https://WWW.Glamira.DE:443/x"), "glamira.de");
  EXPECT_EQ(StoreDomain("https://www.com/"), "www.com");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://www.glamira.de/x")).code, "DE");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://www.glamira.co.uk/x")).code, "GB");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://glamira.com/x")).code, "US");
  EXPECT_EQ(CountryById(CountryIdFromUrl("https://www.glamira.com.au/")).name,
            "Australia");
  EXPECT_EQ(CountryIdFromUrl("https://www.example.de/x"), kUnknownCountry);
  EXPECT_EQ(CountryIdFromUrl("https://notglamira.de/x"), kUnknownCountry);
  EXPECT_EQ(CountryIdFromUrl(""), kUnknownCountry);
  EXPECT_EQ(CountryById(kUnknownCountry).code, "XX");
}

TEST(Attributes, CountryIdsAreOrderedByCode) {
  EXPECT_EQ(CountryCount(), 44);
  for (uint16_t id = 2; id < CountryCount(); ++id) {
    EXPECT_LT(CountryById(id - 1).code, CountryById(id).code) << id;
  }
}

TEST(Attributes, ReferrerTypes) {
  EXPECT_EQ(ClassifyReferrer("").type, ReferrerType::kDirect);
  EXPECT_EQ(ClassifyReferrer("https://www.google.de/search?q=ring").type,
            ReferrerType::kSearch);
  EXPECT_EQ(ClassifyReferrer("https://www.google.de/search").domain, "google.de");
  EXPECT_EQ(ClassifyReferrer("https://l.facebook.com/l.php").type,
            ReferrerType::kSocial);
  EXPECT_EQ(ClassifyReferrer("https://www.pinterest.com/pin/1").type,
            ReferrerType::kSocial);
  EXPECT_EQ(ClassifyReferrer("https://www.glamira.fr/rings/").type,
            ReferrerType::kInternal);
  EXPECT_EQ(ClassifyReferrer("https://blog.example.org/post").type,
            ReferrerType::kOther);
  EXPECT_EQ(ClassifyReferrer("https://googleplex.example.com/").type,
            ReferrerType::kOther);
  EXPECT_EQ(ClassifyReferrer("garbage").type, ReferrerType::kOther);
  EXPECT_EQ(ReferrerTypeName(ReferrerType::kSearch), "Search Engine");
}

TEST(Attributes, UserAgents) {
  Device chrome_win = ParseUserAgent(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0.0.0 Safari/537.36");
  EXPECT_EQ(chrome_win.type, DeviceType::kDesktop);
  EXPECT_EQ(chrome_win.browser, Browser::kChrome);
  EXPECT_EQ(chrome_win.os, Os::kWindows);
  Device iphone = ParseUserAgent(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
      "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 "
      "Safari/604.1");
  EXPECT_EQ(iphone.type, DeviceType::kMobile);
  EXPECT_EQ(iphone.browser, Browser::kSafari);
  EXPECT_EQ(iphone.os, Os::kIos);
  Device edge = ParseUserAgent(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0");
  EXPECT_EQ(edge.browser, Browser::kEdge);
  Device tablet = ParseUserAgent(
      "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0.0.0 Safari/537.36");
  EXPECT_EQ(tablet.type, DeviceType::kTablet);
  EXPECT_EQ(tablet.os, Os::kAndroid);
  Device bot = ParseUserAgent(
      "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
  EXPECT_EQ(bot.type, DeviceType::kBot);
  EXPECT_EQ(ParseUserAgent("").type, DeviceType::kUnknown);
  Device round = Device::FromCode(iphone.Code());
  EXPECT_EQ(round.type, iphone.type);
  EXPECT_EQ(round.browser, iphone.browser);
  EXPECT_EQ(round.os, iphone.os);
  Device desktop{DeviceType::kDesktop, Browser::kSafari, Os::kMacOs};
  Device mobile{DeviceType::kMobile, Browser::kChrome, Os::kAndroid};
  EXPECT_LT(desktop.Code(), mobile.Code());
}

}  // namespace
}  // namespace pv::star
