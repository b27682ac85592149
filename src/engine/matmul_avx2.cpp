// The matrix-product kernels for AVX2 + FMA (x86-64-v3, the baseline): 8 float
// lanes, tiles of 6 rows x 16 lanes (12 accumulators of 16 registers).
#include <immintrin.h>

#include "engine/matmul_kernels.h"

namespace sg::matmul::detail {

namespace {
struct Avx2 {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static constexpr int kRows = 6;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
};
}  // namespace

void f32_avx2(const Problem& p) { run<Avx2, false>(p); }

void bf16_avx2(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
               float* y, int64_t ldy) {
  run_bf16_emulated<Avx2>(M, N, K, x, ldx, w, bias, y, ldy);
}

}  // namespace sg::matmul::detail
