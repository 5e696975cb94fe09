// The civil calendar of the star schema: days as integers (days since
// 1970-01-01, the unit facts and dim_date are keyed by), their dim_date
// attributes with Spark's conventions, and their text forms.
//
//   int32_t day = pv::star::DayFromUnixSeconds(event.local_time);
//   pv::star::CivilDate c = pv::star::CivilFromDay(day);
//   // c.date_key == 20240601, c.day_of_week == 7 (Saturday), c.week_of_year == 22
//
// Arithmetic is absl::CivilDay's (proleptic Gregorian, no time zones: the
// pipeline's timestamps are naive and read as UTC); only the ISO 8601 week,
// which Abseil lacks, is computed here. Pure functions, thread-safe.
#ifndef PV_STAR_CALENDAR_H_
#define PV_STAR_CALENDAR_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace pv::star {

// Days since 1970-01-01 of a Unix time in seconds (floor, also before 1970).
inline int32_t DayFromUnixSeconds(int64_t unix_seconds) {
  int64_t day = unix_seconds / 86400;
  if (unix_seconds % 86400 < 0) --day;
  return static_cast<int32_t>(day);
}

// Calendar attributes of a day, as dim_date stores them.
struct CivilDate {
  int year, month, day;
  int day_of_week;   // Spark dayofweek: 1 = Sunday ... 7 = Saturday
  int week_of_year;  // ISO 8601 week (1..53); may belong to the adjacent year
  int quarter;       // 1..4
  int32_t date_key;  // yyyymmdd
};

// The civil date of `day` days since 1970-01-01.
CivilDate CivilFromDay(int32_t day);

// Days since 1970-01-01 of a civil date. Out-of-range fields are normalized
// as absl::CivilDay does (2024-02-30 is 2024-03-01); validate before calling
// when that matters.
int32_t DayFromCivil(int year, int month, int day);

// Whether (year, month, day) names a real date (year 1..9999).
bool IsValidDate(int year, int month, int day);

// yyyymmdd of a day (dim_date.date_key, the fact partition key).
int32_t DateKey(int32_t day);

// "2024-06-01" for a day; ParseDayText is its inverse and accepts exactly
// that form (a real date, year 0001-9999). False on anything else.
std::string DayText(int32_t day);
bool ParseDayText(absl::string_view text, int32_t* day);

}  // namespace pv::star

#endif  // PV_STAR_CALENDAR_H_
