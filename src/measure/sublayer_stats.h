#pragma once
// Per-token statistics around each attention and MLP sublayer: the norms of
// what it reads and what it adds, the cosine of what it adds with the block
// input, the entropy of each query's attention and, on sparse MLP layers, of
// each token's router distribution and where the router sends it. Memory: one layer's
// resid_pre rows plus the statistics.
#include <cstdint>
#include <vector>

#include "measure/reducer.h"

namespace sg {

// Per token and layer, around each sublayer.
struct SublayerTokenStats {
  double resid_pre = 0;       // ||blocks.l.hook_resid_pre||
  double attn_in = 0;         // ||blocks.l.ln1.hook_out||
  double attn_out = 0;        // ||blocks.l.hook_attn_out||
  double mlp_in = 0;          // ||blocks.l.ln2.hook_out||
  double mlp_out = 0;         // ||blocks.l.hook_mlp_out||
  double attn_raw = 0;        // ||blocks.l.attn.hook_out|| (post-normed layers: SublayerStats::attn_raw)
  double mlp_raw = 0;         // ||blocks.l.mlp.hook_out|| (post-normed layers)
  double attn_cos = 0;        // cos(hook_attn_out, hook_resid_pre)
  double mlp_cos = 0;         // cos(hook_mlp_out, hook_resid_pre)
  double attn_entropy = 0;    // mean over heads of the entropy (nats) of this query's attention row
  double router_entropy = 0;  // sparse MLP layers: entropy (nats) of blocks.l.mlp.hook_router_probs' row
};

// Statistics of a set of sequences (prompts), possibly gathered over several
// forwards (chunks): sequence i owns tokens [offsets[i], offsets[i+1]).
struct SublayerStats {
  int n_layers = 0;
  std::vector<int64_t> offsets{0};
  std::vector<std::vector<SublayerTokenStats>> layers;  // [layer][token]
  // Layers whose sublayer output is normed before the residual add (Gemma 2):
  // attn_raw / mlp_raw hold the output before that norm.
  std::vector<bool> attn_raw, mlp_raw;
  bool any_raw() const;
  // Sparse mixture-of-experts layers: how many tokens the router sent to each
  // expert ([layer][expert], from blocks.l.mlp.hook_router_weights; empty for
  // dense layers). Counts, so the same whatever the chunking.
  std::vector<std::vector<int64_t>> routed;
  bool any_moe() const;

  size_t n_sequences() const { return offsets.size() - 1; }
  int64_t length(size_t s) const { return offsets[s + 1] - offsets[s]; }
};

// Fills SublayerStats from the capture points of each layer. Run it over one or
// more batches; each batch's sequences are appended.
class SublayerStatsReducer : public Reducer {
 public:
  SublayerStatsReducer(int n_layers, bool entropy);
  bool wants(const PointId& point) override;
  void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) override;
  void on_entropies(const PointId& point, const Batch& batch, const double* rows, int64_t heads) override;

  // Call after each forward (registers the batch's sequences).
  void finish_batch(const Batch& batch) override;
  std::vector<std::byte> save() const override;
  void restore(std::span<const std::vector<std::byte>> parts) override;
  void take_stage(std::span<const std::byte> saved, const Model::Stage& stage) override;
  const SublayerStats& stats() const { return stats_; }

 private:
  SublayerTokenStats& at(int layer, int64_t row);
  void on_router(const PointId& point, int64_t n_tokens, const float* rows, int64_t experts);
  bool entropy_;
  SublayerStats stats_;
  std::vector<float> resid_pre_;  // current layer's block input, for the cosines
  int64_t base_ = 0;              // token index of this batch's first row in stats_
};

}  // namespace sg
