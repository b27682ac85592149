// The order of every floating-point operation of the row kernels, pinned: the
// norms, the attention softmax and outputs, and the reducers' statistics equal,
// bit for bit, a plain scalar emulation of their documented order (sums as
// vec::fixed_sum lays them out: sixteen lanes, then a fixed tree). So the results
// cannot depend on the vector width the compiler picks. And the activation spans
// give an element the same bits wherever it sits in a span of any length, on
// every instruction set.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "engine/kernels.h"
#include "engine/matmul.h"
#include "engine/vecmath.h"
#include "measure/sublayer_stats.h"
#include "mixed_values.h"

namespace sg {
namespace {

// Sum of terms in fixed_sum's order: lane l takes terms l, l + 16, ... (+0 past
// the end), then lane[l] += lane[l + w] for w = 8, 4, 2, 1.
double lane_sum(const std::vector<double>& terms) {
  double lane[16] = {};
  for (size_t b = 0; b < (terms.size() + 15) / 16; ++b)
    for (size_t l = 0; l < 16; ++l) lane[l] += b * 16 + l < terms.size() ? terms[b * 16 + l] : 0.0;
  for (int w = 8; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) lane[l] = lane[l] + lane[l + w];
  return lane[0];
}

std::vector<float> random_values(size_t n, uint32_t seed, float spread = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> mag(-spread, spread);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng) * std::pow(10.0f, mag(rng)) + 0.5f;
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * a.size()) == 0;
}

const int64_t kWidths[] = {1, 5, 16, 17, 64, 100, 771};

TEST(KernelOrder, LayerNormMatchesItsScalarEmulation) {
  for (int64_t d : kWidths) {
    const int64_t rows = 3;
    const std::vector<float> x = random_values(rows * d, 1), w = random_values(d, 2, 0.5f),
                             b = random_values(d, 3, 0.5f);
    for (bool bias : {true, false}) {
      std::vector<float> got(rows * d), want(rows * d);
      kernels::layer_norm(x.data(), rows, d, w.data(), bias ? b.data() : nullptr, 1e-5, got.data());
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * d;
        std::vector<double> t(xr, xr + d);
        const double mean = lane_sum(t) / d;
        for (int64_t i = 0; i < d; ++i) t[i] = (xr[i] - mean) * (xr[i] - mean);
        const double inv = 1.0 / std::sqrt(lane_sum(t) / d + 1e-5);
        for (int64_t i = 0; i < d; ++i) {
          const float n = static_cast<float>((xr[i] - mean) * inv);
          want[r * d + i] = bias ? n * w[i] + b[i] : n * w[i];
        }
      }
      EXPECT_TRUE(same_bits(got, want)) << "d = " << d << (bias ? " with bias" : "");
    }
  }
}

TEST(KernelOrder, RmsNormMatchesItsScalarEmulation) {
  for (int64_t d : kWidths) {
    const int64_t rows = 3;
    const std::vector<float> x = random_values(rows * d, 4), w = random_values(d, 5, 0.5f);
    std::vector<float> got(rows * d), want(rows * d);
    kernels::rms_norm(x.data(), rows, d, w.data(), 1e-6, got.data());
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = x.data() + r * d;
      std::vector<double> t;
      for (int64_t i = 0; i < d; ++i) t.push_back(static_cast<double>(xr[i]) * xr[i]);
      const double inv = 1.0 / std::sqrt(lane_sum(t) / d + 1e-6);
      for (int64_t i = 0; i < d; ++i) want[r * d + i] = static_cast<float>(xr[i] * inv) * w[i];
    }
    EXPECT_TRUE(same_bits(got, want)) << "d = " << d;
  }
}

