// The matrix-product path (oneDNN, with fused activations) against a plain
// reference: double-precision loops and the scalar activation kernels.
#include "engine/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/kernels.h"

namespace sg {
namespace {

struct Problem {
  int64_t M = 13, N = 37, K = 29;
  std::vector<float> A, W, bias, mul;
  explicit Problem(uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 1.0f);
    for (auto* v : {&A, &W}) v->resize(v == &A ? M * K : N * K);
    for (auto& x : A) x = g(rng);
    for (auto& x : W) x = g(rng) * 0.3f;
    bias.resize(N);
    for (auto& x : bias) x = g(rng) * 0.1f;
    mul.resize(M * N);
    for (auto& x : mul) x = g(rng);
  }
  // Reference: double-precision dot products, then the scalar activation kernel.
  std::vector<float> reference(std::optional<Activation> act, bool with_mul) const {
    std::vector<float> c(M * N);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = bias[n];
        for (int64_t k = 0; k < K; ++k) s += static_cast<double>(A[m * K + k]) * W[n * K + k];
        c[m * N + n] = static_cast<float>(s);
      }
    if (act && with_mul) {
      kernels::gated_activate(*act, c.data(), mul.data(), M * N);
    } else if (act) {
      kernels::activate(*act, c.data(), M * N);
    }
    return c;
  }
};

TEST(Gemm, FusedEpiloguesMatchTheReferenceKernels) {
  Problem p(7);
  Gemm gemm;
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu})
    for (bool with_mul : {false, true}) {
      std::vector<float> c(p.M * p.N);
      gemm.run(p.M, p.N, p.K, p.A.data(), p.K, p.W.data(), true, p.bias.data(), c.data(), p.N,
               {act, with_mul ? p.mul.data() : nullptr});
      const auto want = p.reference(act, with_mul);
      for (size_t i = 0; i < c.size(); ++i)
        ASSERT_NEAR(c[i], want[i], 2e-6 * (1 + std::fabs(want[i])))
            << to_string(act) << (with_mul ? " * mul" : "") << " at " << i;
    }
}

TEST(Gemm, StoredInOutAndStridedOutput) {
  Problem p(11);
  // W stored [K, N] (GPT-2's Conv1D) and C written into a wider buffer.
  std::vector<float> w_kn(p.K * p.N);
  for (int64_t n = 0; n < p.N; ++n)
    for (int64_t k = 0; k < p.K; ++k) w_kn[k * p.N + n] = p.W[n * p.K + k];
  const int64_t ldc = p.N + 5;
  std::vector<float> c(p.M * ldc, -7.0f);
  Gemm gemm;
  gemm.run(p.M, p.N, p.K, p.A.data(), p.K, w_kn.data(), false, p.bias.data(), c.data(), ldc);
  const auto want = p.reference(std::nullopt, false);
  for (int64_t m = 0; m < p.M; ++m) {
    for (int64_t n = 0; n < p.N; ++n) ASSERT_NEAR(c[m * ldc + n], want[m * p.N + n], 2e-6 * (1 + std::fabs(want[m * p.N + n])));
    for (int64_t n = p.N; n < ldc; ++n) ASSERT_EQ(c[m * ldc + n], -7.0f) << "wrote outside its columns";
  }
}

}  // namespace
}  // namespace sg
