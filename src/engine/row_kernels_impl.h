#pragma once
// The row kernels of row_kernels.h, written once over a vector type V (4 or 8
// float64 lanes) and compiled once per instruction set (row_kernels.cpp for
// AVX2, row_kernels_avx512.cpp). Included by those files only.
#include <immintrin.h>

#include <cmath>
#include <cstring>

#include "engine/row_kernels.h"

namespace sg::rowk::detail {

#if defined(__AVX512F__)
#define SG_ROWK_ISA isa_avx512
#else
#define SG_ROWK_ISA isa_avx2
#endif
inline namespace SG_ROWK_ISA {

// Stored element types: one element widened exactly to float (scalar tails).
struct Bf16 {
  static float one(const std::byte* p, int64_t c) { return bf16_to_f32(load_u16(p + 2 * c)); }
};
struct F16 {
  static float one(const std::byte* p, int64_t c) { return f16_to_f32(load_u16(p + 2 * c)); }
};
struct F32 {
  static float one(const std::byte* p, int64_t c) {
    float f;
    std::memcpy(&f, p + 4 * c, 4);
    return f;
  }
};

constexpr int kLanes = 32;  // the partial sums of a row sum

template <class V>
struct Kernels {
  using D = typename V::D;
  static constexpr int kW = V::kW, kRegs = kLanes / kW;

  // One block of kLanes elements from c: acc[k][lane] = fma(rows[k][c + lane],
  // x[c + lane], acc[k][lane]) (kSelf: the row element squared).
  template <class S, int R, bool kSelf>
  [[gnu::always_inline]] static void block(D (&acc)[R][kRegs], const std::byte* const* rows, const double* x,
                                           int64_t c) {
    for (int i = 0; i < kRegs; ++i) {
      const D xv = kSelf ? V::zero() : V::loadd(x + c + i * kW);
      for (int k = 0; k < R; ++k) {
        const D a = V::template load<S>(rows[k], c + i * kW);
        acc[k][i] = V::fma(a, kSelf ? a : xv, acc[k][i]);
      }
    }
  }

  // out[i] = sum over c of rows[i][c] * x[c] for i < R (kSelf: R = 1, x = the
  // row itself). Each row keeps its own 32 lanes; R rows share each load of x.
  template <class S, int R, bool kSelf>
  static void dot(const std::byte* const* rows, const double* x, int64_t n, double* out) {
    D acc[R][kRegs];
    for (auto& r : acc)
      for (auto& a : r) a = V::zero();
    int64_t c = 0;
    for (; c + kLanes <= n; c += kLanes) block<S, R, kSelf>(acc, rows, x, c);
    if (c < n) {  // the rest zero-padded to a whole block, as float32 values
      float tr[R][kLanes] = {};
      double tx[kLanes] = {};
      const std::byte* ts[R];
      for (int k = 0; k < R; ++k) {
        for (int64_t j = c; j < n; ++j) tr[k][j - c] = S::one(rows[k], j);
        ts[k] = reinterpret_cast<const std::byte*>(tr[k]);
      }
      if (!kSelf)
        for (int64_t j = c; j < n; ++j) tx[j - c] = x[j];
      block<F32, R, kSelf>(acc, ts, tx, 0);
    }
    for (int k = 0; k < R; ++k) out[k] = V::reduce(acc[k]);
  }

  // y[c] = fma(t[R-1], rows[R-1][c], ... fma(t[0], rows[0][c], y[c])).
  template <class S, int R>
  static void axpy(const std::byte* const* rows, const double* t, double* y, int64_t n) {
    D tv[R];
    for (int k = 0; k < R; ++k) tv[k] = V::splat(t[k]);
    int64_t c = 0;
    for (; c + kW <= n; c += kW) {
      D acc = V::loadd(y + c);
      for (int k = 0; k < R; ++k) acc = V::fma(tv[k], V::template load<S>(rows[k], c), acc);
      V::stored(y + c, acc);
    }
    for (; c < n; ++c)
      for (int k = 0; k < R; ++k) y[c] = std::fma(t[k], static_cast<double>(S::one(rows[k], c)), y[c]);
  }

  template <class F>
  static auto by_dtype(DType dt, F&& f) {
    switch (dt) {
      case DType::BF16: return f(Bf16{});
      case DType::F16: return f(F16{});
      default: return f(F32{});
    }
  }
  // Up to kMaxRows rows at a time, in blocks of V::kDotRows (dot) and kMaxRows (axpy).
  static void dot_any(DType dt, const std::byte* const* rows, int count, const double* x, int64_t n, double* out) {
    by_dtype(dt, [&](auto s) {
      using S = decltype(s);
      int k = 0;
      for (; k + V::kDotRows <= count; k += V::kDotRows) dot<S, V::kDotRows, false>(rows + k, x, n, out + k);
      for (; k < count; ++k) dot<S, 1, false>(rows + k, x, n, out + k);
    });
  }
  static double squares_any(DType dt, const std::byte* row, int64_t n) {
    double out = 0;
    by_dtype(dt, [&](auto s) { dot<decltype(s), 1, true>(&row, nullptr, n, &out); });
    return out;
  }
  static void axpy_any(DType dt, const std::byte* const* rows, const double* t, int count, double* y, int64_t n) {
    by_dtype(dt, [&](auto s) {
      using S = decltype(s);
      switch (count) {
        case 1: return axpy<S, 1>(rows, t, y, n);
        case 2: return axpy<S, 2>(rows, t, y, n);
        case 3: return axpy<S, 3>(rows, t, y, n);
        default: return axpy<S, 4>(rows, t, y, n);
      }
    });
  }
  static constexpr Table table{&dot_any, &squares_any, &axpy_any};
};

}  // namespace SG_ROWK_ISA
}  // namespace sg::rowk::detail
