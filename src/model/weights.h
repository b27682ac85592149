#pragma once
// Where each weight of the generic decoder lives in the checkpoint: views into
// the memory-mapped safetensors files (never copies), bound by a family's
// tensor-name mapping and shape-checked against the ArchSpec.
#include <array>
#include <vector>

#include "io/dtype.h"

#include "io/safetensors.h"

namespace sg {

// y = x W^T + b with W stored [out, in] (nn.Linear), or y = x W + b with W stored
// [in, out] (GPT-2's Conv1D, in_out = true). bias may be null.
// A block of rows of a fused tensor (Phi-3's gate_up_proj) is read in place:
// rows row_offset .. row_offset + out - 1 of the stored [rows, in] weight (and
// of its bias).
struct Linear {
  const TensorView* weight = nullptr;
  const TensorView* bias = nullptr;
  bool in_out = false;
  int64_t in = 0, out = 0;
  int64_t row_offset = 0;  // [out, in] storage only
  // Where the Linear's weight values start.
  const std::byte* data() const {
    return weight->data + static_cast<size_t>(row_offset * in) * dtype_size(weight->dtype);
  }
};

// A gated MLP: down(act(gate(x)) * up(x)) (an expert of a sparse MLP).
struct GatedMlp {
  Linear gate, up, down;
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
  // Sparse mixture-of-experts layers (LayerSpec::moe) instead of up/gate/down:
  Linear router;  // [n_experts, d]
  std::vector<GatedMlp> experts;
  GatedMlp shared;     // the shared expert (MoeSpec::d_shared > 0)
  Linear shared_gate;  // [1, d]: sigmoid(h . w) scales the shared expert

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
