#pragma once
// The blocked matrix-product drivers, written once over a vector type V and
// compiled once per instruction set (matmul_avx2.cpp, matmul_avx512.cpp): the
// only code that differs between them is V's handful of intrinsics. Included by
// those files only. matmul.h states the order of summation every kernel keeps.
//
// A register tile holds V::kRows x kPanel outputs: kRows "broadcast" rows (one
// scalar per k, broadcast to all lanes) against a panel of kPanel = V::kCols
// vectors of lanes (contiguous per k). Per k, every accumulator takes exactly one FMA.
//   [N, K] weights: lanes over tokens (x packed transposed, panel [k][tokens]),
//                   broadcast rows = weight rows, read in place;
//   [K, N] weights: lanes over features (weight rows read in place as the
//                   panel), broadcast rows = token rows.
// Which operand takes which role changes neither product nor order: fma(a, b, c)
// = fma(b, a, c).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <vector>

#include "engine/matmul.h"

namespace sg::matmul::detail {

// The problem one driver call solves: y = x W^T + bias, x already in float32
// (for the emulated BF16 path: the BF16 activations widened exactly).
struct Problem {
  int64_t M, N, K;
  const float* x;
  int64_t ldx;
  Weights w;
  const float* bias;
  float* y;
  int64_t ldy;
};

// Everything below is compiled once per instruction set. Its inline functions
// live in a namespace named after the set the file is compiled for, so the
// linker can never hand an AVX-512 copy of one to the AVX2 path (inline
// functions of one name are merged across files, whichever copy it picks).
#if defined(__AVX512F__)
#define SG_MATMUL_ISA isa_avx512
#else
#define SG_MATMUL_ISA isa_avx2
#endif
inline namespace SG_MATMUL_ISA {

// Grows a thread's scratch buffer to at least n elements (never shrinks).
template <class T>
T* scratch(std::vector<T>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// n weights of type dt widened exactly to float32: BF16 is the upper half of a
// float, F16 goes through F16C (x86-64-v3 has it); both exact, so the widening
// never changes a product's bits, only its speed.
inline void widen(DType dt, const void* src, float* dst, int64_t n) {
  if (dt == DType::BF16) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = std::bit_cast<float>(static_cast<uint32_t>(s[i]) << 16);
    return;
  }
  if (dt == DType::F16) {
    const auto* s = static_cast<const uint16_t*>(src);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i))));
    for (; i < n; ++i) dst[i] = f16_to_f32(s[i]);
    return;
  }
  to_f32(dt, src, dst, static_cast<size_t>(n));
}

inline const std::byte* at(const void* base, DType dt, int64_t index) {
  return static_cast<const std::byte*>(base) + index * static_cast<int64_t>(dtype_size(dt));
}

// Whether a product is big enough to share between threads: below about a
// million multiply-adds, waking the other threads costs more than it saves
// (and on a busy machine a lot more). Which thread computes an output never
// changes its value, so this is a matter of speed only.
inline bool parallel_worth(int64_t M, int64_t N, int64_t K) { return M * N * K >= (int64_t{1} << 20); }

// The depth of one pass of a tile (even, for the pair order): a weight block of
// 6-12 rows x 256 floats (6-12 KiB) stays in L1, the panels of 256 x 32-64
// floats (32-64 KiB) in L2. (128 measured no faster on Zen 4.)
constexpr int64_t kDepth = 256;
// Weight blocks per group: at most 16 blocks of 12 (or 6) rows. run_nk makes
// them smaller when that gives each thread several groups (dynamic schedule);
// group_size (bf16_native, static schedule) gives every thread as many groups.
constexpr int64_t kGroup = 16;
// The largest packed x (floats) each thread copies for itself (run_nk): 4 MiB.
constexpr size_t kPrivatePacked = size_t{1} << 20;
inline int64_t group_size(int64_t n_blocks, int64_t threads) {
  const int64_t rounds = (n_blocks + threads * kGroup - 1) / (threads * kGroup);
  return std::max<int64_t>(1, (n_blocks + threads * rounds - 1) / (threads * rounds));
}

template <class V>
struct Kernels {
  static constexpr int kRows = V::kRows, kCols = V::kCols;
  static constexpr int kPanel = kCols * V::kLanes;
  using Vec = typename V::Vec;

