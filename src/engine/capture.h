#pragma once
// Capture points: the named tensors of a forward pass, and the observer
// interface through which experiments see them.
//
// Names follow TransformerLens where our tensor is the same one
// (blocks.{l}.hook_resid_pre, hook_attn_out, hook_mlp_out, hook_resid_mid,
// hook_resid_post, attn.hook_pattern, hook_embed, hook_pos_embed) and differ
// where it is not: blocks.{l}.ln1.hook_out / ln2.hook_out are the norm outputs
// after their weight and bias (TransformerLens folds those by default),
// ln_final.hook_out is the final norm's output. The README has the full table.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.h"
#include "model/arch.h"

namespace sg {

enum class Point {
  Embed,          // hook_embed: token embedding rows
  PosEmbed,       // hook_pos_embed: learned position rows (GPT-2)
  ResidPre,       // blocks.{l}.hook_resid_pre: input of block l
  Ln1Out,         // blocks.{l}.ln1.hook_out: normalised tensor attention reads
  AttnRaw,        // blocks.{l}.attn.hook_out: the attention sublayer's own output, before the norm that
                  //   follows it (post-normed layers only: Gemma 2)
  AttnOut,        // blocks.{l}.hook_attn_out: what attention adds to the residual stream (out-projection
                  //   incl. its bias; after the post-attention norm where there is one)
  Ln2Out,         // blocks.{l}.ln2.hook_out: normalised tensor the MLP reads (= ln1 for GPT-J)
  MlpRaw,         // blocks.{l}.mlp.hook_out: the MLP's own output before its post-norm (Gemma 2)
  MlpOut,         // blocks.{l}.hook_mlp_out: what the MLP adds to the residual stream (a sparse MLP:
                  //   the whole block's output, routed and shared experts)
  ResidMid,       // blocks.{l}.hook_resid_mid: resid_pre + attn_out (sequential blocks only)
  ResidPost,      // blocks.{l}.hook_resid_post: output of block l
  AttnPattern,    // blocks.{l}.attn.hook_pattern: softmax probabilities [heads, query, key]
  AttnEntropy,    // blocks.{l}.attn.hook_pattern_entropy: [T, heads] entropy (nats) of each query's attention
                  //   row, -sum_k p_k ln p_k, computed in the attention kernel (no [T, T] buffer)
  LnFinalOut,     // ln_final.hook_out: final norm of the last block's output
  Logits,         // logits
  RouterProbs,    // blocks.{l}.mlp.hook_router_probs: [T, experts] softmax of the router over all experts
                  //   (sparse MLP layers only)
  RouterWeights,  // blocks.{l}.mlp.hook_router_weights: [T, experts] the weight each expert's output is
                  //   added with (0 for the experts a token does not go to)
  Count,          // (the number of points)
};

struct PointId {
  Point point;
  int layer = -1;  // for per-block points

  std::string name() const;
  static std::optional<PointId> parse(std::string_view name);
  bool operator==(const PointId&) const = default;
};

// Every capture point a model has, in forward order.
std::vector<PointId> capture_points(const ArchSpec& arch);

// Width of the rows of an activation point (d_model, vocab for logits, experts for the router points,
// heads for the attention entropies).
int64_t point_width(const ArchSpec& arch, Point p);

// Glob matching as in shells: '*' any run, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text);

// Observers are asked once per capture point before a forward ("do you want
// blocks.3.hook_mlp_out?"); a point nobody wants costs nothing. Activations
// arrive as [n_tokens, width] float32 rows in the batch's layout, valid only
// during the call; attention patterns arrive one sequence at a time.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual bool wants(const PointId& point) = 0;
  virtual void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) {
    (void)point, (void)batch, (void)rows, (void)width;
  }
  // probs: [heads, T, T], row = query, causal (entries above the diagonal are 0).
  virtual void on_pattern(int layer, const Batch& batch, size_t seq, const float* probs, int heads, int64_t T) {
    (void)layer, (void)batch, (void)seq, (void)probs, (void)heads, (void)T;
  }
  // blocks.{l}.attn.hook_pattern_entropy: [n_tokens, heads] rows in double, as
  // computed (each head's entropy of the query's softmax row over keys 0..q, from
  // the attention kernel's softmax). By default passed on rounded to float32, to
  // on_activation.
  virtual void on_entropies(const PointId& point, const Batch& batch, const double* rows, int64_t heads);
  // All sequences of the batch at once: sequence s's [heads, T, T] block starts
  // at probs + offsets[s] (kernels::pattern_offsets). By default, on_pattern for
  // each; an observer may override it to work across sequences in one pass.
  virtual void on_patterns(int layer, const Batch& batch, const float* probs, int heads,
                           const std::vector<int64_t>& offsets) {
    for (size_t s = 0; s < batch.n_sequences(); ++s)
      on_pattern(layer, batch, s, probs + offsets[s], heads, batch.length(s));
  }
};

// An observer that wants every point matching one of a list of globs.
class GlobObserver : public Observer {
 public:
  explicit GlobObserver(std::vector<std::string> patterns) : patterns_(std::move(patterns)) {}
  bool wants(const PointId& point) override;

 private:
  std::vector<std::string> patterns_;
};

}  // namespace sg
