#pragma once
// The element-wise and per-sequence kernels of the forward pass. Row statistics
// (norms, softmax sums) accumulate in double; everything else is float32.
// Reductions are vectorised (`omp simd`): their order of summation is fixed per
// row, so results never depend on the batch or the thread count.
#include <cstdint>
#include <vector>

#include "engine/batch.h"
#include "model/arch.h"

namespace sg::kernels {

// out[r] = (x[r] - mean) / sqrt(var + eps) * w + b  (population variance); b may be null.
void layer_norm(const float* x, int64_t rows, int64_t d, const float* w, const float* b, double eps, float* out);
// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w
void rms_norm(const float* x, int64_t rows, int64_t d, const float* w, double eps, float* out);

// The reference activations, in place on n values. The forward fuses the
// activation into the GEMM (engine/gemm.h, oneDNN post-ops); tests check that
// path against these.
void activate(Activation act, float* x, int64_t n);
// gate[i] = act(gate[i]) * up[i]  (SwiGLU)
void gated_activate(Activation act, float* gate, const float* up, int64_t n);

// cos/sin tables for positions 0..max_pos-1 and frequency j < rotary_dim/2:
// angle = p * theta^(-2j / rotary_dim), computed in double.
struct RopeTable {
  int rotary_dim = 0;
  std::vector<float> cos, sin;  // [max_pos, rotary_dim / 2]
  RopeTable(int rotary_dim, double theta, int64_t max_pos);
};

// Rotates the first rotary_dim dims of each head of x ([rows, heads, d_head]) in
// place; row r is at position positions[r].
void apply_rotary(RotaryStyle style, const RopeTable& table, float* x, int64_t rows, int heads, int d_head,
                  const std::vector<int32_t>& positions);

// Causal softmax attention within each sequence of the batch. q: [rows, H, hd],
// k, v: [rows, KV, hd]; query head h reads kv head h / (H / KV). z: [rows, H * hd].
// If patterns is non-null it receives, per sequence, [H, T, T] probabilities
// (zero above the diagonal) at patterns + pattern_offset(seq).
void attention(const Batch& batch, const float* q, const float* k, const float* v, int H, int KV, int hd,
               double scale, float* z, float* patterns);
// Offset of sequence s's [H, T, T] block in the patterns buffer, and its total size.
int64_t pattern_offset(const Batch& batch, int H, size_t seq);

// The residual identity, element by element to float32 rounding:
// post == pre + attn (+ mlp if not null). Throws sg::Error naming the layer.
void check_residual(int layer, const char* what, const float* pre, const float* attn, const float* mlp,
                    const float* post, int64_t n);

}  // namespace sg::kernels
