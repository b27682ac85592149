#pragma once
// Row kernels of the weight statistics (experiments/weights.cpp): one stored
// weight row (BF16, F16 or F32, read in place, widened exactly) against float64
// vectors. What the Lanczos passes of the spectral norms spend their time in.
//
// Order of every sum, the same on every CPU: element c of a row goes to lane
// c % 32 of 32 float64 partial sums, each a chain of fused multiply-adds in
// element order (a partial last block of 32 is zero-padded); the 32 lanes are
// then added in one fixed tree. AVX2 holds the lanes as eight 4-wide registers,
// AVX-512 as four 8-wide ones; a lane's operations are the same, so are the bits
// (tests/engine/row_kernels_test.cpp). axpy is one FMA per element. Which
// kernels run follows matmul::active_isa (SG_ISA=avx2 forces the AVX2 ones).
#include <cstddef>
#include <cstdint>

#include "io/dtype.h"

namespace sg::rowk {

// Whether rows of this dtype are read in place (else widen them to float32 first).
inline bool in_place(DType dt) { return dt == DType::BF16 || dt == DType::F16 || dt == DType::F32; }

// At most this many rows per call of dot and axpy.
inline constexpr int kMaxRows = 4;

// out[i] = sum over c < n of rows[i][c] * x[c], for i < count <= kMaxRows (rows
// of one dtype; several rows share the reads of x).
void dot(DType dt, const std::byte* const* rows, int count, const double* x, int64_t n, double* out);
// sum over c < n of row[c]^2.
double sum_squares(DType dt, const std::byte* row, int64_t n);
// y[c] = fma(t[count-1], rows[count-1][c], ... fma(t[0], rows[0][c], y[c])) for
// c < n, count <= kMaxRows: the rows added to y in order, one FMA each.
void axpy(DType dt, const std::byte* const* rows, const double* t, int count, double* y, int64_t n);

// The kernels of one instruction set, for the tests: the same bits from each.
struct Table {
  void (*dot)(DType, const std::byte* const*, int, const double*, int64_t, double*);
  double (*sum_squares)(DType, const std::byte*, int64_t);
  void (*axpy)(DType, const std::byte* const*, const double*, int, double*, int64_t);
};
const Table& avx2_table();
// nullptr when this CPU or build has no AVX-512.
const Table* avx512_table();

}  // namespace sg::rowk