  // out[i][j] = sum over k (ascending, one FMA each) of rows[i * lds + k] * panel[k * ldp + j],
  // i < kRows, j < kPanel. In kPairs mode the steps go k = 1, 0, 3, 2, ... (K even),
  // vdpbf16ps's order. With carry, the chains continue from out's values: a
  // depth split into blocks this way gives the same bits as one pass (the
  // accumulators are float32 in registers and in out alike).
  template <bool kPairs>
  static void tile(int64_t K, const float* rows, int64_t lds, const float* panel, int64_t ldp, float* out, bool carry) {
    Vec acc[kRows][kCols];
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) acc[i][c] = carry ? V::load(out + i * kPanel + c * V::kLanes) : V::zero();
    auto step = [&](int64_t k) {
      Vec b[kCols];
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) b[c] = V::load(panel + k * ldp + c * V::kLanes);
      const float* r = rows + k;
#pragma GCC unroll 16
      for (int i = 0; i < kRows; ++i) {
        const Vec a = V::broadcast(r + i * lds);
#pragma GCC unroll 4
        for (int c = 0; c < kCols; ++c) acc[i][c] = V::fma(a, b[c], acc[i][c]);
      }
    };
    if constexpr (kPairs) {
      for (int64_t k = 0; k < K; k += 2) {
        step(k + 1);
        step(k);
      }
    } else {
      for (int64_t k = 0; k < K; ++k) step(k);
    }
#pragma GCC unroll 16
    for (int i = 0; i < kRows; ++i)
#pragma GCC unroll 4
      for (int c = 0; c < kCols; ++c) V::store(out + i * kPanel + c * V::kLanes, acc[i][c]);
  }
};

// Depth [k0, k1) of x transposed into panels xt [panel][k][P] (panel stride
// Kp * P), zero past M and K: square blocks of V::kLanes tokens x kLanes depths
// transposed in registers, the rest value by value. A copy: no arithmetic.
template <class V>
void pack_x(const Problem& p, int64_t Kp, int64_t k0, int64_t k1, float* xt) {
  constexpr int L = V::kLanes, P = Kernels<V>::kPanel;
  using Vec = typename V::Vec;
  const int64_t M = p.M, K = p.K, n_panels = (M + P - 1) / P;
  const int64_t kv = k0 + std::max<int64_t>(0, std::min(k1, K) - k0) / L * L;  // vector part: [k0, kv)
  for (int64_t mp = 0; mp < n_panels; ++mp) {
    float* dst = xt + mp * Kp * P;
    for (int64_t j0 = 0; j0 < P; j0 += L) {
      const int64_t m0 = mp * P + j0, mc = std::clamp<int64_t>(M - m0, 0, L);
      int64_t k = k0;
      if (mc == L)
        for (; k < kv; k += L) {
          Vec r[L];
          for (int t = 0; t < L; ++t) r[t] = V::load(p.x + (m0 + t) * p.ldx + k);
          V::transpose(r);
          for (int e = 0; e < L; ++e) V::store(dst + (k + e) * P + j0, r[e]);
        }
      for (int64_t j = 0; j < L; ++j) {  // the rest: past kv, or a partial token block
        if (j >= mc) {
          for (int64_t kk = k; kk < k1; ++kk) dst[kk * P + j0 + j] = 0.0f;
          continue;
        }
        const float* src = p.x + (m0 + j) * p.ldx;
        for (int64_t kk = k; kk < k1; ++kk) dst[kk * P + j0 + j] = kk < K ? src[kk] : 0.0f;
      }
    }
  }
}

// The outputs of nf (<= kLanes) features x mc (<= a panel) tokens, feature i's
// values in row(i)[0, mc), written to y[j][i] (row stride ldy), plus bias[i] if
// given: kLanes x kLanes blocks transposed in registers, each token's nf values
// one (masked) store. A copy and at most one addition per output.
template <class V, class Row>
void write_transposed(Row row, int64_t nf, int64_t mc, const float* bias, float* y, int64_t ldy) {
  constexpr int L = V::kLanes;
  using Vec = typename V::Vec;
  const int n = static_cast<int>(nf);
  const Vec b = bias ? V::load_first(bias, n) : V::zero();
  for (int64_t j0 = 0; j0 < mc; j0 += L) {
    Vec r[L];
    for (int i = 0; i < L; ++i) r[i] = i < n ? V::load(row(i) + j0) : V::zero();
    V::transpose(r);
    const int64_t jc = std::min<int64_t>(L, mc - j0);
    for (int64_t j = 0; j < jc; ++j) V::store_first(y + (j0 + j) * ldy, bias ? V::add(r[j], b) : r[j], n);
  }
}

