#include "engine/kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/attention_kernel.h"
#include "engine/matmul.h"
#include "engine/vecmath.h"
#include "util/error.h"

namespace sg::kernels {

// Row sums go through vec::fixed_sum (sixteen lanes, one fixed tree): the same
// bits whatever the vector width, the batch or the thread count.
void layer_norm(const float* x, int64_t rows, int64_t d, const float* w, const float* b, double eps, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* o = out + r * d;
    const double sum =
        vec::fixed_sum(d, [xr](int64_t i, int k) SG_VEC_LAMBDA { return vec::widen(vec::load_first(xr + i, k)); });
    const double mean = sum / d;
    const double var = vec::fixed_sum(d, [xr, mean](int64_t i, int k) SG_VEC_LAMBDA {
      const vec::D16 c = vec::widen(vec::load_first(xr + i, k)) - mean;
      return c * c;
    });
    const double inv = 1.0 / std::sqrt(var / d + eps);
    for (int64_t i = 0; i < d; ++i) {
      const float n = static_cast<float>((xr[i] - mean) * inv);
      o[i] = b ? n * w[i] + b[i] : n * w[i];
    }
  }
}

void rms_norm(const float* x, int64_t rows, int64_t d, const float* w, double eps, float* out) {
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * d;
    float* o = out + r * d;
    const double inv = 1.0 / std::sqrt(vec::sum_squares(xr, d) / d + eps);
    for (int64_t i = 0; i < d; ++i) o[i] = static_cast<float>(xr[i] * inv) * w[i];
  }
}

namespace {
// The kernels of attention_kernel.h for this call: the AVX-512 build where
// matmul.h chose AVX-512 (the same bits as the AVX2 build, only faster).
const detail::Table& isa_table() {
#ifdef SG_HAVE_AVX512
  if (matmul::active_isa() != matmul::Isa::Avx2) return detail::avx512_table();
#endif
  return detail::table;
}
}  // namespace

void activate_span(Activation act, float* x, int64_t n) { isa_table().activate(act, x, n); }

void gated_activate_span(Activation act, float* gate, const float* up, int64_t n) {
  isa_table().gated_activate(act, gate, up, n);
}

namespace {
constexpr int64_t kActivationChunk = 4096;  // elements per task of the parallel loops
}  // namespace

void activate(Activation act, float* x, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; c += kActivationChunk) activate_span(act, x + c, std::min(kActivationChunk, n - c));
}

void gated_activate(Activation act, float* gate, const float* up, int64_t n) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; c += kActivationChunk)
    gated_activate_span(act, gate + c, up + c, std::min(kActivationChunk, n - c));
}

void softcap_span(float* x, int64_t n, float cap) { detail::softcap_of(x, n, cap); }

void softcap(float* x, int64_t n, float cap) {
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < n; c += kActivationChunk) softcap_span(x + c, std::min(kActivationChunk, n - c), cap);
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
#pragma omp parallel for schedule(static) if (rows * n >= kActivationChunk)
  for (int64_t r = 0; r < rows; ++r) detail::softmax_span(x + r * n, n);
}

void sigmoid_span(float* x, int64_t n) {
  vec::map_span(x, n, [](const vec::F16& v) SG_VEC_LAMBDA { return vec::sigmoid(v); });
}

void route_top_k(const float* probs, int64_t rows, int E, int top_k, bool renormalize, float* weights) {
#pragma omp parallel for schedule(static) if (rows * E >= kActivationChunk)
  for (int64_t r = 0; r < rows; ++r) {
    const float* p = probs + r * E;
    float* w = weights + r * E;
    std::vector<int> order(static_cast<size_t>(E));
    for (int e = 0; e < E; ++e) order[e] = e;
    std::stable_sort(order.begin(), order.end(), [p](int a, int b) { return p[a] > p[b]; });
    std::fill(w, w + E, 0.0f);
    double sum = 0;
    for (int i = 0; i < top_k; ++i) sum += p[order[i]];
    for (int i = 0; i < top_k; ++i) w[order[i]] = renormalize ? static_cast<float>(p[order[i]] / sum) : p[order[i]];
  }
}

namespace {
void fill_rope(const std::vector<double>& inv_freq, double a, int64_t max_pos, std::vector<float>& cos,
               std::vector<float>& sin) {
  const int half = static_cast<int>(inv_freq.size());
  cos.resize(static_cast<size_t>(max_pos * half));
  sin.resize(cos.size());
  for (int j = 0; j < half; ++j) {
    for (int64_t p = 0; p < max_pos; ++p) {
      const double angle = static_cast<double>(p) * inv_freq[j];
      cos[p * half + j] = static_cast<float>(std::cos(angle) * a);  // a = 1 multiplies exactly
      sin[p * half + j] = static_cast<float>(std::sin(angle) * a);
    }
  }
}
}  // namespace

