#include "common/quantity.h"

#include <array>
#include <charconv>
#include <cstdio>

#include "common/int128.h"

namespace sluice {
namespace {

constexpr int64_t kMaxMagnitude = 9'000'000'000'000'000;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string Quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

// Parses an unsigned decimal with at most `max_decimals` digits after the
// point, scaled by 10^max_decimals. Returns false on any other spelling.
bool ParseScaledDecimal(std::string_view text, int max_decimals, int64_t* out) {
  if (text.empty()) return false;
  int64_t whole = 0;
  size_t i = 0;
  bool any_digit = false;
  for (; i < text.size() && IsDigit(text[i]); ++i) {
    any_digit = true;
    whole = whole * 10 + (text[i] - '0');
    if (whole > kMaxMagnitude / 1'000'000) return false;
  }
  int64_t frac = 0;
  int decimals = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    for (; i < text.size() && IsDigit(text[i]); ++i) {
      any_digit = true;
      if (decimals == max_decimals) {
        if (text[i] != '0') return false;  // more precision than the unit holds
        continue;
      }
      frac = frac * 10 + (text[i] - '0');
      ++decimals;
    }
  }
  if (!any_digit || i != text.size()) return false;
  int64_t scale = 1;
  for (int d = 0; d < max_decimals; ++d) scale *= 10;
  for (int d = decimals; d < max_decimals; ++d) frac *= 10;
  *out = whole * scale + frac;
  return true;
}

// Parses a decimal with up to 9 decimals into an exact rational value * 1e9.
bool ParseNano(std::string_view text, int64_t* out) { return ParseScaledDecimal(text, 9, out); }

}  // namespace

Result<int64_t> ParseMilli(std::string_view text) {
  bool negative = !text.empty() && text.front() == '-';
  std::string_view body = negative ? text.substr(1) : text;
  if (!body.empty() && body.front() == '+') body.remove_prefix(1);
  int64_t v = 0;
  if (!ParseScaledDecimal(body, 3, &v)) {
    return Status::InvalidArgument("expected a decimal number with at most 3 decimals, got " +
                                   Quote(text));
  }
  return negative ? -v : v;
}

Result<int64_t> ParseCpuMillis(std::string_view text) {
  if (!text.empty() && text.back() == 'm') {
    int64_t v = 0;
    std::string_view body = text.substr(0, text.size() - 1);
    if (!ParseScaledDecimal(body, 0, &v)) {
      return Status::InvalidArgument("expected whole millicores like \"500m\", got " + Quote(text));
    }
    return v;
  }
  int64_t v = 0;
  if (!ParseScaledDecimal(text, 3, &v)) {
    return Status::InvalidArgument(
        "expected CPU cores (\"8\", \"0.5\") or millicores (\"500m\"), got " + Quote(text));
  }
  return v;
}

