// The matrix-product path (oneDNN, with fused activations) against a plain
// reference: double-precision loops and the scalar activation kernels.
#include "engine/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "engine/kernels.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/model.h"
#include "support/test_support.h"

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

// The product the other way round (weights as oneDNN's source operand), which
// LinearRunner uses for float32 [out, in] weights: Ct = W A^T.
TEST(Gemm, TransposedProductMatchesTheReference) {
  Problem p(9);
  const int64_t lda = p.K + 3;  // A read from a wider buffer
  std::vector<float> a(p.M * lda, 99.0f);
  for (int64_t m = 0; m < p.M; ++m) std::copy_n(p.A.data() + m * p.K, p.K, a.data() + m * lda);
  std::fill(p.bias.begin(), p.bias.end(), 0.0f);
  Gemm gemm;
  std::vector<float> ct(p.N * p.M);
  gemm.run_transposed(p.M, p.N, p.K, a.data(), lda, p.W.data(), ct.data());
  const auto want = p.reference(std::nullopt, false);
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t n = 0; n < p.N; ++n)
      ASSERT_NEAR(ct[n * p.M + m], want[m * p.N + n], 2e-6 * (1 + std::fabs(want[m * p.N + n]))) << m << "," << n;
}

// The activation as its own pass (LinearRunner's float32 [out, in] route: the
// product transposed into rows with its bias, then the activation).
TEST(Gemm, ActivationPassMatchesTheReferenceKernels) {
  Problem p(13);
  Gemm gemm;
  const int64_t ldc = p.N + 3;
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu}) {
    std::vector<float> c(p.M * ldc, -7.0f);
    gemm.run(p.M, p.N, p.K, p.A.data(), p.K, p.W.data(), true, p.bias.data(), c.data(), ldc);
    gemm.activate(act, c.data(), p.M, p.N, ldc);
    const auto want = p.reference(act, false);
    for (int64_t m = 0; m < p.M; ++m) {
      for (int64_t n = 0; n < p.N; ++n)
        ASSERT_NEAR(c[m * ldc + n], want[m * p.N + n], 2e-6 * (1 + std::fabs(want[m * p.N + n])))
            << to_string(act) << " at " << m << "," << n;
      for (int64_t n = p.N; n < ldc; ++n) ASSERT_EQ(c[m * ldc + n], -7.0f) << "wrote outside its columns";
    }
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

// A golden model with every tensor rounded to BF16, so --fast multiplies it in BF16.
std::filesystem::path bf16_copy(const std::string& golden_model) {
  const auto dir = test::copy_model(test::shared_dir() / "golden/models" / golden_model, golden_model + "_bf16_mlp");
  SafetensorsWriter out;
  {
    SafetensorsFile in(dir / "model.safetensors");
    for (const TensorView& t : in.tensors()) {
      std::vector<float> f(t.numel());
      to_f32(t.dtype, t.data, f.data(), f.size());
      std::vector<uint16_t> b(f.size());
      for (size_t i = 0; i < f.size(); ++i) b[i] = f32_to_bf16(f[i]);
      out.add(t.name, DType::BF16, t.shape, b.data(), b.size() * 2);
    }
  }
  out.write(dir / "model.safetensors");
  return dir;
}

// With BF16 products the MLP hands its hidden activations to the down
// projection in BF16 straight from the first product: the result must equal,
// bit for bit, the same products applied one by one (which round the float32
// hidden activations to BF16 before the second product).
TEST(LinearRunner, Bf16MlpEqualsItsProductsOneByOne) {
  for (const std::string name : {"neox_parallel", "llama"}) {
    auto model = Model::load(bf16_copy(name));
    const ArchSpec& a = model->arch();
    const LayerWeights& L = model->weights().layers[0];
    const int64_t M = 7, d = a.d_model, m = a.d_mlp;
    std::mt19937 rng(5);
    std::normal_distribution<float> g(0.0f, 1.0f);
    std::vector<float> x(M * d), y(M * d), want(M * d), up(M * m), hidden(M * m);
    for (auto& v : x) v = g(rng);

    LinearRunner fast(*model, MatmulPrecision::BF16);
    fast.mlp(L.up, a.gated_mlp ? &L.gate : nullptr, a.activation, L.down, x.data(), M, y.data());
    LinearRunner one_by_one(*model, MatmulPrecision::BF16);
    if (a.gated_mlp) {
      one_by_one.apply(L.up, x.data(), M, up.data());
      one_by_one.apply(L.gate, x.data(), M, hidden.data(), {a.activation, up.data()});
    } else {
      one_by_one.apply(L.up, x.data(), M, hidden.data(), {a.activation, nullptr});
    }
    one_by_one.apply(L.down, hidden.data(), M, want.data());
    for (int64_t i = 0; i < M * d; ++i) ASSERT_EQ(y[i], want[i]) << name << " element " << i;

    LinearRunner exact(*model, MatmulPrecision::F32);  // and the float32 path is really another one
    exact.mlp(L.up, a.gated_mlp ? &L.gate : nullptr, a.activation, L.down, x.data(), M, want.data());
    EXPECT_NE(y, want) << name;
  }
}

}  // namespace
}  // namespace sg
