#include "io/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

namespace sg {
namespace {

TEST(DType, HalfWideningIsExactForEveryValue) {
  // Every finite F16 value, checked against ldexp arithmetic.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const int exp = (h >> 10) & 0x1f;
    const int mant = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1 : 1;
    const float got = f16_to_f32(static_cast<uint16_t>(h));
    if (exp == 0x1f) {
      EXPECT_TRUE(mant ? std::isnan(got) : std::isinf(got));
      continue;
    }
    const double want = exp == 0 ? sign * std::ldexp(mant, -24) : sign * std::ldexp(1024 + mant, exp - 25);
    ASSERT_EQ(static_cast<double>(got), want) << h;
  }
}

TEST(DType, HalfNarrowingRoundTripsEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
  EXPECT_EQ(f16_to_f32(f32_to_f16(1.0f + 1.0f / 2048)), 1.0f);  // tie to even
  EXPECT_EQ(f16_to_f32(f32_to_f16(70000.0f)), INFINITY);
}

TEST(DType, Bf16RoundTrip) {
  for (float f : {0.0f, 1.0f, -2.5f, 3.140625f, std::ldexp(1.0f, -100), std::ldexp(-1.5f, 100)})
    EXPECT_EQ(bf16_to_f32(f32_to_bf16(f)), f);
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.00390625f)), 1.0f);  // tie rounds to even
  EXPECT_EQ(count_non_finite(DType::F32, std::vector<float>{1, INFINITY, NAN}.data(), 3), 2u);
}

}  // namespace
}  // namespace sg
