#pragma once
// The element-wise and per-sequence kernels of the forward pass. Row statistics
// (norms, softmax sums) accumulate in double; everything else is float32.
//
// Guarantee: for the same input these kernels give the same bits on any x86-64
// CPU from AVX2 to AVX-512, for any batch composition and any thread count.
//  * Every sum over a row (norm statistics, softmax denominators) is a
//    vec::fixed_sum (engine/vecmath.h): sixteen partial sums, lane l taking
//    elements l, l + 16, ..., then one fixed tree (l + 8, l + 4, l + 2, l + 1),
//    whatever vector width the compiler uses. The attention scores and outputs
//    accumulate each value sequentially in a fixed order (dims, then keys).
//  * exp and the activations are vecmath's own: fixed sequences of IEEE
//    operations, no libm (whose code may differ per CPU), no FMA contraction
//    (the build uses -ffp-contract=off). An element's result does not depend on
//    its neighbours, its position in a span, or the span's length.
//  * Rows are split over threads, never within a row.
// Not covered: the matrix products (engine/gemm.h), and which NaN a NaN result
// is (its sign and payload).
#include <cstdint>
#include <vector>

#include "engine/batch.h"
#include "model/arch.h"

namespace sg::kernels {

// out[r] = (x[r] - mean) / sqrt(var + eps) * w + b  (population variance); b may be null.
void layer_norm(const float* x, int64_t rows, int64_t d, const float* w, const float* b, double eps, float* out);
// out[r] = x[r] / sqrt(mean(x[r]^2) + eps) * w
void rms_norm(const float* x, int64_t rows, int64_t d, const float* w, double eps, float* out);

// The activations (vecmath: gelu_erf, gelu_tanh, silu, relu), in place on n
// values, on the calling thread only: for a GEMM epilogue working on a tile. An
// element's result is the same bits whatever n and its position in the span.
void activate_span(Activation act, float* x, int64_t n);
// gate[i] = act(gate[i]) * up[i]  (SwiGLU), on the calling thread only.
void gated_activate_span(Activation act, float* gate, const float* up, int64_t n);

// The same over n values split among the OpenMP threads (same bits as the spans).
// The forward fuses the activation into the GEMM (engine/gemm.h); tests check
// that path against these.
void activate(Activation act, float* x, int64_t n);
void gated_activate(Activation act, float* gate, const float* up, int64_t n);

// Soft-capping (Gemma 2): x = cap * tanh(x / cap), in float32 as HF computes
// it; on the calling thread (span) or split among the OpenMP threads.
void softcap_span(float* x, int64_t n, float cap);
void softcap(float* x, int64_t n, float cap);

// Softmax of each of `rows` rows of n values, in place: exp(x - max) (vecmath's
// exp), their sum in double in vec::fixed_sum's order, each times 1 / sum
// rounded to float32 (the attention's softmax).
void softmax_rows(float* x, int64_t rows, int64_t n);
// x = 1 / (1 + exp(-x)), on the calling thread.
void sigmoid_span(float* x, int64_t n);
// A sparse MLP's routing: for each of `rows` rows of E router probabilities,
// weights[r][e] = probs[r][e] for the top_k largest (ties: the lower expert
// index first, as a stable descending sort), divided by their sum (in double,
// largest first) when renormalize, and 0 for every other expert.
void route_top_k(const float* probs, int64_t rows, int E, int top_k, bool renormalize, float* weights);

// cos/sin tables for positions 0..max_pos-1 and frequency j < rotary_dim/2:
// angle = p * rope.inv_freq[j], cos and sin computed in double, times the
// rope's attention factor, rounded once to float32. A longrope table holds a
// second pair from rope.long_inv_freq, for sequences longer than long_after.
struct RopeTable {
  int rotary_dim = 0;
  std::vector<float> cos, sin;            // [max_pos, rotary_dim / 2]
  std::vector<float> long_cos, long_sin;  // longrope only
  int64_t long_after = 0;
  RopeTable(const Rope& rope, int64_t max_pos);
};

// Per-head vectors inside a projection's output, read in place: head h of row r
// starts at data + r * row_stride + h * head_stride. This covers separate q/k/v
// outputs ([rows, heads, d_head]) and both fused QKV layouts without a copy.
struct Heads {
  float* data;
  int64_t row_stride;
  int64_t head_stride;
  float* at(int64_t row, int head) const { return data + row * row_stride + head * head_stride; }
};

// Rotary position embedding of one head vector at position pos, in place: the
// first rotary_dim dims rotated in pairs, (j, j + r/2) for rotate_half and
// (2j, 2j + 1) for rotate_every_two. No style (or no table) leaves v as it is.
// long_factors: the table's longrope pair (Rotary::for_length chooses).
struct Rotary {
  RotaryStyle style = RotaryStyle::None;
  const RopeTable* table = nullptr;
  bool long_factors = false;
  void apply(float* v, int64_t pos) const;
  // The rotation of a sequence of `length` positions (all of them, cached ones
  // included): longrope tables use their long factors beyond long_after.
  Rotary for_length(int64_t length) const {
    Rotary r = *this;
    r.long_factors = table && !table->long_cos.empty() && length > table->long_after;
    return r;
  }
};

// How one layer scores keys: scores = q.k * scale, then (softcap > 0)
// softcap * tanh(scores / softcap); query i sees keys j <= i, and with a window
// W > 0 only i - W < j <= i (the last W positions, itself included).
struct ScoreRule {
  double scale = 1;
  int64_t window = 0;
  double softcap = 0;
};

// Causal softmax attention within each sequence of the batch, H query heads and
// KV key/value heads of hd dims; query head h reads kv head h / (H / KV). Queries
// and keys are rotated (position = index within the sequence) as they are read:
// q and k themselves are left unrotated.
// z: [rows, H * hd]. If patterns is non-null it receives, per sequence, [H, T, T]
// probabilities (zero for keys a query does not see) at
// patterns + pattern_offsets(batch, H)[seq].
// past > 0: the batch's one sequence continues `past` earlier positions (a KV
// cache): k and v hold rows for positions 0..past+T-1, q and z only the T new
// ones; the outputs are the same bits as a run over the whole sequence.
// If entropies is non-null it receives [rows, H]: the entropy of each query's
// probability row, from the softmax's own pass over its scores (one log per row;
// the definition is at detail::softmax_span in attention_kernel.h): no [T, T]
// buffer. It agrees with entropy_span over the pattern's row to rounding, not bit
// for bit.
void attention(const Batch& batch, Heads q, Heads k, Heads v, int H, int KV, int hd, const Rotary& rotary,
               const ScoreRule& rule, float* z, float* patterns, int64_t past = 0, double* entropies = nullptr);
// The entropy (nats) of n probabilities, -sum_k p_k ln p_k (p_k = 0 adds 0), in
// double: vecmath's log, the sum a vec::fixed_sum. On the calling thread. The
// definition of the router entropy, from the probabilities alone (attention's
// entropy comes from its scores, in the attention kernel).
double entropy_span(const float* p, int64_t n);
// Where each sequence's [H, T, T] block starts in the patterns buffer; the last
// of the n_sequences + 1 entries is the buffer's size.
std::vector<int64_t> pattern_offsets(const Batch& batch, int H);

// out[i] = (a[i] + b[i]) (+ c[i] when c is not null), in that order of float
// additions; out may be a.
void add(const float* a, const float* b, const float* c, float* out, int64_t n);

// The residual identity, element by element to float32 rounding:
// post == pre + attn (+ mlp if not null). Throws sg::Error naming the layer and
// the first offending element.
void check_residual(int layer, const char* what, const float* pre, const float* attn, const float* mlp,
                    const float* post, int64_t n);

}  // namespace sg::kernels
