#include "common/quantity.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(ParseMilliTest, Decimals) {
  EXPECT_EQ(*ParseMilli("2"), 2000);
  EXPECT_EQ(*ParseMilli("0.25"), 250);
  EXPECT_EQ(*ParseMilli("0.001"), 1);
  EXPECT_EQ(*ParseMilli("-1"), -1000);
  EXPECT_EQ(*ParseMilli("1.5000"), 1500);
  EXPECT_EQ(*ParseMilli(".5"), 500);
}

TEST(ParseMilliTest, RefusesOtherSpellings) {
  EXPECT_FALSE(ParseMilli("0.0001").ok());
  EXPECT_FALSE(ParseMilli("1e3").ok());
  EXPECT_FALSE(ParseMilli("").ok());
  EXPECT_FALSE(ParseMilli("abc").ok());
  EXPECT_FALSE(ParseMilli("1.2.3").ok());
  EXPECT_FALSE(ParseMilli("99999999999999999999").ok());
  EXPECT_NE(ParseMilli("x").status().message().find("at most 3 decimals"), std::string::npos);
}

TEST(ParseCpuTest, CoresAndMillicores) {
  EXPECT_EQ(*ParseCpuMillis("64"), 64000);
  EXPECT_EQ(*ParseCpuMillis("64000m"), 64000);
  EXPECT_EQ(*ParseCpuMillis("0.5"), 500);
  EXPECT_EQ(*ParseCpuMillis("250m"), 250);
  EXPECT_FALSE(ParseCpuMillis("2.5m").ok());
  EXPECT_FALSE(ParseCpuMillis("-1").ok());
  EXPECT_FALSE(ParseCpuMillis("m").ok());
}

TEST(ParseMemoryTest, BinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseMemoryMiB("512Gi"), 512 * 1024);
  EXPECT_EQ(*ParseMemoryMiB("80Gi"), 80 * 1024);
  EXPECT_EQ(*ParseMemoryMiB("100Mi"), 100);
  EXPECT_EQ(*ParseMemoryMiB("1.5Gi"), 1536);
  EXPECT_EQ(*ParseMemoryMiB("1Ti"), 1024 * 1024);
  EXPECT_EQ(*ParseMemoryMiB("2048Ki"), 2);
  EXPECT_EQ(*ParseMemoryMiB("1Ki"), 1);   // rounds up to a whole MiB
  EXPECT_EQ(*ParseMemoryMiB("1G"), 954);  // 1e9 bytes = 953.67 MiB, rounded up
  EXPECT_EQ(*ParseMemoryMiB("1048576"), 1);
  EXPECT_EQ(*ParseMemoryMiB("0"), 0);
}

TEST(ParseMemoryTest, RefusesForgottenUnitsAndJunk) {
  Result<int64_t> r = ParseMemoryMiB("512");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("did you mean \"512Mi\""), std::string::npos);
  EXPECT_FALSE(ParseMemoryMiB("64GB").ok());
  EXPECT_FALSE(ParseMemoryMiB("-1Gi").ok());
  EXPECT_FALSE(ParseMemoryMiB("Gi").ok());
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(ParseDuration("0s")->ms, 0);
  EXPECT_EQ(ParseDuration("90s")->ms, 90'000);
  EXPECT_EQ(ParseDuration("5m")->ms, 300'000);
  EXPECT_EQ(ParseDuration("1h30m")->ms, 5'400'000);
  EXPECT_EQ(ParseDuration("250ms")->ms, 250);
  EXPECT_EQ(ParseDuration("1.5h")->ms, 5'400'000);
  EXPECT_EQ(ParseDuration("2d")->ms, 172'800'000);
  EXPECT_FALSE(ParseDuration("5").ok());
  EXPECT_FALSE(ParseDuration("5 minutes").ok());
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("m").ok());
}

TEST(ParseTimeTest, Rfc3339) {
  Result<Time> t = ParseTime("2026-01-01T12:00:00Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->ms, 1767268800000);
  EXPECT_EQ(ParseTime("1970-01-01T00:00:00Z")->ms, 0);
  EXPECT_EQ(ParseTime("2026-01-01T14:00:00+02:00")->ms, t->ms);
  EXPECT_EQ(ParseTime("2026-01-01T12:00:00.5Z")->ms, t->ms + 500);
  EXPECT_FALSE(ParseTime("2026-01-01T12:00:00").ok());
  EXPECT_FALSE(ParseTime("2026-13-01T12:00:00Z").ok());
  EXPECT_FALSE(ParseTime("yesterday").ok());
  EXPECT_NE(ParseTime("2026-01-01T12:00:00").status().message().find("time zone"),
            std::string::npos);
}

TEST(FormatTest, RoundTrips) {
  EXPECT_EQ(FormatMilli(2500), "2.5");
  EXPECT_EQ(FormatMilli(1000), "1");
  EXPECT_EQ(FormatMilli(250), "0.25");
  EXPECT_EQ(FormatMilli(-1000), "-1");
  EXPECT_EQ(FormatMilli(1), "0.001");
  EXPECT_EQ(FormatMemoryMiB(65536), "64Gi");
  EXPECT_EQ(FormatMemoryMiB(1536), "1536Mi");
  EXPECT_EQ(FormatMemoryMiB(1024 * 1024), "1Ti");
  EXPECT_EQ(FormatDuration(Duration{330'000}), "5m30s");
  EXPECT_EQ(FormatDuration(Duration{0}), "0s");
  EXPECT_EQ(FormatTime(Time{1767268800000}), "2026-01-01T12:00:00Z");
  EXPECT_EQ(FormatTime(Time{1767268800500}), "2026-01-01T12:00:00.500Z");
  for (const char* s : {"2024-02-29T23:59:59Z", "1999-12-31T00:00:01Z", "2100-03-01T00:00:00Z"}) {
    EXPECT_EQ(FormatTime(*ParseTime(s)), s);
  }
}

}  // namespace
}  // namespace sluice