// The attention of one sequence and one head: scores q.k summed over dims in
// order (one FMA each), scaled; exp(s - max) by vecmath, their sum in
// fixed_sum's order, the probabilities times float(1 / sum); outputs summed
// over keys in order (one FMA each); the entropy from the same pass. On the AVX2 kernels and on the widest this
// CPU has: the same bits.
TEST(KernelOrder, AttentionMatchesItsScalarEmulation) {
  std::vector<matmul::Isa> isas = {matmul::Isa::Avx2};
  if (matmul::supported(matmul::Isa::Avx512)) isas.push_back(matmul::Isa::Avx512);
  const matmul::Isa saved = matmul::active_isa();
  // (head size, length): 150 keys take the vector paths of the AVX-512 build too.
  const std::pair<int, int64_t> shapes[] = {{8, 37}, {20, 37}, {64, 37}, {80, 37}, {64, 150}, {80, 150}};
  for (const matmul::Isa isa : isas)
    for (const auto& [hd, T] : shapes) {
      matmul::set_isa(isa);
      Batch batch;
      batch.add(std::vector<int32_t>(T, 0));
      std::vector<float> qkv = random_values(T * 3 * hd, 6, 0.3f);
      const int64_t width = 3 * hd;
      const kernels::Heads q{qkv.data(), width, hd}, k{q.data + hd, width, hd}, v{q.data + 2 * hd, width, hd};
      const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
      std::vector<float> z(T * hd), pat(T * T), want_z(T * hd), want_pat(T * T, 0.0f);
      std::vector<double> want_ent(T);
      kernels::attention(batch, q, k, v, 1, 1, hd, {}, {scale}, z.data(), pat.data());
      // The entropies, computed alongside (and without the patterns): the same z.
      std::vector<float> z2(T * hd);
      std::vector<double> ent(T);
      kernels::attention(batch, q, k, v, 1, 1, hd, {}, {scale}, z2.data(), nullptr, 0, ent.data());
      EXPECT_TRUE(same_bits(z2, z)) << "hd = " << hd;

      const float fscale = static_cast<float>(scale);
      for (int64_t i = 0; i < T; ++i) {
        std::vector<float> s(i + 1);
        for (int64_t j = 0; j <= i; ++j) {
          float acc = 0;
          for (int e = 0; e < hd; ++e) acc = std::fma(q.at(i, 0)[e], k.at(j, 0)[e], acc);
          s[j] = acc * fscale;
        }
        const float mx = *std::max_element(s.begin(), s.end());
        std::vector<double> e(i + 1), ex(i + 1);
        for (int64_t j = 0; j <= i; ++j) {
          const float x = s[j] - mx;
          s[j] = vec::scalar([](const vec::F16& y) SG_VEC_LAMBDA { return vec::exp(y); }, x);
          e[j] = s[j];
          ex[j] = s[j] > 0 ? e[j] * x : 0.0;
        }
        const double sum = lane_sum(e);
        // Entropy: ln S - (1/S) sum_j e_j x_j (vecmath's log in double), both sums in fixed_sum's order.
        want_ent[i] =
            vec::scalar([](const vec::D16& y) SG_VEC_LAMBDA { return vec::log(y); }, sum) - lane_sum(ex) / sum;
        const float inv = static_cast<float>(1.0 / sum);
        for (int64_t j = 0; j <= i; ++j) want_pat[i * T + j] = s[j] * inv;
        for (int d = 0; d < hd; ++d) {
          float acc = 0;
          for (int64_t j = 0; j <= i; ++j) acc = std::fma(want_pat[i * T + j], v.at(j, 0)[d], acc);
          want_z[i * hd + d] = acc;
        }
      }
      EXPECT_TRUE(same_bits(pat, want_pat)) << "hd = " << hd << ", T = " << T;
      EXPECT_TRUE(same_bits(z, want_z)) << "hd = " << hd << ", T = " << T;
      for (int64_t i = 0; i < T; ++i)
        EXPECT_EQ(ent[i], want_ent[i]) << "hd = " << hd << ", T = " << T << ", query " << i;
    }
  matmul::set_isa(saved);
}

using test::mixed_values;

