// The matrix-product kernels for AVX-512 (F, BW, VL, DQ): 16 float lanes, tiles
// of 6 rows x 64 lanes or 12 rows x 32 (24 accumulators of 32 registers); with
// AVX512-BF16 the --fast products run on vdpbf16ps in the same tiles. Compiled
// with those instruction sets enabled and only ever called on CPUs that have
// them (matmul.cpp).
#include <immintrin.h>

#include "engine/matmul_kernels.h"

namespace sg::matmul::detail {

namespace {
struct Avx512 {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  // The first n (< 16) lanes; loads give zero past them.
  static Vec load_first(const float* p, int n) {
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
  }
  static void store_first(float* p, Vec v, int n) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), v);
  }
  // r[i][j] <- r[j][i], 16 x 16. (The zero-masked forms with every lane
  // selected are the plain instructions; GCC 12 warns about the plain
  // intrinsics' undefined pass-through operand.)
  static void transpose(Vec r[16]) {
    constexpr __mmask16 all = 0xffff;
    constexpr __mmask8 all_pd = 0xff;
    auto lo_pd = [](__m512 a, __m512 b) {
      return _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(all_pd, _mm512_castps_pd(a), _mm512_castps_pd(b)));
    };
    auto hi_pd = [](__m512 a, __m512 b) {
      return _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(all_pd, _mm512_castps_pd(a), _mm512_castps_pd(b)));
    };
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_maskz_unpacklo_ps(all, r[i], r[i + 1]);  // per 128-bit lane: r[i][0] r[i+1][0] r[i][1] r[i+1][1]
      t[i + 1] = _mm512_maskz_unpackhi_ps(all, r[i], r[i + 1]);  // elements 2, 3
    }
    for (int i = 0; i < 16; i += 4) {  // per lane l: element 4l + e of rows i..i+3 in r[i + e]
      r[i] = lo_pd(t[i], t[i + 2]);
      r[i + 1] = hi_pd(t[i], t[i + 2]);
      r[i + 2] = lo_pd(t[i + 1], t[i + 3]);
      r[i + 3] = hi_pd(t[i + 1], t[i + 3]);
    }
    for (int e = 0; e < 4; ++e) {  // the 128-bit lanes gathered across the four row groups
      const __m512 a = _mm512_maskz_shuffle_f32x4(all, r[e], r[4 + e], 0x88),
                   b = _mm512_maskz_shuffle_f32x4(all, r[e], r[4 + e], 0xdd);
      const __m512 c = _mm512_maskz_shuffle_f32x4(all, r[8 + e], r[12 + e], 0x88),
                   d = _mm512_maskz_shuffle_f32x4(all, r[8 + e], r[12 + e], 0xdd);
      t[e] = _mm512_maskz_shuffle_f32x4(all, a, c, 0x88);
      t[8 + e] = _mm512_maskz_shuffle_f32x4(all, a, c, 0xdd);
      t[4 + e] = _mm512_maskz_shuffle_f32x4(all, b, d, 0x88);
      t[12 + e] = _mm512_maskz_shuffle_f32x4(all, b, d, 0xdd);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
};

// The tile shapes, for float32 (Kernels::tile) and vdpbf16ps (Bf16Native) alike.
// Wide, 6 rows x 4 vectors (64 lanes): one broadcast per 4 FMAs, half as many
// as 12 x 2 (measured on Zen 4 at M = 128: 0.90-1.03 of oneDNN's rate, against
// 0.68-0.94 for 12 x 2). Narrow, 12 rows x 2 vectors (32 lanes): where tokens
// run in lanes (weights [N, K]) and a 64-lane panel would be mostly zeros
// (M <= 32, or just past a multiple of 64). The shape changes which outputs
// share registers, never an output's order of summation, so never a bit of it.
struct Avx512Wide : Avx512 {
  static constexpr int kRows = 6, kCols = 4;
};
struct Avx512Narrow : Avx512 {
  static constexpr int kRows = 12, kCols = 2;
};
// f(shape) with the tile shape for M tokens against weights w: narrow only
// where tokens run in lanes (weights [N, K]), counting its lower rate
// (measured: M = 16, 1.2-1.5x faster than wide; M = 80, about even; M = 128,
// 0.75-0.95x).
template <class F>
void with_tile_shape(int64_t M, const Weights& w, F&& f) {
  auto padded = [&](int64_t lanes) { return (M + lanes - 1) / lanes * lanes; };
  if (!w.kn && padded(32) * 6 < padded(64) * 5)
    f(Avx512Narrow{});
  else
    f(Avx512Wide{});
}
template <bool kPairs>
void run_f32(const Problem& p) {
  with_tile_shape(p.M, p.w, [&](auto shape) { run<decltype(shape), kPairs>(p); });
}

