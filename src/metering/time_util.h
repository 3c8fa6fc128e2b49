// UTC calendar helpers shared by the metering classes (private to src/metering).
#pragma once

#include <cstdint>
#include <string>

namespace basalt::metering::internal {

// Floor division, so times before 1970 land on the right day.
int64_t FloorDiv(int64_t a, int64_t b);

// "YYYY-MM-DD" of the UTC day holding `unix_ms`.
std::string UtcDay(int64_t unix_ms);
// Unix ms of 00:00 UTC of the day, and of the 1st of the month, holding `unix_ms`.
int64_t UtcDayStartMs(int64_t unix_ms);
int64_t UtcMonthStartMs(int64_t unix_ms);
// "YYYY-MM-DDTHH:MM:SSZ" (seconds, like Bedrock's log timestamps).
std::string Iso8601Seconds(int64_t unix_ms);

}  // namespace basalt::metering::internal