// The same bits, or both NaN: which NaN an operation on NaN returns is up to
// the compiler's choice of operand order (vecmath.h).
bool same(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0 || (std::isnan(a) && std::isnan(b)); }
bool same_bits(const float* a, const float* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

// An element's result does not depend on where it sits in the span, on the
// span's length (full vectors or the padded tail) or on its alignment.
TEST(KernelSpans, ActivationsArePositionAndLengthIndependent) {
  const int64_t N = 300;
  const std::vector<float> x = mixed_values(N, 5), up = mixed_values(N, 6);
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu}) {
    std::vector<float> whole = x, whole_gated = x;
    kernels::activate_span(act, whole.data(), N);
    kernels::gated_activate_span(act, whole_gated.data(), up.data(), N);
    // Element by element through the scalar path (lane 0 of a vector).
    for (int64_t i = 0; i < N; ++i) {
      float one = x[i];
      kernels::activate_span(act, &one, 1);
      ASSERT_TRUE(same(one, whole[i])) << to_string(act) << " element " << i;
    }
    std::vector<float> buf(N + 32), ubuf(N + 32);
    for (int64_t off : {0, 1, 3, 15, 16, 17, 31, 100}) {
      for (int64_t len : {1, 2, 7, 15, 16, 17, 31, 32, 33, 47, 100, 199}) {
        if (off + len > N) continue;
        for (int64_t shift : {0, 1, 5}) {  // the copy's alignment
          std::copy_n(x.begin() + off, len, buf.begin() + shift);
          kernels::activate_span(act, buf.data() + shift, len);
          ASSERT_TRUE(same_bits(buf.data() + shift, whole.data() + off, len))
              << to_string(act) << " offset " << off << " length " << len << " shift " << shift;
          std::copy_n(x.begin() + off, len, buf.begin() + shift);
          std::copy_n(up.begin() + off, len, ubuf.begin() + 2);
          kernels::gated_activate_span(act, buf.data() + shift, ubuf.data() + 2, len);
          ASSERT_TRUE(same_bits(buf.data() + shift, whole_gated.data() + off, len))
              << to_string(act) << " gated, offset " << off << " length " << len << " shift " << shift;
        }
      }
    }
  }
}

// The parallel versions are the same spans split among threads.
TEST(KernelSpans, ParallelActivationsEqualOneSpan) {
  const int64_t N = 3 * 4096 + 77;
  const std::vector<float> x = mixed_values(N, 10), up = mixed_values(N, 11);
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu}) {
    std::vector<float> span = x, span_gated = x, par = x, par_gated = x;
    kernels::activate_span(act, span.data(), N);
    kernels::gated_activate_span(act, span_gated.data(), up.data(), N);
    kernels::activate(act, par.data(), N);
    kernels::gated_activate(act, par_gated.data(), up.data(), N);
    EXPECT_TRUE(same_bits(par.data(), span.data(), N)) << to_string(act);
    EXPECT_TRUE(same_bits(par_gated.data(), span_gated.data(), N)) << to_string(act);
  }
}

// The AVX2 and AVX-512 builds of the spans give the same bits: on a sweep of
// float bit patterns (every binade, subnormals, infinities and NaNs) and on
// mixed values, plain and gated.
TEST(KernelSpans, EveryInstructionSetGivesTheSameBits) {
  if (!matmul::supported(matmul::Isa::Avx512)) GTEST_SKIP() << "this CPU has no AVX-512";
  std::vector<float> x;
  for (uint64_t bits = 0; bits < (uint64_t{1} << 32); bits += 1021) x.push_back(std::bit_cast<float>(uint32_t(bits)));
  const std::vector<float> mixed = mixed_values(4099, 12);
  x.insert(x.end(), mixed.begin(), mixed.end());
  const auto N = static_cast<int64_t>(x.size());
  std::vector<float> up(x.rbegin(), x.rend());
  const matmul::Isa saved = matmul::active_isa();
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu}) {
    std::vector<float> plain[2], gated[2];
    for (int i = 0; i < 2; ++i) {
      matmul::set_isa(i == 0 ? matmul::Isa::Avx2 : matmul::Isa::Avx512);
      plain[i] = x, gated[i] = x;
      kernels::activate(act, plain[i].data(), N);
      kernels::gated_activate(act, gated[i].data(), up.data(), N);
    }
    for (int64_t i = 0; i < N; ++i) {
      ASSERT_TRUE(same(plain[0][i], plain[1][i])) << to_string(act) << " of " << x[i];
      ASSERT_TRUE(same(gated[0][i], gated[1][i])) << to_string(act) << " gated, of " << x[i] << " times " << up[i];
    }
  }
  matmul::set_isa(saved);
}

// gated = act(gate) * up, the product in float after the activation.
TEST(KernelSpans, GatedIsActivationTimesUp) {
  const std::vector<float> x = mixed_values(100, 8), up = mixed_values(100, 9);
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu}) {
    std::vector<float> a = x, g = x;
    kernels::activate_span(act, a.data(), 100);
    kernels::gated_activate_span(act, g.data(), up.data(), 100);
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(same(g[i], a[i] * up[i])) << to_string(act) << " element " << i;
    }
  }
}

