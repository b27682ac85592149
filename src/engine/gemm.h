#pragma once
// Matrix products through oneDNN (float32 in, float32 accumulate), and the
// application of a checkpoint Linear to a block of rows. 16-bit weights are
// widened exactly to float32 a slice at a time into a bounded scratch buffer,
// so the model is never copied whole.
#include <cstdint>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "model/model.h"

namespace sg {

class Gemm {
 public:
  Gemm();
  ~Gemm();
  // C[M, N] (row stride ldc) = A[M, K] (row stride lda) * B + bias[N] (bias may be
  // null), where B is W^T for W stored [N, K] (w_nk) or W itself stored [K, N].
  void run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, bool w_nk,
           const float* bias, float* C, int64_t ldc);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class LinearRunner {
 public:
  // scratch_floats: the most float32 values a widened weight slice may take.
  explicit LinearRunner(const Model& model, int64_t scratch_floats = int64_t{32} << 20);
  // y[M, L.out] (row stride ldy) = x[M, L.in] (row stride ldx) applied to L.
  void apply(const Linear& L, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy);
  void apply(const Linear& L, const float* x, int64_t M, float* y) { apply(L, x, M, L.in, y, L.out); }

 private:
  const Model& model_;
  Gemm gemm_;
  int64_t scratch_floats_;
  std::vector<float> scratch_;
};

}  // namespace sg
