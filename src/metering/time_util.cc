#include "metering/time_util.h"

#include <chrono>
#include <cstdio>

namespace basalt::metering::internal {
namespace {

constexpr int64_t kMsPerDay = 86'400'000;

std::chrono::year_month_day CivilDay(int64_t unix_ms) {
  return std::chrono::year_month_day{
      std::chrono::sys_days{std::chrono::days{FloorDiv(unix_ms, kMsPerDay)}}};
}

}  // namespace

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

std::string UtcDay(int64_t unix_ms) {
  std::chrono::year_month_day ymd = CivilDay(unix_ms);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

int64_t UtcDayStartMs(int64_t unix_ms) { return FloorDiv(unix_ms, kMsPerDay) * kMsPerDay; }

int64_t UtcMonthStartMs(int64_t unix_ms) {
  std::chrono::year_month_day ymd = CivilDay(unix_ms);
  std::chrono::sys_days first{ymd.year() / ymd.month() / std::chrono::day{1}};
  return static_cast<int64_t>(first.time_since_epoch().count()) * kMsPerDay;
}

std::string Iso8601Seconds(int64_t unix_ms) {
  int64_t day_start = UtcDayStartMs(unix_ms);
  int64_t secs = (unix_ms - day_start) / 1000;
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%sT%02d:%02d:%02dZ", UtcDay(unix_ms).c_str(),
                static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                static_cast<int>(secs % 60));
  return buf;
}

}  // namespace basalt::metering::internal