RopeTable::RopeTable(const Rope& rope, int64_t max_pos)
    : rotary_dim(2 * static_cast<int>(rope.inv_freq.size())), long_after(rope.long_after) {
  fill_rope(rope.inv_freq, rope.attention_factor, max_pos, cos, sin);
  if (!rope.long_inv_freq.empty()) fill_rope(rope.long_inv_freq, rope.attention_factor, max_pos, long_cos, long_sin);
}

void Rotary::apply(float* v, int64_t pos) const {
  if (style == RotaryStyle::None || !table || table->rotary_dim == 0) return;
  const int half = table->rotary_dim / 2;
  const float* c = (long_factors ? table->long_cos : table->cos).data() + pos * half;
  const float* s = (long_factors ? table->long_sin : table->sin).data() + pos * half;
  const bool split = style == RotaryStyle::Half;
  for (int j = 0; j < half; ++j) {
    const int a = split ? j : 2 * j;
    const int b = split ? j + half : 2 * j + 1;
    const float xa = v[a], xb = v[b];
    v[a] = xa * c[j] - xb * s[j];
    v[b] = xb * c[j] + xa * s[j];
  }
}

double entropy_span(const float* p, int64_t n) {
  return -vec::fixed_sum(n, [p](int64_t i, int k) SG_VEC_LAMBDA {
    const vec::F16 pf = vec::load_first(p + i, k);
    const vec::D16 d = vec::widen(pf);
    return vec::select(vec::widen(vec::positive_mask(pf)), d * vec::log(d), vec::D16{});
  });
}

std::vector<int64_t> pattern_offsets(const Batch& batch, int H) {
  std::vector<int64_t> off{0};
  for (size_t s = 0; s < batch.n_sequences(); ++s)
    off.push_back(off.back() + static_cast<int64_t>(H) * batch.length(s) * batch.length(s));
  return off;
}

void attention(const Batch& batch, Heads q, Heads k, Heads v, int H, int KV, int hd, const Rotary& rotary,
               const ScoreRule& rule, float* z, float* patterns, int64_t past, double* entropies) {
  isa_table().attention(batch, q, k, v, H, KV, hd, rotary, rule, z, patterns, past, entropies);
}

void add(const float* a, const float* b, const float* c, float* out, int64_t n) {
  if (c) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = (a[i] + b[i]) + c[i];
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
  }
}

namespace {
// Whether element i of post satisfies the identity to float32 rounding.
inline bool residual_ok(const float* pre, const float* attn, const float* mlp, const float* post, int64_t i) {
  constexpr double kUlps = 4.0 * 5.960464477539063e-08;  // 4 * 2^-24
  const double expected = static_cast<double>(pre[i]) + attn[i] + (mlp ? mlp[i] : 0.0f);
  const double scale = std::fabs(pre[i]) + std::fabs(attn[i]) + (mlp ? std::fabs(mlp[i]) : 0.0f);
  return std::isfinite(post[i]) && std::isfinite(expected) && std::fabs(post[i] - expected) <= kUlps * scale + 1e-37;
}
}  // namespace

// Verifies post == pre + attn + mlp (in that order of float additions) to
// float32 rounding, element by element, reporting the first bad one. A finite
// post equal to the float sum is within the bound by construction (two
// roundings); only the others take the double-precision test.
void check_residual(int layer, const char* what, const float* pre, const float* attn, const float* mlp,
                    const float* post, int64_t n) {
  // Fast path: count elements that differ from the float sum or are not finite (a
  // NaN differs from everything). Per-thread counters vectorise; an OpenMP simd
  // reduction of this loop ran 4x slower.
  constexpr float kMax = std::numeric_limits<float>::max();
  int64_t n_suspect = 0;
#pragma omp parallel reduction(+ : n_suspect)
  {
    int64_t bad = 0;
    if (mlp) {
#pragma omp for schedule(static) nowait
      for (int64_t i = 0; i < n; ++i) bad += (post[i] != (pre[i] + attn[i]) + mlp[i]) | (std::fabs(post[i]) > kMax);
    } else {
#pragma omp for schedule(static) nowait
      for (int64_t i = 0; i < n; ++i) bad += (post[i] != pre[i] + attn[i]) | (std::fabs(post[i]) > kMax);
    }
    n_suspect += bad;
  }
  if (n_suspect == 0) return;
  for (int64_t i = 0; i < n; ++i) {
    if (residual_ok(pre, attn, mlp, post, i)) continue;
    const double expected = static_cast<double>(pre[i]) + attn[i] + (mlp ? mlp[i] : 0.0f);
    if (!std::isfinite(post[i]) || !std::isfinite(expected))
      fail("layer {}: non-finite activations in the residual stream (non-finite weights or overflow?)", layer);
    fail(
        "layer {}: residual identity violated: {} differs from the sum of its parts by {} at element {} "
        "(a capture point is not the tensor it names)",
        layer, what, std::fabs(post[i] - expected), i);
  }
}

}  // namespace sg::kernels
