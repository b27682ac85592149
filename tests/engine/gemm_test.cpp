// The matrix products (engine/matmul.h) against the scalar definition of their
// order of summation, bit for bit, on every kernel family the CPU has; and
// LinearRunner's epilogue against the activation kernels.
#include "engine/gemm.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <bit>
#include <cmath>
#include <random>
#include <tuple>

#include "engine/kernels.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "model/model.h"
#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

// The scalar definition of matmul.h's exact path: one FMA per k, k ascending, then the bias.
float chain(const float* x, const float* w, int64_t K, int64_t w_step, const float* bias) {
  float acc = 0.0f;
  for (int64_t k = 0; k < K; ++k) acc = std::fma(x[k], w[k * w_step], acc);
  return bias ? acc + *bias : acc;
}
// ... and of the BF16 path: pairs, odd element first, each addition rounded.
float pair_chain(const float* x, const float* w, int64_t K, int64_t w_step, const float* bias) {
  float acc = 0.0f;
  for (int64_t k = 0; k < K; k += 2) {
    if (k + 1 < K)
      acc = std::fma(x[k + 1], w[(k + 1) * w_step], acc);
    else
      acc = std::fma(0.0f, 0.0f, acc);
    acc = std::fma(x[k], w[k * w_step], acc);
  }
  return bias ? acc + *bias : acc;
}

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = g(rng);
  return v;
}

// Stored weights of one dtype (the values already representable in it).
struct StoredWeights {
  DType dtype;
  std::vector<float> f32;      // the values, widened
  std::vector<uint16_t> bits;  // 16-bit storage
  const void* data() const { return dtype == DType::F32 ? static_cast<const void*>(f32.data()) : bits.data(); }
};
StoredWeights store(DType dtype, std::vector<float> v) {
  StoredWeights s{dtype, std::move(v), {}};
  if (dtype == DType::F32) return s;
  s.bits.resize(s.f32.size());
  for (size_t i = 0; i < s.f32.size(); ++i) {
    s.bits[i] = dtype == DType::BF16 ? f32_to_bf16(s.f32[i]) : f32_to_f16(s.f32[i]);
    s.f32[i] = dtype == DType::BF16 ? bf16_to_f32(s.bits[i]) : f16_to_f32(s.bits[i]);
  }
  return s;
}

std::vector<matmul::Isa> isas() {
  std::vector<matmul::Isa> out;
  for (auto i : {matmul::Isa::Avx2, matmul::Isa::Avx512, matmul::Isa::Avx512Bf16})
    if (matmul::supported(i)) out.push_back(i);
  return out;
}

// Restores the process's kernel choice and thread count when a test ends.
struct IsaGuard {
  matmul::Isa saved = matmul::active_isa();
  int threads = omp_get_max_threads();
  ~IsaGuard() {
    matmul::set_isa(saved);
    omp_set_num_threads(threads);
  }
};

// Every output equals the scalar chain bit for bit, on every kernel family this
// CPU has, for both weight layouts, every weight dtype, tails in every
// dimension, strided input and output, and 1-3 threads; nothing is written
// outside the output's columns. The shapes take both AVX-512 tile shapes (M = 130:
// the wide one over three token panels, its output blocks of 6 features written
// 16 at a time across blocks, and two depth blocks).
TEST(Matmul, EveryOutputIsTheExactChainOnEveryIsa) {
  IsaGuard guard;
  int checked = 0;
  for (matmul::Isa isa : isas()) {
    matmul::set_isa(isa);
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                             {5, 13, 7},
                             {13, 37, 29},
                             {33, 70, 64},
                             {40, 25, 130},
                             {70, 33, 3},
                             {9, 30, 600},
                             {130, 100, 300}})
        for (bool kn : {false, true})
          for (DType dt : {DType::F32, DType::BF16, DType::F16})
            for (bool with_bias : {false, true}) {
              const int64_t ldx = K + 3, ldy = N + 5;
              const auto x = randn(static_cast<size_t>(M * ldx), 1);
              const StoredWeights w = store(dt, randn(static_cast<size_t>(N * K), 2, 0.3f));  // [N,K] or [K,N]
              const auto bias = randn(static_cast<size_t>(N), 3, 0.1f);
              std::vector<float> y(static_cast<size_t>(M * ldy), -7.0f);
              matmul::matmul_f32(M, N, K, x.data(), ldx, {w.data(), dt, kn}, with_bias ? bias.data() : nullptr,
                                 y.data(), ldy);
              for (int64_t m = 0; m < M; ++m) {
                for (int64_t n = 0; n < N; ++n) {
                  const float want = kn ? chain(&x[m * ldx], &w.f32[n], K, N, with_bias ? &bias[n] : nullptr)
                                        : chain(&x[m * ldx], &w.f32[n * K], K, 1, with_bias ? &bias[n] : nullptr);
                  ASSERT_EQ(std::bit_cast<uint32_t>(y[m * ldy + n]), std::bit_cast<uint32_t>(want))
                      << matmul::to_string(isa) << " threads " << threads << " M" << M << " N" << N << " K" << K
                      << (kn ? " [K,N] " : " [N,K] ") << dtype_name(dt) << " at " << m << "," << n;
                }
                for (int64_t n = N; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], -7.0f) << "wrote outside its columns";
              }
              ++checked;
            }
    }
  }
  EXPECT_GT(checked, 0);
}

