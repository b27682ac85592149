// vecmath gives the same bits whatever instruction set the compiler lowers its
// sixteen-lane vectors to: the same source built for SSE4.2, AVX2 and (where the
// CPU has it) AVX-512 gives identical results on inputs from every binade.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "vecmath_probe.h"

namespace sg {
namespace {

struct Results {
  std::vector<float> out;
  std::vector<double> logs, sums;
};

// Floats of every binade and sign, a dense run around 0, and specials; y a
// different shuffle of the same kind of values.
std::vector<float> inputs(uint32_t step, uint32_t start) {
  std::vector<float> v;
  for (uint32_t b = start; b < 0x7f800000u; b += step) {
    float x;
    std::memcpy(&x, &b, sizeof x);
    v.push_back(x);
    v.push_back(-x);
  }
  for (int i = -2000; i <= 2000; ++i) v.push_back(static_cast<float>(i) / 128);
  const float inf = std::numeric_limits<float>::infinity();
  for (float x : {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 88.7f, -103.9f, 1e-45f})
    v.push_back(x);
  return v;
}

template <class Probe>
Results run(Probe probe, const std::vector<float>& x, const std::vector<float>& y) {
  const int64_t n = static_cast<int64_t>(x.size());
  Results r{std::vector<float>(probe::kFunctions * n), std::vector<double>(n),
            std::vector<double>(3 * (probe::kShortSums + 1))};
  probe(x.data(), y.data(), n, r.out.data(), r.logs.data(), r.sums.data());
  return r;
}

// The same bits, except that a NaN may be any NaN: x86 propagates one operand's
// NaN, and which one is the compiler's choice of operand order.
bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }

void expect_same(const Results& a, const Results& b, const char* what) {
  const int64_t n = static_cast<int64_t>(a.logs.size());
  for (int f = 0; f < probe::kFunctions; ++f)
    for (int64_t i = 0; i < n; ++i)
      ASSERT_TRUE(same(a.out[f * n + i], b.out[f * n + i]))
          << what << ": function " << f << " differs at element " << i << ": " << a.out[f * n + i] << " against "
          << b.out[f * n + i];
  ASSERT_EQ(0, std::memcmp(a.logs.data(), b.logs.data(), sizeof(double) * a.logs.size())) << what << ": log";
  for (size_t i = 0; i < a.sums.size(); ++i)
    ASSERT_EQ(0, std::memcmp(&a.sums[i], &b.sums[i], sizeof(double)))
        << what << ": sum " << i % 3 << " of length index " << i / 3;
}

TEST(VecMathIsa, SseAvx2AndAvx512GiveTheSameBits) {
  const std::vector<float> x = inputs(1u << 19, 12345), y = inputs((1u << 19) + 77, 999);
  ASSERT_EQ(x.size(), y.size());
  const Results v3 = run(probe::probe_v3, x, y);
  expect_same(v3, run(probe::probe_v2, x, y), "SSE4.2 against AVX2");
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd")))
    GTEST_SKIP() << "no AVX-512 on this CPU: SSE4.2 and AVX2 compared only";
  expect_same(v3, run(probe::probe_v4, x, y), "AVX-512 against AVX2");
}

}  // namespace
}  // namespace sg
