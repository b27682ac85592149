// The row kernels on AVX-512: 8-wide float64 registers, the same lanes and the
// same bits as the AVX2 ones (row_kernels.h). Called only on CPUs that have it.
#include <type_traits>

#include "engine/row_kernels_impl.h"

namespace sg::rowk::detail {

namespace {
// (The zero-masked forms with every lane selected are the plain instructions;
// GCC 12 warns about the plain intrinsics' undefined pass-through operand.)
inline __m512d cvt(__m256 v) { return _mm512_maskz_cvtps_pd(0xff, v); }

struct Avx512 {
  using D = __m512d;
  static constexpr int kW = 8;
  static constexpr int kDotRows = 4;  // 4 rows x 4 registers of lanes, of 32 registers
  static D zero() { return _mm512_setzero_pd(); }
  static D splat(double t) { return _mm512_set1_pd(t); }
  static D loadd(const double* p) { return _mm512_loadu_pd(p); }
  static void stored(double* p, D v) { _mm512_storeu_pd(p, v); }
  static D fma(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
  template <class S>
  static D load(const std::byte* p, int64_t c) {
    if constexpr (std::is_same_v<S, Bf16>) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * c));
      return cvt(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)));
    } else if constexpr (std::is_same_v<S, F16>) {
      return cvt(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * c))));
    } else {
      return cvt(_mm256_loadu_ps(reinterpret_cast<const float*>(p + 4 * c)));
    }
  }
  // The AVX2 tree on the same lanes: register i holds AVX2's s[2i] (low half)
  // and s[2i + 1] (high half), so (S0 + S2) + (S1 + S3) is
  // [((s0+s4)+(s2+s6)) | ((s1+s5)+(s3+s7))], whose halves AVX2 adds next.
  static double reduce(const D* s) {
    const D u = _mm512_add_pd(_mm512_add_pd(s[0], s[2]), _mm512_add_pd(s[1], s[3]));
    double v[8];
    _mm512_storeu_pd(v, u);
    for (int i = 0; i < 4; ++i) v[i] += v[4 + i];
    return (v[0] + v[2]) + (v[1] + v[3]);
  }
};
}  // namespace

const Table& avx512_kernels() { return Kernels<Avx512>::table; }

}  // namespace sg::rowk::detail