// A group's tiles, outs [block][panel][R][P] for weight blocks [nb0, nb1) of a
// product with M tokens and N features, written to y (row stride ldy) plus
// bias: token panel by token panel, kLanes features at a time across the
// blocks (full registers whatever R), so each token row's outputs go out as one run.
template <class V>
void write_group(const float* outs, int64_t nb0, int64_t nb1, int64_t n_panels, int64_t M, int64_t N, const float* bias,
                 float* y, int64_t ldy) {
  constexpr int L = V::kLanes, R = V::kRows, P = Kernels<V>::kPanel;
  const int64_t f_begin = nb0 * R, f_end = std::min(nb1 * R, N);
  for (int64_t mp = 0; mp < n_panels; ++mp) {
    const int64_t m0 = mp * P;
    for (int64_t f0 = f_begin; f0 < f_end; f0 += L) {
      auto row = [&](int64_t i) {
        const int64_t f = f0 + i - f_begin;
        return outs + ((f / R) * n_panels + mp) * R * P + (f % R) * P;
      };
      write_transposed<V>(row, std::min<int64_t>(L, f_end - f0), std::min<int64_t>(P, M - m0),
                          bias ? bias + f0 : nullptr, y + m0 * ldy + f0, ldy);
    }
  }
}

// kPairs: the BF16 order (K is then padded to even with zeros).
template <class V, bool kPairs>
void run_nk(const Problem& p) {
  using Kn = Kernels<V>;
  constexpr int R = Kn::kRows, P = Kn::kPanel;
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t Kp = kPairs ? (K + 1) / 2 * 2 : K;  // padded depth
  const int64_t n_panels = (M + P - 1) / P;
  const bool in_place = p.w.dtype == DType::F32 && !kPairs;
  const int64_t n_blocks = (N + R - 1) / R;
  const size_t packed_size = static_cast<size_t>(n_panels * Kp * P);
  // x transposed into panels [panel][k][P]. Up to kPrivatePacked floats, each
  // thread packs its own copy, a depth block at a time as its first group
  // reaches it: no thread waits for another's packing, and a thread that starts
  // late (or is descheduled) leaves its groups to the others (dynamic schedule
  // below). Larger x (long batches) is packed once, shared, by all threads: a
  // barrier then costs little against the product, a copy per thread much memory.
  const bool shared_x = packed_size > kPrivatePacked;
  static thread_local std::vector<float> packed;
  float* const shared_xt = shared_x ? scratch(packed, packed_size) : nullptr;
#pragma omp parallel if (parallel_worth(M, N, K))
  {
    float* xt = shared_xt;
    int64_t packed_to = Kp;  // depth packed so far in xt
    if (shared_x) {
#pragma omp for schedule(static) collapse(2)
      for (int64_t mp = 0; mp < n_panels; ++mp)
        for (int64_t k0 = 0; k0 < Kp; k0 += kDepth) {
          Problem panel = p;  // the panel's tokens only
          panel.x = p.x + mp * P * p.ldx;
          panel.M = std::min<int64_t>(P, M - mp * P);
          pack_x<V>(panel, Kp, k0, std::min(k0 + kDepth, Kp), xt + mp * Kp * P);
        }
    } else {
      xt = scratch(packed, packed_size);
      packed_to = 0;
    }
    // Weight blocks of R rows in groups; per group, the depth runs in blocks of
    // kDepth outside the blocks: the activations' depth block (kDepth x M
    // floats) stays in L2 while the group's weights stream past once, and each
    // block's kDepth-wide rows stay in L1 across the token panels. Groups are
    // small enough (several per thread) for the dynamic schedule to balance.
    static thread_local std::vector<float> rows_buf, out_buf;
    const int64_t threads = omp_get_num_threads();
    const int64_t group = std::clamp<int64_t>((n_blocks + 6 * threads - 1) / (6 * threads), 1, kGroup);
    float* outs = scratch(out_buf, static_cast<size_t>(group * n_panels * R * P));  // the group's tiles
    float* widened = scratch(rows_buf, static_cast<size_t>(R * kDepth));
    const int64_t n_groups = (n_blocks + group - 1) / group;
#pragma omp for schedule(dynamic, 1)
    for (int64_t g = 0; g < n_groups; ++g) {
      const int64_t nb0 = g * group, nb1 = std::min(nb0 + group, n_blocks);
      for (int64_t k0 = 0; k0 < Kp; k0 += kDepth) {
        const int64_t kc = std::min(kDepth, Kp - k0);
        if (k0 >= packed_to) {
          pack_x<V>(p, Kp, k0, k0 + kc, xt);
          packed_to = k0 + kc;
        }
        for (int64_t nb = nb0; nb < nb1; ++nb) {
          const int64_t n0 = nb * R, nr = std::min<int64_t>(R, N - n0);
          const float* rows;
          int64_t lds;
          if (in_place && nr == R) {
            rows = static_cast<const float*>(p.w.data) + n0 * K + k0;
            lds = K;
          } else {  // the block's rows [k0, k0 + kc) widened, zero past N and K
            const int64_t kw = std::max<int64_t>(0, std::min(kc, K - k0));
            for (int64_t i = 0; i < R; ++i) {
              float* d = widened + i * kc;
              if (i < nr && kw > 0) widen(p.w.dtype, at(p.w.data, p.w.dtype, (n0 + i) * K + k0), d, kw);
              std::fill(d + (i < nr ? kw : 0), d + kc, 0.0f);
            }
            rows = widened;
            lds = kc;
          }
          float* tiles = outs + (nb - nb0) * n_panels * R * P;
          for (int64_t mp = 0; mp < n_panels; ++mp)
            Kn::template tile<kPairs>(kc, rows, lds, xt + mp * Kp * P + k0 * P, P, tiles + mp * R * P, k0 > 0);
        }
      }
      write_group<V>(outs, nb0, nb1, n_panels, M, N, p.bias, p.y, p.ldy);
    }
  }
}

