#pragma once
// A checkpoint's Linear layers applied to a block of token rows: the matrix
// products of engine/matmul.h (one fixed order of summation per output, so the
// bits never depend on the batch, the thread count or the CPU) followed by
// the bias, the MLP activation and SwiGLU's product. Weights are read in place
// from the mapped checkpoint in their stored dtype; no copy of the model is made.
#include <cstdint>
#include <optional>
#include <vector>

#include "engine/matmul.h"
#include "model/arch.h"
#include "model/model.h"

namespace sg {

// What happens to a product after the bias:  y = act(x W^T + bias) * mul
// (act and mul optional; mul has y's shape and row stride).
struct Epilogue {
  std::optional<Activation> act;
  const float* mul = nullptr;
};

// How matrix products are computed.
enum class MatmulPrecision {
  F32,   // exact float32 products of float32 (or exactly widened 16-bit) weights: the reference path
  BF16,  // --fast: BF16 weights used as stored and activations rounded to BF16, float32 accumulation
};

class LinearRunner {
 public:
  explicit LinearRunner(const Model& model, MatmulPrecision precision = MatmulPrecision::F32);
  // y[M, L.out] (row stride ldy) = epilogue(x[M, L.in] (row stride ldx) applied to L).
  void apply(const Linear& L, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
             const Epilogue& epilogue = {});
  void apply(const Linear& L, const float* x, int64_t M, float* y, const Epilogue& epilogue = {}) {
    apply(L, x, M, L.in, y, L.out, epilogue);
  }
  // The MLP: y[M, down.out] = down(act(up(x))), or down(act(gate(x)) * up(x)) when
  // gate is given (SwiGLU).
  void mlp(const Linear& up, const Linear* gate, Activation act, const Linear& down, const float* x, int64_t M,
           float* y);

 private:
  bool bf16_products(const Linear& L) const;
  const Model& model_;
  MatmulPrecision precision_;
  std::vector<uint16_t> x_bf16_;    // activations rounded to BF16 for --fast
  std::vector<float> hidden_, up_;  // MLP activations and SwiGLU's up
};

}  // namespace sg
