#pragma once
// The matrix products of the forward pass: our own blocked kernels, with one
// fixed order of summation per output element, so a product's bits never depend
// on the batch, the thread count or the CPU.
//
// The exact path (matmul_f32): every output is
//     y[m][n] = chain(x[m][.], w[n][.]) + bias[n],
//     chain   = fma(x[K-1] w[K-1], ... fma(x[1] w[1], fma(x[0] w[0], 0)))
// one fused multiply-add per k, k ascending, in float32, then one float addition
// of the bias. The kernels compute many outputs at once (vector lanes over
// tokens or features, register tiles of rows), but no output's chain is ever
// split, reordered or shortened: the vector width changes how many outputs are
// computed together, never the order of one output's sum; tails are zero-padded
// lanes and rows of the same kernel; threads split the outputs, never k. So
// AVX2 and AVX-512 machines produce the same bits (tests/fingerprints.json).
//
// The BF16 path (matmul_bf16, `--fast`): activations and weights in BF16, whose
// products are exact in float32, summed in pairs as AVX512-BF16's vdpbf16ps
// does: for each pair p, acc += x[2p+1] w[2p+1], then acc += x[2p] w[2p], each
// addition rounded. CPUs with AVX512-BF16 run that instruction; others emulate
// the same order with FMAs, which gives the same bits except where vdpbf16ps
// flushes a denormal to zero.
#include <cstdint>
#include <string>

#include "io/dtype.h"

namespace sg::matmul {

// The kernel families, in increasing order of width.
enum class Isa { Avx2, Avx512, Avx512Bf16 };
const char* to_string(Isa isa);

// The kernels this process uses: the widest the CPU and the build have, capped
// by the environment variable SG_ISA (avx2 | avx512 | avx512_bf16) if set
// (tests use it to run the AVX2 kernels on an AVX-512 machine). Throws sg::Error
// for an unknown SG_ISA value or one wider than the CPU supports.
Isa active_isa();
// Overrides the choice for this process (tests and benchmarks); must be
// supported by the CPU and compiled in.
void set_isa(Isa isa);
// Whether this CPU and build can run isa.
bool supported(Isa isa);
// One line on how this process multiplies, for provenance and the --fast note:
// e.g. "avx512 kernels, float32 FMA chains" or "avx2 kernels, BF16 products
// emulated with float32 FMAs in vdpbf16ps's order (no AVX512-BF16 here)".
std::string describe(bool bf16);

// A weight matrix as the checkpoint stores it: [N, K] (out, in; the usual
// Linear) or [K, N] (kn; GPT-2's Conv1D), of dtype F32, F16 or BF16, read in
// place (16-bit values are widened exactly as the kernels go).
struct Weights {
  const void* data = nullptr;
  DType dtype = DType::F32;
  bool kn = false;
};

// y[M, N] (row stride ldy) = x[M, K] (row stride ldx) W^T + bias[N] (bias may be
// null), the exact float32 path described above.
void matmul_f32(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, Weights w, const float* bias, float* y,
                int64_t ldy);

// The same with x given in BF16 (row stride ldx) and BF16 weights: the --fast path.
void matmul_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                 float* y, int64_t ldy);

}  // namespace sg::matmul