template <class V, bool kPairs>
void run_kn(const Problem& p) {
  using Kn = Kernels<V>;
  constexpr int R = Kn::kRows, P = Kn::kPanel;
  const int64_t M = p.M, N = p.N, K = p.K;
  const int64_t Kp = kPairs ? (K + 1) / 2 * 2 : K;
  const int64_t n_panels = (N + P - 1) / P;
  const bool in_place = p.w.dtype == DType::F32 && !kPairs;
#pragma omp parallel if (parallel_worth(M, N, K))
  {
    static thread_local std::vector<float> panel_buf, rows_buf, out_buf;
    float* out = scratch(out_buf, static_cast<size_t>(R * P));
#pragma omp for schedule(static)
    for (int64_t np = 0; np < n_panels; ++np) {
      const int64_t n0 = np * P, nc = std::min<int64_t>(P, N - n0);
      const float* panel;
      int64_t ldp;
      if (in_place && nc == P) {
        panel = static_cast<const float*>(p.w.data) + n0;
        ldp = N;
      } else {  // the weight columns n0..n0+nc widened into [Kp][P], zero-padded
        float* b = scratch(panel_buf, static_cast<size_t>(Kp * P));
        for (int64_t k = 0; k < Kp; ++k) {
          float* d = b + k * P;
          if (k < K) widen(p.w.dtype, at(p.w.data, p.w.dtype, k * N + n0), d, nc);
          std::fill(d + (k < K ? nc : 0), d + P, 0.0f);
        }
        panel = b;
        ldp = P;
      }
      for (int64_t m0 = 0; m0 < M; m0 += R) {
        const int64_t mr = std::min<int64_t>(R, M - m0);
        const float* rows = p.x + m0 * p.ldx;
        int64_t lds = p.ldx;
        if (mr < R || Kp != K) {  // the last rows, padded with zero rows (and zero depth)
          float* r = scratch(rows_buf, static_cast<size_t>(R * Kp));
          for (int64_t i = 0; i < R; ++i) {
            float* d = r + i * Kp;
            if (i < mr) std::memcpy(d, p.x + (m0 + i) * p.ldx, sizeof(float) * K);
            std::fill(d + (i < mr ? K : 0), d + Kp, 0.0f);
          }
          rows = r;
          lds = Kp;
        }
        for (int64_t k0 = 0; k0 < Kp; k0 += kDepth)
          Kn::template tile<kPairs>(std::min(kDepth, Kp - k0), rows + k0, lds, panel + k0 * ldp, ldp, out, k0 > 0);
        for (int64_t i = 0; i < mr; ++i) {
          float* yr = p.y + (m0 + i) * p.ldy + n0;
          const float* o = out + i * P;
          if (p.bias)
            for (int64_t j = 0; j < nc; ++j) yr[j] = o[j] + p.bias[n0 + j];
          else
            for (int64_t j = 0; j < nc; ++j) yr[j] = o[j];
        }
      }
    }
  }
}

template <class V, bool kPairs>
void run(const Problem& p) {
  if (p.M == 0 || p.N == 0) return;
  if (p.w.kn)
    run_kn<V, kPairs>(p);
  else
    run_nk<V, kPairs>(p);
}

// The emulated BF16 path's problem: x widened exactly (into this thread's
// buffer, valid until its next call), for the pair-order float kernels.
inline Problem bf16_widened(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w,
                            const float* bias, float* y, int64_t ldy) {
  static thread_local std::vector<float> wide;
  float* xf = scratch(wide, static_cast<size_t>(M * K));
#pragma omp parallel for schedule(static) if (parallel_worth(M, N, K))
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) xf[m * K + k] = bf16_to_f32(x[m * ldx + k]);
  return {M, N, K, xf, K, w, bias, y, ldy};
}

}  // namespace SG_MATMUL_ISA
}  // namespace sg::matmul::detail
