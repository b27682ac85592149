#pragma once
// Matrix products through oneDNN (float32 in, float32 accumulate), and the
// application of a checkpoint Linear to a block of rows. 16-bit weights are
// widened exactly to float32 a slice at a time into a bounded scratch buffer,
// so the model is never copied whole.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

#include "model/arch.h"
#include "model/model.h"

namespace sg {

// What a matrix product does to its result before storing it:
//   C = act(A B + bias) * mul      (act and mul optional; mul has C's shape and row stride)
// Fusing the MLP activation (and SwiGLU's product) into the GEMM saves a pass
// over the widest tensor of the forward; oneDNN computes the activations.
struct Epilogue {
  std::optional<Activation> act;
  const float* mul = nullptr;
};

class Gemm {
 public:
  Gemm();
  ~Gemm();
  // C[M, N] (row stride ldc) = A[M, K] (row stride lda) * B + bias[N] (bias may be
  // null), where B is W^T for W stored [N, K] (w_nk) or W itself stored [K, N].
  void run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, bool w_nk,
           const float* bias, float* C, int64_t ldc, const Epilogue& epilogue = {});
  // The same with A and W in BF16 (products exact, float32 accumulation).
  void run_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const void* W, bool w_nk,
                const float* bias, float* C, int64_t ldc, const Epilogue& epilogue = {});
  // ... and C rounded to BF16 (nearest even) after the epilogue.
  void run_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const void* W, bool w_nk,
                const float* bias, uint16_t* C, int64_t ldc, const Epilogue& epilogue = {});
  // The float32 product the other way round: Ct[N, M] (row stride M) = W[N, K] A^T,
  // with W (row-major) as oneDNN's source operand, which it reads in place (as the
  // weights operand it would repack W on every call).
  void run_transposed(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, float* Ct);
  // C[M, N] (row stride ldc) = act(C), in place: the computation a fused
  // activation post-op performs, as its own pass.
  void activate(Activation act, float* C, int64_t M, int64_t N, int64_t ldc);

 private:
  void run_typed(bool bf16, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W, bool w_nk,
                 const float* bias, void* C, bool c_bf16, int64_t ldc, const Epilogue& epilogue);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// How matrix products are computed.
enum class MatmulPrecision {
  F32,   // exact float32 products of float32 (or exactly widened 16-bit) weights: the reference path
  BF16,  // --fast: BF16 weights used as stored and activations rounded to BF16, float32 accumulation
};

class LinearRunner {
 public:
  // scratch_floats: the most float32 values a widened weight slice may take.
  explicit LinearRunner(const Model& model, MatmulPrecision precision = MatmulPrecision::F32,
                        int64_t scratch_floats = int64_t{32} << 20);
  // y[M, L.out] (row stride ldy) = epilogue(x[M, L.in] (row stride ldx) applied to L).
  void apply(const Linear& L, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
             const Epilogue& epilogue = {});
  void apply(const Linear& L, const float* x, int64_t M, float* y, const Epilogue& epilogue = {}) {
    apply(L, x, M, L.in, y, L.out, epilogue);
  }
  // The MLP: y[M, down.out] = down(act(up(x))), or down(act(gate(x)) * up(x)) when
  // gate is given (SwiGLU). When all its products run in BF16 the hidden
  // activations pass between them in BF16, rounded once by the first product, as
  // apply() would round them.
  void mlp(const Linear& up, const Linear* gate, Activation act, const Linear& down, const float* x, int64_t M,
           float* y);

 private:
  bool bf16_products(const Linear& L) const;
  // y = epilogue(x W^T + bias) in float32; W is [N, K] (w_nk) or [K, N].
  void multiply_f32(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, bool w_nk,
                    const float* bias, float* y, int64_t ldy, const Epilogue& epilogue);
  const uint16_t* rounded_to_bf16(const float* x, int64_t M, int64_t ldx, int64_t n);  // into x_bf16_
  const Model& model_;
  MatmulPrecision precision_;
  Gemm gemm_;
  int64_t scratch_floats_;
  std::vector<float> scratch_;
  std::vector<uint16_t> x_bf16_;
  std::vector<float> hidden_, up_;  // MLP activations, float32 path and SwiGLU's up
  std::vector<float> ct_;           // a transposed product before it is written out
  std::vector<uint16_t> hidden_bf16_;
};

}  // namespace sg
