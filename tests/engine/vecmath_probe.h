#pragma once
// vecmath compiled for several instruction sets (vecmath_probe.cpp, built once
// per -march level): each probe runs every function and sum over the same
// inputs, for vecmath_isa_test.cpp to compare the bits.
#include <cstdint>

namespace sg::probe {

// Per-element outputs, [kFunctions][n] floats: exp, sigmoid, silu, tanh, erf,
// gelu_erf, gelu_tanh, relu, silu(x) * y.
inline constexpr int kFunctions = 9;

// Sums are taken over the first m values for m = 0 .. kShortSums - 1 and m = n.
inline constexpr int kShortSums = 257;

// out: kFunctions * n floats; logs: n doubles, log of each x > 0 (0 elsewhere);
// sums: 3 * (kShortSums + 1) doubles, for each length m: sum x^2, sum x y and
// sum x log x over x > 0 (fixed_sum), in that order.
#define SG_PROBE_DECLARE(name) \
  void name(const float* x, const float* y, int64_t n, float* out, double* logs, double* sums)
SG_PROBE_DECLARE(probe_v2);
SG_PROBE_DECLARE(probe_v3);
SG_PROBE_DECLARE(probe_v4);

}  // namespace sg::probe
