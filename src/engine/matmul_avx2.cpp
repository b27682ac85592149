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
  static constexpr int kCols = 2;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  // The first n (< 8) lanes; loads give zero past them.
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_first(const float* p, int n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_first(float* p, Vec v, int n) { _mm256_maskstore_ps(p, first(n), v); }
  // r[i][j] <- r[j][i], 8 x 8.
  static void transpose(Vec r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {  // per 128-bit lane l: element 4l + e of rows i..i+3 in u[i + e]
      u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
      u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
      u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int e = 0; e < 4; ++e) {
      r[e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x20);
      r[4 + e] = _mm256_permute2f128_ps(u[e], u[4 + e], 0x31);
    }
  }
};
}  // namespace

void f32_avx2(const Problem& p) { run<Avx2, false>(p); }

void bf16_avx2(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias, float* y,
               int64_t ldy) {
  run<Avx2, true>(bf16_widened(M, N, K, x, ldx, w, bias, y, ldy));
}

}  // namespace sg::matmul::detail
