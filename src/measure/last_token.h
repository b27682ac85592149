#pragma once
// Last-token reducer: keeps, for every sequence and every layer, only the row of
// the sequence's last token at blocks.{l}.hook_resid_pre, hook_attn_out and
// hook_mlp_out. This is what a "read the residual stream at the final position"
// experiment (e.g. `align`, seed 003) needs, at a memory cost of
// n_sequences x n_layers x 3 x d_model floats instead of whole activations.
//
// capture_last_tokens() runs any number of sequences through run_prompts()
// (chunks of a bounded number of tokens), so the engine's own activations stay
// small however many texts there are.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "measure/reducer.h"
#include "measure/run_prompts.h"

namespace sg {

// The three per-layer rows the reducer keeps.
enum class LastTokenPoint { ResidPre = 0, AttnOut = 1, MlpOut = 2 };
inline constexpr int kLastTokenPoints = 3;

// Storage of the kept rows, laid out [layer][point][sequence][d_model], so the
// rows of one layer and point over any run of consecutive sequences form one
// row-major matrix (e.g. sequences [0, N) = one language, [N, 2N) = the other).
class LastTokenRows {
 public:
  LastTokenRows() = default;
  LastTokenRows(int n_layers, int64_t d_model, size_t n_sequences);

  int n_layers() const { return n_layers_; }
  int64_t d_model() const { return d_model_; }
  size_t n_sequences() const { return n_sequences_; }

  // Row of sequence `seq` at (layer, point): d_model floats.
  float* row(int layer, LastTokenPoint point, size_t seq);
  const float* row(int layer, LastTokenPoint point, size_t seq) const;

 private:
  int n_layers_ = 0;
  int64_t d_model_ = 0;
  size_t n_sequences_ = 0;
  std::vector<float> data_;
};

// Observer filling a LastTokenRows over one or more forwards: each forward's
// sequences take the next slots, in batch order. Call finish_batch() after each.
class LastTokenReducer : public Reducer {
 public:
  // Room for `n_sequences` sequences in total; more is an error (sg::Error).
  LastTokenReducer(int n_layers, int64_t d_model, size_t n_sequences);

  bool wants(const PointId& point) override;
  void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) override;
  void finish_batch(const Batch& batch) override;
  std::vector<std::byte> save() const override;
  void restore(std::span<const std::vector<std::byte>> parts) override;
  void take_stage(std::span<const std::byte> saved, const Model::Stage& stage) override;

  // Sequences stored so far.
  size_t filled() const { return base_; }
  const LastTokenRows& rows() const { return rows_; }
  LastTokenRows take() { return std::move(rows_); }

 private:
  LastTokenRows rows_;
  size_t base_ = 0;  // slot of the current batch's first sequence
};

// Runs every sequence through `engine` (run_prompts) and returns the rows.
// Throws sg::Error as Engine::run does (ids outside the vocabulary, empty or too
// long sequences); its messages number sequences within the failing chunk, so
// callers wanting messages about their own inputs check them first.
LastTokenRows capture_last_tokens(Engine& engine, std::span<const std::vector<int32_t>> sequences,
                                  const PromptRun& options = {});

}  // namespace sg
