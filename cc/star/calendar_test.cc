#include "cc/star/calendar.h"

#include "gtest/gtest.h"

namespace pv::star {
namespace {

TEST(CivilFromDayTest, KnownDates) {
  // 2024-01-01 is a Monday.
  CivilDate c = CivilFromDay(DayFromCivil(2024, 1, 1));
  EXPECT_EQ(c.year, 2024);
  EXPECT_EQ(c.month, 1);
  EXPECT_EQ(c.day, 1);
  EXPECT_EQ(c.day_of_week, 2);
  EXPECT_EQ(c.week_of_year, 1);
  EXPECT_EQ(c.quarter, 1);
  EXPECT_EQ(c.date_key, 20240101);
  // 2021-01-03 is a Sunday in ISO week 53 of 2020.
  c = CivilFromDay(DayFromCivil(2021, 1, 3));
  EXPECT_EQ(c.day_of_week, 1);
  EXPECT_EQ(c.week_of_year, 53);
  EXPECT_EQ(c.date_key, 20210103);
  // 2024-12-30 is a Monday in ISO week 1 of 2025.
  c = CivilFromDay(DayFromCivil(2024, 12, 30));
  EXPECT_EQ(c.day_of_week, 2);
  EXPECT_EQ(c.week_of_year, 1);
  EXPECT_EQ(c.quarter, 4);
  // 1970-01-01 was a Thursday, 1969-12-31 a Wednesday (ISO week 1 of 1970).
  c = CivilFromDay(0);
  EXPECT_EQ(c.date_key, 19700101);
  EXPECT_EQ(c.day_of_week, 5);
  EXPECT_EQ(c.week_of_year, 1);
  c = CivilFromDay(-1);
  EXPECT_EQ(c.date_key, 19691231);
  EXPECT_EQ(c.day_of_week, 4);
  EXPECT_EQ(c.week_of_year, 1);
  // 2020-06-04 (Thursday), week 23, quarter 2.
  c = CivilFromDay(DayFromCivil(2020, 6, 4));
  EXPECT_EQ(c.day_of_week, 5);
  EXPECT_EQ(c.week_of_year, 23);
  EXPECT_EQ(c.quarter, 2);
  EXPECT_EQ(DayFromCivil(2020, 6, 4), 18417);
}

TEST(CivilFromDayTest, RoundTripsAndWeeksAreConsistent) {
  // Every day from 1900 to 2100: the inverse holds, weekdays cycle, and the
  // ISO week advances exactly on Mondays.
  const int32_t first = DayFromCivil(1900, 1, 1), last = DayFromCivil(2100, 12, 31);
  CivilDate previous = CivilFromDay(first - 1);
  for (int32_t day = first; day <= last; ++day) {
    CivilDate c = CivilFromDay(day);
    ASSERT_EQ(DayFromCivil(c.year, c.month, c.day), day);
    ASSERT_EQ(c.day_of_week, previous.day_of_week % 7 + 1) << c.date_key;
    if (c.day_of_week == 2) {  // Monday
      ASSERT_TRUE(c.week_of_year == previous.week_of_year + 1 ||
                  (c.week_of_year == 1 && previous.week_of_year >= 52))
          << c.date_key;
    } else {
      ASSERT_EQ(c.week_of_year, previous.week_of_year) << c.date_key;
    }
    previous = c;
  }
}


TEST(CalendarTest, DayFromUnixSecondsFloors) {
  EXPECT_EQ(DayFromUnixSeconds(-1), -1);
  EXPECT_EQ(DayFromUnixSeconds(0), 0);
  EXPECT_EQ(DayFromUnixSeconds(86399), 0);
  EXPECT_EQ(DayFromUnixSeconds(-86400), -1);
  EXPECT_EQ(DayFromUnixSeconds(-86401), -2);
}

TEST(CalendarTest, DayTextRoundTrips) {
  int32_t day = 0;
  EXPECT_TRUE(ParseDayText("2024-02-29", &day));
  EXPECT_EQ(DayText(day), "2024-02-29");
  EXPECT_EQ(DateKey(day), 20240229);
  EXPECT_TRUE(ParseDayText("1969-12-31", &day));
  EXPECT_EQ(day, -1);
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-00-10", "0000-01-01",
                          "2024-1-01", "2024/01/01", "", "2024-01-01 "}) {
    EXPECT_FALSE(ParseDayText(bad, &day)) << bad;
  }
}

TEST(CalendarTest, IsValidDate) {
  EXPECT_TRUE(IsValidDate(2000, 2, 29));
  EXPECT_FALSE(IsValidDate(1900, 2, 29));
  EXPECT_FALSE(IsValidDate(2024, 4, 31));
  EXPECT_TRUE(IsValidDate(9999, 12, 31));
  EXPECT_FALSE(IsValidDate(10000, 1, 1));
}

}  // namespace
}  // namespace pv::star