Result<int64_t> ParseMemoryMiB(std::string_view text) {
  struct Suffix {
    std::string_view name;
    int64_t bytes;
  };
  static constexpr std::array<Suffix, 10> kSuffixes = {{{"Ki", int64_t{1} << 10},
                                                        {"Mi", int64_t{1} << 20},
                                                        {"Gi", int64_t{1} << 30},
                                                        {"Ti", int64_t{1} << 40},
                                                        {"Pi", int64_t{1} << 50},
                                                        {"k", 1'000},
                                                        {"M", 1'000'000},
                                                        {"G", 1'000'000'000},
                                                        {"T", 1'000'000'000'000},
                                                        {"P", 1'000'000'000'000'000}}};
  const std::string expected =
      "expected a memory size like \"64Gi\", \"512Mi\", \"1.5Ti\" or \"20G\", got " + Quote(text);
  std::string_view number = text;
  // The number is read with nine decimals (nano units) so that "1.5Gi" stays
  // exact; the byte count is then nano * unit_bytes / 1e9.
  int64_t unit_bytes = 1;
  for (const Suffix& s : kSuffixes) {
    if (text.size() > s.name.size() && text.ends_with(s.name)) {
      number = text.substr(0, text.size() - s.name.size());
      unit_bytes = s.bytes;
      break;
    }
  }
  int64_t nano = 0;
  if (!ParseNano(number, &nano)) return Status::InvalidArgument(expected);
  // bytes = nano * unit_bytes / 1e9; MiB = ceil(bytes / 2^20). Use 128-bit
  // arithmetic so "1.5Pi" does not overflow.
  Int128 bytes_times_1e9 = static_cast<Int128>(nano) * unit_bytes;
  Int128 denom = static_cast<Int128>(1'000'000'000) * 1048576;
  Int128 mib = (bytes_times_1e9 + denom - 1) / denom;
  if (mib > kMaxMagnitude) return Status::InvalidArgument(expected + " (too large)");
  if (unit_bytes == 1 && nano > 0 && bytes_times_1e9 < denom) {
    return Status::InvalidArgument("a plain number is a count of bytes, and " + Quote(text) +
                                   " bytes is less than 1 MiB; did you mean \"" +
                                   std::string(text) + "Mi\" or \"" + std::string(text) + "Gi\"?");
  }
  return static_cast<int64_t>(mib);
}

Result<Duration> ParseDuration(std::string_view text) {
  const std::string expected =
      "expected a duration like \"0s\", \"90s\", \"5m\", \"1h30m\" or \"2d\", got " + Quote(text);
  if (text.empty()) return Status::InvalidArgument(expected);
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (IsDigit(text[i]) || text[i] == '.')) ++i;
    if (start == i) return Status::InvalidArgument(expected);
    int64_t milli = 0;
    if (!ParseScaledDecimal(text.substr(start, i - start), 3, &milli)) {
      return Status::InvalidArgument(expected);
    }
    size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t unit_ms = 0;
    if (unit == "ms") {
      unit_ms = 1;
    } else if (unit == "s") {
      unit_ms = 1000;
    } else if (unit == "m") {
      unit_ms = 60'000;
    } else if (unit == "h") {
      unit_ms = 3'600'000;
    } else if (unit == "d") {
      unit_ms = 86'400'000;
    } else {
      return Status::InvalidArgument(expected);
    }
    total += milli * unit_ms / 1000;
  }
  return Duration{total};
}

namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// well-known civil-date algorithm).
int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp + (mp < 10 ? 3 : -9);
  *y = yoe + era * 400 + (*m <= 2 ? 1 : 0);
}

bool ReadFixedDigits(std::string_view text, size_t pos, size_t n, int64_t* out) {
  if (pos + n > text.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!IsDigit(text[i])) return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

Result<Time> ParseTime(std::string_view text) {
  const std::string expected =
      "expected an RFC 3339 time like \"2026-01-01T12:00:00Z\", got " + Quote(text);
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!ReadFixedDigits(text, 0, 4, &year) || text.size() < 19 || text[4] != '-' ||
      !ReadFixedDigits(text, 5, 2, &month) || text[7] != '-' ||
      !ReadFixedDigits(text, 8, 2, &day) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') ||
      !ReadFixedDigits(text, 11, 2, &hour) || text[13] != ':' ||
      !ReadFixedDigits(text, 14, 2, &minute) || text[16] != ':' ||
      !ReadFixedDigits(text, 17, 2, &second)) {
    return Status::InvalidArgument(expected);
  }
  static constexpr std::array<int, 12> kDaysInMonth = {31, 29, 31, 30, 31, 30,
                                                       31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12 || day < 1 || day > kDaysInMonth[month - 1] || hour > 23 ||
      minute > 59 || second > 60) {
    return Status::InvalidArgument(expected + " (a field is out of range)");
  }
  size_t i = 19;
  int64_t millis = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (digits < 3) millis = millis * 10 + (text[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return Status::InvalidArgument(expected);
    for (int d = digits; d < 3; ++d) millis *= 10;
  }
  int64_t offset_minutes = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int64_t oh = 0, om = 0;
    if (!ReadFixedDigits(text, i + 1, 2, &oh) || i + 3 >= text.size() || text[i + 3] != ':' ||
        !ReadFixedDigits(text, i + 4, 2, &om)) {
      return Status::InvalidArgument(expected);
    }
    offset_minutes = (oh * 60 + om) * (text[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return Status::InvalidArgument(expected + " (the time zone is missing; add Z for UTC)");
  }
  if (i != text.size()) return Status::InvalidArgument(expected);
  int64_t days = DaysFromCivil(year, month, day);
  int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
  return Time{secs * 1000 + millis};
}

std::string FormatMilli(int64_t milli) {
  std::string sign = milli < 0 ? "-" : "";
  uint64_t v = milli < 0 ? static_cast<uint64_t>(-milli) : static_cast<uint64_t>(milli);
  std::string out = sign + std::to_string(v / 1000);
  uint64_t frac = v % 1000;
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), ".%03llu", static_cast<unsigned long long>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out;
}

std::string FormatMemoryMiB(int64_t mib) {
  constexpr int64_t kMiBPerTiB = int64_t{1024} * 1024;
  if (mib != 0 && mib % kMiBPerTiB == 0) return std::to_string(mib / kMiBPerTiB) + "Ti";
  if (mib != 0 && mib % 1024 == 0) return std::to_string(mib / 1024) + "Gi";
  return std::to_string(mib) + "Mi";
}

std::string FormatDuration(Duration d) {
  if (d.ms == 0) return "0s";
  std::string out = d.ms < 0 ? "-" : "";
  int64_t ms = d.ms < 0 ? -d.ms : d.ms;
  struct Unit {
    const char* name;
    int64_t ms;
  };
  static constexpr std::array<Unit, 5> kUnits = {
      {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}, {"ms", 1}}};
  for (const Unit& u : kUnits) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms) + u.name;
      ms %= u.ms;
    }
  }
  return out;
}

std::string FormatTime(Time t) {
  int64_t ms = t.ms;
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t millis = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  int64_t y = 0, m = 0, d = 0;
  CivilFromDays(days, &y, &m, &d);
  char buf[96];
  if (millis != 0) {
    std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60), static_cast<long long>(millis));
  } else {
    std::snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                  static_cast<long long>(sod / 3600), static_cast<long long>(sod / 60 % 60),
                  static_cast<long long>(sod % 60));
  }
  return buf;
}

}  // namespace sluice
