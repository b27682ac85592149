#pragma once
// Test inputs for the element-wise and row kernels, shared by their tests.
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

namespace sg::test {

// n values of every magnitude (1e-4..1e2 times a normal draw), both signs, and
// at every 7th place from the start: zeros of both signs, infinities, a NaN, a
// subnormal, -90 and 12.
inline std::vector<float> mixed_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> mag(-4.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng) * std::pow(10.0f, mag(rng));
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, inf, -inf, std::numeric_limits<float>::quiet_NaN(), 1e-40f, -90.0f, 12.0f};
  for (size_t i = 0; i < std::size(specials) && 7 * i < n; ++i) v[7 * i] = specials[i];
  return v;
}

}  // namespace sg::test