constexpr int64_t kDepthPairs = kDepth / 2;

inline uint32_t load_pair(const uint16_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The --fast products on vdpbf16ps, in tiles of kRows rows x kCols vectors of
// 16 float lanes (the shapes above).
template <class Shape>
struct Bf16Native {
  static constexpr int kRows = Shape::kRows, kCols = Shape::kCols;
  static constexpr int kPanel = Kernels<Shape>::kPanel;  // tokens (or features) per tile

  // out[i][j] = the vdpbf16ps chain over pairs q < Kh of rows[i * lds + 2q, +1]
  // against panel[(q * kPanel + j) * 2, +1] (BF16 pairs, element 2q first in memory).
  // With carry, the chains continue from out's values (see Kernels::tile).
  static void tile(int64_t Kh, const uint16_t* rows, int64_t lds, const uint16_t* panel, float* out, bool carry) {
    __m512 acc[kRows][kCols];
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c)
        acc[i][c] = carry ? _mm512_loadu_ps(out + i * kPanel + 16 * c) : _mm512_setzero_ps();
    for (int64_t q = 0; q < Kh; ++q) {
      __m512bh b[kCols];
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) b[c] = (__m512bh)_mm512_loadu_si512(panel + q * 2 * kPanel + 32 * c);
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        const __m512bh a = (__m512bh)_mm512_set1_epi32(static_cast<int>(load_pair(rows + i * lds + 2 * q)));
#pragma GCC unroll 4
        for (int c = 0; c < kCols; ++c) acc[i][c] = _mm512_dpbf16_ps(acc[i][c], a, b[c]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) _mm512_storeu_ps(out + i * kPanel + 16 * c, acc[i][c]);
  }

  // Rows r0..r0+nr of a BF16 matrix [rows, K] (row stride ld) as kRows rows of Kp
  // (even) values, zero-padded, in buf; returns buf.
  static const uint16_t* padded_rows(const uint16_t* src, int64_t ld, int64_t nr, int64_t K, int64_t Kp,
                                     std::vector<uint16_t>& buf) {
    uint16_t* r = scratch(buf, static_cast<size_t>(kRows * Kp));
    for (int64_t i = 0; i < kRows; ++i) {
      uint16_t* d = r + i * Kp;
      if (i < nr) std::memcpy(d, src + i * ld, sizeof(uint16_t) * K);
      std::fill(d + (i < nr ? K : 0), d + Kp, uint16_t{0});
    }
    return r;
  }

  // out is [kRows][kPanel]: y[i][j] = out[i][j] + bias[j].
  static void write_tile(const float* out, int64_t rows, int64_t cols, const float* bias, float* y, int64_t ldy) {
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) y[i * ldy + j] = bias ? out[i * kPanel + j] + bias[j] : out[i * kPanel + j];
  }

  static void run(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                  float* y, int64_t ldy) {
    if (M == 0 || N == 0) return;
    const auto* W = static_cast<const uint16_t*>(w.data);
    const int64_t Kp = (K + 1) / 2 * 2, Kh = Kp / 2;
    if (!w.kn) {
      // Tokens in lanes: x packed as [panel][pair][token][2].
      const int64_t n_panels = (M + kPanel - 1) / kPanel;
      static thread_local std::vector<uint16_t> packed;
      uint16_t* xt = scratch(packed, static_cast<size_t>(n_panels * Kp * kPanel));
      const int64_t n_blocks = (N + kRows - 1) / kRows;
#pragma omp parallel if (parallel_worth(M, N, K))
      {
        // One token row at a time: contiguous reads, pairs written kPanel apart.
#pragma omp for schedule(static) collapse(2)
        for (int64_t mp = 0; mp < n_panels; ++mp)
          for (int64_t j = 0; j < kPanel; ++j) {
            uint16_t* dst = xt + mp * Kp * kPanel + 2 * j;
            const int64_t m = mp * kPanel + j;
            if (m >= M) {
              for (int64_t q = 0; q < Kh; ++q) dst[q * 2 * kPanel] = dst[q * 2 * kPanel + 1] = 0;
              continue;
            }
            const uint16_t* src = x + m * ldx;
            for (int64_t q = 0; q < Kh; ++q) {
              dst[q * 2 * kPanel] = src[2 * q];
              dst[q * 2 * kPanel + 1] = 2 * q + 1 < K ? src[2 * q + 1] : uint16_t{0};
            }
          }
        static thread_local std::vector<uint16_t> rows_buf;
        // As run_nk: weight blocks in groups, the depth outside the blocks.
        static thread_local std::vector<float> out_buf;
        const int64_t group = group_size(n_blocks, omp_get_num_threads());
        float* outs = scratch(out_buf, static_cast<size_t>(group * n_panels * kRows * kPanel));
        const int64_t n_groups = (n_blocks + group - 1) / group;
#pragma omp for schedule(static)
        for (int64_t g = 0; g < n_groups; ++g) {
          const int64_t nb0 = g * group, nb1 = std::min(nb0 + group, n_blocks);
          for (int64_t q0 = 0; q0 < Kh; q0 += kDepthPairs) {
            const int64_t qc = std::min(kDepthPairs, Kh - q0);
            for (int64_t nb = nb0; nb < nb1; ++nb) {
              const int64_t n0 = nb * kRows, nr = std::min<int64_t>(kRows, N - n0);
              const bool in_place = nr == kRows && Kp == K;
              const uint16_t* rows =
                  in_place ? W + n0 * K + 2 * q0
                           : padded_rows(W + n0 * K + 2 * q0, K, nr, std::min(2 * qc, K - 2 * q0), 2 * qc, rows_buf);
              float* tiles = outs + (nb - nb0) * n_panels * kRows * kPanel;
              for (int64_t mp = 0; mp < n_panels; ++mp)
                tile(qc, rows, in_place ? K : 2 * qc, xt + mp * Kp * kPanel + q0 * 2 * kPanel,
                     tiles + mp * kRows * kPanel, q0 > 0);
            }
          }
          write_group<Shape>(outs, nb0, nb1, n_panels, M, N, bias, y, ldy);
        }
      }
      return;
    }
    // Features in lanes: weight columns packed as [pair][feature][2] per panel.
    const int64_t n_panels = (N + kPanel - 1) / kPanel;
#pragma omp parallel if (parallel_worth(M, N, K))
    {
      static thread_local std::vector<uint16_t> panel_buf, rows_buf;
      alignas(64) float out[kRows * kPanel];
      uint16_t* panel = scratch(panel_buf, static_cast<size_t>(Kp * kPanel));
#pragma omp for schedule(static)
      for (int64_t np = 0; np < n_panels; ++np) {
        const int64_t n0 = np * kPanel, nc = std::min<int64_t>(kPanel, N - n0);
        for (int64_t q = 0; q < Kh; ++q)
          for (int64_t j = 0; j < kPanel; ++j)
            for (int e = 0; e < 2; ++e) {
              const int64_t k = 2 * q + e;
              panel[(q * kPanel + j) * 2 + e] = j < nc && k < K ? W[k * N + n0 + j] : uint16_t{0};
            }
        for (int64_t m0 = 0; m0 < M; m0 += kRows) {
          const int64_t mr = std::min<int64_t>(kRows, M - m0);
          const bool in_place = mr == kRows && Kp == K;
          const uint16_t* rows = in_place ? x + m0 * ldx : padded_rows(x + m0 * ldx, ldx, mr, K, Kp, rows_buf);
          for (int64_t q0 = 0; q0 < Kh; q0 += kDepthPairs)
            tile(std::min(kDepthPairs, Kh - q0), rows + 2 * q0, in_place ? ldx : Kp, panel + q0 * 2 * kPanel, out,
                 q0 > 0);
          write_tile(out, mr, nc, bias ? bias + n0 : nullptr, y + m0 * ldy + n0, ldy);
        }
      }
    }
  }
};

}  // namespace

void f32_avx512(const Problem& p) { run_f32<false>(p); }

void bf16_avx512(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                 float* y, int64_t ldy) {
  run_f32<true>(bf16_widened(M, N, K, x, ldx, w, bias, y, ldy));
}

void bf16_avx512bf16(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                     float* y, int64_t ldy) {
  with_tile_shape(M, w, [&](auto shape) { Bf16Native<decltype(shape)>::run(M, N, K, x, ldx, w, bias, y, ldy); });
}

}  // namespace sg::matmul::detail