// The BF16 path is the pair-order chain on every kernel family (natively on
// AVX512-BF16, emulated elsewhere): the same bits for normal numbers.
TEST(Matmul, Bf16ProductsAreThePairChainOnEveryIsa) {
  IsaGuard guard;
  for (matmul::Isa isa : isas()) {
    matmul::set_isa(isa);
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1},
                           {5, 13, 7},
                           {33, 70, 64},
                           {40, 25, 131},
                           {9, 30, 601},
                           {130, 100, 300}})
      for (bool kn : {false, true}) {
        const int64_t ldx = K + 2;
        const StoredWeights xs = store(DType::BF16, randn(static_cast<size_t>(M * ldx), 4));
        const StoredWeights w = store(DType::BF16, randn(static_cast<size_t>(N * K), 5, 0.3f));
        const auto bias = randn(static_cast<size_t>(N), 6, 0.1f);
        std::vector<float> y(static_cast<size_t>(M * N));
        matmul::matmul_bf16(M, N, K, xs.bits.data(), ldx, {w.data(), DType::BF16, kn}, bias.data(), y.data(), N);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) {
            const float want = kn ? pair_chain(&xs.f32[m * ldx], &w.f32[n], K, N, &bias[n])
                                  : pair_chain(&xs.f32[m * ldx], &w.f32[n * K], K, 1, &bias[n]);
            ASSERT_EQ(std::bit_cast<uint32_t>(y[m * N + n]), std::bit_cast<uint32_t>(want))
                << matmul::to_string(isa) << " M" << M << " N" << N << " K" << K << (kn ? " [K,N]" : " [N,K]") << " at "
                << m << "," << n;
          }
      }
  }
}

TEST(Matmul, UnsupportedIsaIsRefusedByName) {
  IsaGuard guard;
  for (auto i : {matmul::Isa::Avx512, matmul::Isa::Avx512Bf16})
    if (!matmul::supported(i)) {
      try {
        matmul::set_isa(i);
        FAIL() << "accepted " << matmul::to_string(i);
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(matmul::to_string(i)), std::string::npos) << e.what();
      }
    }
}

// LinearRunner's epilogue: act(x W^T + bias) (* mul) is the activation kernel
// applied to the product, element by element, with strided output.
TEST(LinearRunner, EpilogueIsTheActivationKernelAfterTheProduct) {
  auto model = Model::load(test::shared_dir() / "golden/models/neox_parallel");
  const Linear& L = model->weights().layers[0].up;
  const int64_t M = 9, ldy = L.out + 3;
  const auto x = randn(static_cast<size_t>(M * L.in), 8);
  const auto mul = randn(static_cast<size_t>(M * ldy), 9);
  LinearRunner runner(*model);
  std::vector<float> plain(static_cast<size_t>(M * ldy), -7.0f);
  runner.apply(L, x.data(), M, L.in, plain.data(), ldy);
  for (Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu, Activation::Relu})
    for (bool with_mul : {false, true}) {
      std::vector<float> y(static_cast<size_t>(M * ldy), -7.0f);
      runner.apply(L, x.data(), M, L.in, y.data(), ldy, {act, with_mul ? mul.data() : nullptr});
      for (int64_t m = 0; m < M; ++m) {
        std::vector<float> want(plain.begin() + m * ldy, plain.begin() + m * ldy + L.out);
        if (with_mul)
          kernels::gated_activate(act, want.data(), mul.data() + m * ldy, L.out);
        else
          kernels::activate(act, want.data(), L.out);
        for (int64_t n = 0; n < L.out; ++n)
          ASSERT_EQ(std::bit_cast<uint32_t>(y[m * ldy + n]), std::bit_cast<uint32_t>(want[n]))
              << to_string(act) << " at " << m << "," << n;
        for (int64_t n = L.out; n < ldy; ++n) ASSERT_EQ(y[m * ldy + n], -7.0f) << "wrote outside its columns";
      }
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

// With BF16 products (--fast) the MLP really multiplies in BF16: its result
// differs from the float32 path, by about what rounding the activations to 8
// significant bits does (~2^-8 relative), not more.
TEST(LinearRunner, Bf16MlpIsTheFloat32OneToBf16Precision) {
  for (const std::string name : {"neox_parallel", "llama"}) {
    auto model = Model::load(bf16_copy(name));
    const ArchSpec& a = model->arch();
    const LayerWeights& L = model->weights().layers[0];
    const int64_t M = 7, d = a.d_model;
    const auto x = randn(static_cast<size_t>(M * d), 5);
    std::vector<float> fast_y(M * d), exact_y(M * d);
    LinearRunner fast(*model, MatmulPrecision::BF16), exact(*model, MatmulPrecision::F32);
    fast.mlp(L.up, a.gated_mlp ? &L.gate : nullptr, a.activation, L.down, x.data(), M, fast_y.data());
    exact.mlp(L.up, a.gated_mlp ? &L.gate : nullptr, a.activation, L.down, x.data(), M, exact_y.data());
    EXPECT_NE(fast_y, exact_y) << name << ": --fast did not take the BF16 path";
    double max_ref = 0, max_diff = 0;
    for (int64_t i = 0; i < M * d; ++i) {
      max_ref = std::max(max_ref, std::fabs(static_cast<double>(exact_y[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(fast_y[i]) - exact_y[i]));
    }
    EXPECT_LE(max_diff, 0.02 * max_ref) << name;
  }
}

}  // namespace
}  // namespace sg
