// Built three times, with -march=x86-64-v2 (SSE4.2), the default x86-64-v3
// (AVX2) and x86-64-v4 (AVX-512), as SG_PROBE = probe_v2, probe_v3, probe_v4.
// It must use nothing but vecmath and plain loops: any inline code from another
// header would be merged by the linker across the three builds.
#include "vecmath_probe.h"

#include "engine/vecmath.h"

namespace sg::probe {

using vec::F16;

SG_PROBE_DECLARE(SG_PROBE) {
  auto apply = [&](int f, auto fn) {
    float* o = out + f * n;
    for (int64_t i = 0; i < n; ++i) o[i] = x[i];
    vec::map_span(o, n, fn);
  };
  apply(0, [](const F16& v) SG_VEC_LAMBDA { return vec::exp(v); });
  apply(1, [](const F16& v) SG_VEC_LAMBDA { return vec::sigmoid(v); });
  apply(2, [](const F16& v) SG_VEC_LAMBDA { return vec::silu(v); });
  apply(3, [](const F16& v) SG_VEC_LAMBDA { return vec::tanh(v); });
  apply(4, [](const F16& v) SG_VEC_LAMBDA { return vec::erf(v); });
  apply(5, [](const F16& v) SG_VEC_LAMBDA { return vec::gelu_erf(v); });
  apply(6, [](const F16& v) SG_VEC_LAMBDA { return vec::gelu_tanh(v); });
  apply(7, [](const F16& v) SG_VEC_LAMBDA { return vec::relu(v); });
  float* g = out + 8 * n;
  for (int64_t i = 0; i < n; ++i) g[i] = x[i];
  vec::gated_map_span(g, y, n, [](const F16& v) SG_VEC_LAMBDA { return vec::silu(v); });

  auto x_log_x = [x](int64_t i, int k) SG_VEC_LAMBDA {
    const vec::F16 f = vec::load_first(x + i, k);
    const vec::D16 v = vec::widen(f);
    return vec::select(vec::widen(vec::positive_mask(f)), v * vec::log(v), vec::D16{});
  };
  for (int64_t i = 0; i < n; i += vec::kLanes) {
    const int k = n - i < vec::kLanes ? static_cast<int>(n - i) : vec::kLanes;
    const vec::D16 v = vec::log(vec::widen(vec::load_first(x + i, k)));
    for (int l = 0; l < k; ++l) logs[i + l] = x[i + l] > 0 ? v[l] : 0.0;
  }
  for (int s = 0; s <= kShortSums; ++s) {
    const int64_t m = s < kShortSums && s < n ? s : n;
    sums[3 * s] = vec::sum_squares(x, m);
    sums[3 * s + 1] = vec::dot(x, y, m);
    sums[3 * s + 2] = vec::fixed_sum(m, x_log_x);
  }
}

}  // namespace sg::probe