TEST(ReducerOrder, NormsCosinesAndEntropyMatchTheirScalarEmulation) {
  const int64_t d = 83;
  Batch batch;
  batch.add(std::vector<int32_t>(5, 0));
  batch.add(std::vector<int32_t>(21, 0));
  const int64_t N = batch.n_tokens();
  const std::vector<float> pre = random_values(N * d, 7), attn = random_values(N * d, 8);

  SublayerStatsReducer reducer(1, true);
  reducer.on_activation({Point::ResidPre, 0}, batch, pre.data(), d);
  reducer.on_activation({Point::AttnOut, 0}, batch, attn.data(), d);

  // Patterns: softmax rows of random scores, some underflowing to exact zeros.
  const int H = 2;
  const std::vector<int64_t> offsets = kernels::pattern_offsets(batch, H);
  std::vector<float> probs(offsets.back(), 0.0f);
  std::mt19937 rng(9);
  std::normal_distribution<float> g(0.0f, 20.0f);
  for (size_t s = 0; s < batch.n_sequences(); ++s) {
    const int64_t T = batch.length(s);
    for (int h = 0; h < H; ++h)
      for (int64_t i = 0; i < T; ++i) {
        float* row = probs.data() + offsets[s] + (h * T + i) * T;
        double sum = 0;
        for (int64_t j = 0; j <= i; ++j) sum += row[j] = std::exp(std::min(0.0f, g(rng)) * 6);
        for (int64_t j = 0; j <= i; ++j) row[j] = static_cast<float>(row[j] / sum);
      }
  }
  // Each query row's entropy per head ([tokens, heads]), as the attention kernel gives them.
  std::vector<double> entropies(static_cast<size_t>(N * H));
  for (int64_t r = 0; r < N; ++r) {
    const size_t s = r < batch.offsets[1] ? 0 : 1;
    const int64_t T = batch.length(s), i = r - batch.begin(s);
    for (int h = 0; h < H; ++h)
      entropies[r * H + h] = kernels::entropy_span(probs.data() + offsets[s] + (h * T + i) * T, i + 1);
  }
  reducer.on_entropies({Point::AttnEntropy, 0}, batch, entropies.data(), H);

  auto norm = [&](const float* x) {
    std::vector<double> t;
    for (int64_t i = 0; i < d; ++i) t.push_back(static_cast<double>(x[i]) * x[i]);
    return std::sqrt(lane_sum(t));
  };
  for (int64_t r = 0; r < N; ++r) {
    const SublayerTokenStats& st = reducer.stats().layers[0][r];
    const float* a = attn.data() + r * d;
    const float* p = pre.data() + r * d;
    EXPECT_EQ(st.resid_pre, norm(p)) << r;
    EXPECT_EQ(row_norm(p, d), norm(p)) << r;
    EXPECT_EQ(st.attn_out, norm(a)) << r;
    std::vector<double> t;
    for (int64_t i = 0; i < d; ++i) t.push_back(static_cast<double>(a[i]) * p[i]);
    EXPECT_EQ(st.attn_cos, lane_sum(t) / (norm(a) * norm(p))) << r;

    const size_t s = r < batch.offsets[1] ? 0 : 1;
    const int64_t T = batch.length(s), i = r - batch.begin(s);
    double h_sum = 0, h_libm = 0;
    for (int h = 0; h < H; ++h) {
      const float* row = probs.data() + offsets[s] + (h * T + i) * T;
      std::vector<double> terms;
      for (int64_t j = 0; j <= i; ++j) {
        const double x = row[j];
        terms.push_back(x > 0 ? x * vec::scalar([](const vec::D16& y) SG_VEC_LAMBDA { return vec::log(y); }, x) : 0.0);
        if (row[j] > 0) h_libm -= row[j] * std::log(static_cast<double>(row[j]));
      }
      h_sum -= lane_sum(terms);
    }
    EXPECT_EQ(st.attn_entropy, h_sum / H) << r;
    EXPECT_NEAR(st.attn_entropy, h_libm / H, 1e-14 * (1 + h_libm)) << r;
  }
}

}  // namespace
}  // namespace sg
