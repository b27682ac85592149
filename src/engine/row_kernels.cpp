// The row kernels for AVX2 + FMA (every x86-64-v3 CPU) and the dispatch.
#include "engine/row_kernels.h"

#include <type_traits>

#include "engine/matmul.h"
#include "engine/row_kernels_impl.h"

namespace sg::rowk {

namespace detail {
#ifdef SG_HAVE_AVX512
const Table& avx512_kernels();
#endif

namespace {
struct Avx2 {
  using D = __m256d;
  static constexpr int kW = 4;
  static constexpr int kDotRows = 1;  // a row's 32 lanes take eight of the sixteen registers
  static D zero() { return _mm256_setzero_pd(); }
  static D splat(double t) { return _mm256_set1_pd(t); }
  static D loadd(const double* p) { return _mm256_loadu_pd(p); }
  static void stored(double* p, D v) { _mm256_storeu_pd(p, v); }
  static D fma(D a, D b, D c) { return _mm256_fmadd_pd(a, b, c); }
  // Four stored elements from element c, widened exactly.
  template <class S>
  static D load(const std::byte* p, int64_t c) {
    if constexpr (std::is_same_v<S, Bf16>) {
      const __m128i h = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 * c));
      return _mm256_cvtps_pd(_mm_castsi128_ps(_mm_slli_epi32(_mm_cvtepu16_epi32(h), 16)));
    } else if constexpr (std::is_same_v<S, F16>) {
      return _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 2 * c))));
    } else {
      return _mm256_cvtps_pd(_mm_loadu_ps(reinterpret_cast<const float*>(p + 4 * c)));
    }
  }
  // The fixed tree over the 32 lanes s0..s7 (lane l of the sum: s[l / 4][l % 4]).
  static double reduce(const D* s) {
    const D t = _mm256_add_pd(_mm256_add_pd(_mm256_add_pd(s[0], s[4]), _mm256_add_pd(s[2], s[6])),
                              _mm256_add_pd(_mm256_add_pd(s[1], s[5]), _mm256_add_pd(s[3], s[7])));
    double v[4];
    _mm256_storeu_pd(v, t);
    return (v[0] + v[2]) + (v[1] + v[3]);
  }
};
}  // namespace
}  // namespace detail

const Table& avx2_table() { return detail::Kernels<detail::Avx2>::table; }

const Table* avx512_table() {
#ifdef SG_HAVE_AVX512
  if (matmul::supported(matmul::Isa::Avx512)) return &detail::avx512_kernels();
#endif
  return nullptr;
}

namespace {
const Table& active() {
  if (matmul::active_isa() != matmul::Isa::Avx2)
    if (const Table* t = avx512_table()) return *t;
  return avx2_table();
}
}  // namespace

void dot(DType dt, const std::byte* const* rows, int count, const double* x, int64_t n, double* out) {
  active().dot(dt, rows, count, x, n, out);
}
double sum_squares(DType dt, const std::byte* row, int64_t n) { return active().sum_squares(dt, row, n); }
void axpy(DType dt, const std::byte* const* rows, const double* t, int count, double* y, int64_t n) {
  active().axpy(dt, rows, t, count, y, n);
}

}  // namespace sg::rowk
