#pragma once
// Where each weight of the generic decoder lives in the checkpoint: views into
// the memory-mapped safetensors files (never copies), bound by a family's
// tensor-name mapping and shape-checked against the ArchSpec.
#include <array>
#include <vector>

#include "io/safetensors.h"

namespace sg {

// y = x W^T + b with W stored [out, in] (nn.Linear), or y = x W + b with W stored
// [in, out] (GPT-2's Conv1D, in_out = true). bias may be null.
struct Linear {
  const TensorView* weight = nullptr;
  const TensorView* bias = nullptr;
  bool in_out = false;
  int64_t in = 0, out = 0;
};

struct NormWeights {
  const TensorView* weight = nullptr;
  const TensorView* bias = nullptr;  // LayerNorm only
};

// How the query/key/value projection is stored.
enum class QkvLayout {
  Separate,      // q_proj, k_proj, v_proj
  FusedPerHead,  // GPT-NeoX: one [3d, d] weight whose output is [heads, (q|k|v), d_head]
  FusedBlocks    // GPT-2: one weight whose output is [Q | K | V], each [heads, d_head]
};

struct LayerWeights {
  NormWeights ln1, ln2;             // ln2 unused when ArchSpec::shared_norm
  NormWeights attn_post, mlp_post;  // on the sublayer outputs (LayerSpec::post_*_norm)
  NormWeights q_norm, k_norm;       // per-head, [d_head] (ArchSpec::qk_norm)
  Linear qkv;                       // fused layouts
  Linear q, k, v;                   // QkvLayout::Separate
  Linear o;
  Linear up;    // first MLP matrix (fc_in / dense_h_to_4h / c_fc / up_proj)
  Linear gate;  // gated MLPs only
  Linear down;

  // Every norm of the layer (unbound ones have a null weight).
  std::array<const NormWeights*, 6> norms() const { return {&ln1, &ln2, &attn_post, &mlp_post, &q_norm, &k_norm}; }
};

struct ModelWeights {
  const TensorView* embed = nullptr;      // [vocab, d]
  const TensorView* pos_embed = nullptr;  // [max_positions, d], learned positions only
  std::vector<LayerWeights> layers;
  NormWeights final_norm;
  Linear unembed;  // [vocab, d] (the embedding itself when tied) + optional bias
  QkvLayout qkv_layout = QkvLayout::Separate;
};

}  // namespace sg
