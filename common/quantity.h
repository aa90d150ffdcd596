// Parsing and printing of the quantities that appear in snapshots and on the
// command line. Everything is converted to integers at the edge:
//   GPU and CPU amounts: thousandths (milli-GPU, millicores);
//   memory: MiB; durations and instants: milliseconds.
// The parsers accept the spellings people use in Kubernetes and Run:ai
// (`64Gi`, `500m`, `0.25`, `1h30m`) and say exactly what was expected when
// they refuse something. All functions are pure and thread-safe.
#ifndef SLUICE_COMMON_QUANTITY_H_
#define SLUICE_COMMON_QUANTITY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice {

// A span of time, in milliseconds.
struct Duration {
  int64_t ms = 0;
  auto operator<=>(const Duration&) const = default;
};

// An instant, in milliseconds since the Unix epoch (UTC).
struct Time {
  int64_t ms = 0;
  auto operator<=>(const Time&) const = default;
  Time operator+(Duration d) const { return Time{ms + d.ms}; }
  Duration operator-(Time other) const { return Duration{ms - other.ms}; }
};

// Parses a plain decimal ("2", "0.25", "-1") into thousandths. Refuses more
// than three decimals, exponents, and values beyond +-9e15.
Result<int64_t> ParseMilli(std::string_view text);

// CPU: cores as a decimal ("8", "0.5") or millicores ("500m").
Result<int64_t> ParseCpuMillis(std::string_view text);

// Memory to MiB: binary suffixes Ki Mi Gi Ti Pi, decimal suffixes k M G T P,
// or a plain number of bytes. Rounds up to a whole MiB. A plain number below
// one MiB is refused because it is almost always a forgotten unit.
Result<int64_t> ParseMemoryMiB(std::string_view text);

// Durations like "0s", "90s", "5m", "1h30m", "250ms", "2d".
Result<Duration> ParseDuration(std::string_view text);

// RFC 3339 instants: "2026-01-01T12:00:00Z", "2026-01-01T12:00:00.5+02:00".
Result<Time> ParseTime(std::string_view text);

// Thousandths as the shortest exact decimal: 2500 -> "2.5", 1000 -> "1".
std::string FormatMilli(int64_t milli);
// MiB with the largest exact binary unit: 65536 -> "64Gi", 1536 -> "1536Mi".
std::string FormatMemoryMiB(int64_t mib);
// Compact duration: 330000 ms -> "5m30s".
std::string FormatDuration(Duration d);
// RFC 3339 in UTC, with milliseconds only when present.
std::string FormatTime(Time t);

}  // namespace sluice

#endif  // SLUICE_COMMON_QUANTITY_H_
