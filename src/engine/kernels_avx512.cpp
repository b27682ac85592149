// The attention kernel and the activation spans on AVX-512 (attention_kernel.h):
// sixteen-lane registers, the same bits as the AVX2 build. Called only on CPUs
// that have it (kernels.cpp).
#include "engine/attention_kernel.h"

namespace sg::kernels {

void activate_span_avx512(Activation act, float* x, int64_t n) { detail::activate_of(act, x, n); }

void gated_activate_span_avx512(Activation act, float* gate, const float* up, int64_t n) {
  detail::gated_activate_of(act, gate, up, n);
}

void attention_avx512(const Batch& batch, Heads q, Heads k, Heads v, int H, int KV, int hd, const Rotary& rotary,
                      const ScoreRule& rule, float* z, float* patterns, int64_t past, double* entropies) {
  detail::attention_all(batch, q, k, v, H, KV, hd, rotary, rule, z, patterns, past, entropies);
}

}  // namespace sg::kernels
