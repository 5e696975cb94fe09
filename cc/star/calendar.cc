#include "cc/star/calendar.h"

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace pv::star {
namespace {

const absl::CivilDay kEpoch(1970, 1, 1);

// Monday 0 ... Sunday 6.
int IsoWeekdayIndex(absl::CivilDay d) {
  switch (absl::GetWeekday(d)) {
    case absl::Weekday::monday: return 0;
    case absl::Weekday::tuesday: return 1;
    case absl::Weekday::wednesday: return 2;
    case absl::Weekday::thursday: return 3;
    case absl::Weekday::friday: return 4;
    case absl::Weekday::saturday: return 5;
    case absl::Weekday::sunday: return 6;
  }
  return 0;
}

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

CivilDate CivilFromDay(int32_t day) {
  const absl::CivilDay d = kEpoch + day;
  CivilDate c;
  c.year = static_cast<int>(d.year());
  c.month = d.month();
  c.day = d.day();
  const int iso = IsoWeekdayIndex(d);
  c.day_of_week = (iso + 1) % 7 + 1;  // Sunday (iso 6) -> 1, Monday -> 2
  // ISO 8601: a week belongs to the year of its Thursday.
  const absl::CivilDay thursday = d + (3 - iso);
  c.week_of_year = (absl::GetYearDay(thursday) - 1) / 7 + 1;
  c.quarter = (c.month - 1) / 3 + 1;
  c.date_key = c.year * 10000 + c.month * 100 + c.day;
  return c;
}

int32_t DayFromCivil(int year, int month, int day) {
  return static_cast<int32_t>(absl::CivilDay(year, month, day) - kEpoch);
}

bool IsValidDate(int year, int month, int day) {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return false;
  const absl::CivilDay d(year, month, day);  // normalizes an invalid day
  return d.month() == month && d.day() == day;
}

int32_t DateKey(int32_t day) {
  const absl::CivilDay d = kEpoch + day;
  return static_cast<int32_t>(d.year()) * 10000 + d.month() * 100 + d.day();
}

std::string DayText(int32_t day) {
  const absl::CivilDay d = kEpoch + day;
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

bool ParseDayText(absl::string_view text, int32_t* day) {
  // YYYY-MM-DD
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (int i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!IsDigit(text[i])) return false;
  }
  auto num = [&](int pos, int len) {
    int v = 0;
    for (int i = 0; i < len; ++i) v = v * 10 + (text[pos + i] - '0');
    return v;
  };
  const int y = num(0, 4), m = num(5, 2), d = num(8, 2);
  if (!IsValidDate(y, m, d)) return false;
  *day = DayFromCivil(y, m, d);
  return true;
}

}  // namespace pv::star
