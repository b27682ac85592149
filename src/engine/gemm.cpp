#include "engine/gemm.h"

#include "engine/kernels.h"
#include "util/error.h"

namespace sg {

namespace {
// Element-wise passes over fewer values than this run on one thread: waking
// the others costs more. (The values do not depend on it.)
constexpr int64_t kParallelElements = int64_t{1} << 16;
}  // namespace

LinearRunner::LinearRunner(const Model& model, MatmulPrecision precision) : model_(model), precision_(precision) {}

bool LinearRunner::bf16_products(const Linear& L) const {
  return precision_ == MatmulPrecision::BF16 && L.weight->dtype == DType::BF16;
}

void LinearRunner::mlp(const Linear& up, const Linear* gate, Activation act, const Linear& down, const float* x,
                       int64_t M, float* y) {
  hidden_.resize(static_cast<size_t>(M * up.out));
  if (gate) {
    up_.resize(hidden_.size());
    apply(up, x, M, up_.data());
    apply(*gate, x, M, hidden_.data(), {act, up_.data()});
  } else {
    apply(up, x, M, hidden_.data(), {act, nullptr});
  }
  apply(down, hidden_.data(), M, y);
}

void LinearRunner::apply(const Linear& L, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                         const Epilogue& epilogue) {
  const TensorView& W = *L.weight;
  const matmul::Weights w{L.data(), W.dtype, L.in_out};
  const float* bias = L.bias ? model_.vec(L.bias) + L.row_offset : nullptr;
  if (bf16_products(L)) {
    // Activations rounded to BF16 (nearest even), weights as stored.
    x_bf16_.resize(static_cast<size_t>(M * L.in));
    uint16_t* xb = x_bf16_.data();
#pragma omp parallel for schedule(static) if (M * L.in >= kParallelElements)
    for (int64_t r = 0; r < M; ++r)
      for (int64_t i = 0; i < L.in; ++i) xb[r * L.in + i] = f32_to_bf16(x[r * ldx + i]);
    matmul::matmul_bf16(M, L.out, L.in, xb, L.in, w, bias, y, ldy);
  } else {
    matmul::matmul_f32(M, L.out, L.in, x, ldx, w, bias, y, ldy);
  }
  if (!epilogue.act) return;
  // act(y) (* mul), row by row: each element's value depends on it alone.
  const Activation act = *epilogue.act;
#pragma omp parallel for schedule(static) if (M * L.out >= kParallelElements)
  for (int64_t r = 0; r < M; ++r) {
    if (epilogue.mul)
      kernels::gated_activate_span(act, y + r * ldy, epilogue.mul + r * ldy, L.out);
    else
      kernels::activate_span(act, y + r * ldy, L.out);
  }
}

}  // namespace sg
