#pragma once
// The one generic forward pass, read from the ArchSpec and each layer's
// LayerSpec. All sequences of a batch go through the model together, layer by
// layer; every capture point fires into the observers that asked for it. On
// every forward the residual identity is verified per layer:
//   parallel blocks:   resid_post = resid_pre + attn_out + mlp_out
//   sequential blocks: resid_mid = resid_pre + attn_out, resid_post = resid_mid + mlp_out
// on exactly the buffers observers saw, so no capture point can silently be the
// wrong tensor.
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/batch.h"
#include "engine/capture.h"
#include "engine/gemm.h"
#include "engine/kernels.h"
#include "model/model.h"

namespace sg {

// The activation buffers of a forward, kept between runs and grown as needed.
// They are never zero-filled: every kernel writes its output whole before
// anything reads it.
class Workspace {
 public:
  enum class Slot {
    X,
    Next,
    H1,
    H2,
    AttnOut,
    MlpOut,
    Raw,
    Z,
    Qkv,
    Patterns,
    RouterProbs,
    RouterWeights,
    ExpertIn,
    ExpertOut,
    SharedGate,
    Count
  };
  float* get(Slot slot, int64_t n);

 private:
  struct Free {
    void operator()(float* p) const;
  };
  struct Buffer {
    std::unique_ptr<float[], Free> data;
    int64_t size = 0;
  };
  std::array<Buffer, static_cast<size_t>(Slot::Count)> buffers_;
};

struct RunOptions {
  std::string progress_label;  // non-empty: a per-layer progress line on a terminal
  // Called before each layer and before the final norm (e.g. the Python
  // binding's Ctrl-C check): an exception it throws abandons the forward, and
  // the engine stays usable for the next run (a KvCache given to that run is
  // left unusable).
  std::function<void()> between_layers = {};
  // A model loaded as one stage of the layer pipeline (Model::Stage) runs its
  // own layers only: after the first stage it starts from `stage_input`, the
  // residual stream entering its first layer ([tokens, d_model] rows, as the
  // previous stage's `stage_output` received them); before the last it writes
  // the stream leaving its last layer to `stage_output` and ends there.
  const float* stage_input = nullptr;
  float* stage_output = nullptr;
};

// The keys and values of one sequence's positions so far, per layer (keys
// before rotary, as the projections give them), so that a continuation runs
// only its new tokens: Engine::run with a cache.
struct KvCache {
  int64_t length = 0;                    // positions cached
  std::vector<std::vector<float>> k, v;  // [layer][position * n_kv_heads * d_head]
};

// How a greedy continuation ended.
struct Generation {
  std::vector<int32_t> tokens;  // the new tokens only
  enum class End { Length, Stop, PositionLimit } end = End::Length;
};

class Engine {
 public:
  explicit Engine(const Model& model, MatmulPrecision precision = MatmulPrecision::F32);

  // Throws sg::Error for token ids outside the vocabulary, empty sequences,
  // sequences longer than the model's positions, or a broken residual identity.
  // With a cache, the batch is one sequence continuing the cache's positions:
  // its keys and values are appended to the cache, and every tensor of its
  // tokens is the same bits as in a run over the whole sequence (attention
  // patterns cannot be observed then). A cached run may not take a longrope
  // model past its original length (generate reruns the whole sequence then).
  void run(const Batch& batch, std::span<Observer* const> observers, const RunOptions& options = {},
           KvCache* cache = nullptr);

  // Greedy continuation of one prompt by up to n tokens, each new token one
  // token's forward (KV cache); stops early after emitting any token in
  // `stop`, or when the model's positions are used up. on_token (if set) sees
  // each new token as it is produced.
  Generation generate(const std::vector<int32_t>& prompt, int n, const std::vector<int32_t>& stop = {},
                      const std::function<void(int32_t)>& on_token = {});

  const Model& model() const { return model_; }

 private:
  void validate(const Batch& batch, int64_t past) const;
  // Whether a cached sequence growing from `from` to `to` positions crosses a
  // longrope table's switch to its long factors (which changes every position).
  bool crosses_long_rope(int64_t from, int64_t to) const;
  const Model& model_;
  LinearRunner linear_;
  Workspace work_;
  // Rotary tables (one per ArchSpec::ropes entry) for positions 0..rope_positions_-1,
  // kept between runs and grown as needed: a generation step does not rebuild
  // them. An entry depends only on its position and frequency, not on the length.
  std::vector<kernels::RopeTable> ropes_;
  int64_t rope_positions_ = 0;
  std::vector<double> entropies_;  // blocks.{l}.attn.hook_pattern_entropy: [tokens, heads]
};

}  // namespace sg
