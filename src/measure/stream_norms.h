#pragma once
// The residual stream's norm at its true measurement points, per prompt: the
// embedding output, every block's output and the final norm's output (the
// `residual` experiment, seed 004, reads these).
#include <cstdint>
#include <string>
#include <vector>

#include "measure/reducer.h"

namespace sg::residual {

// --- true measurement points ---
// Point k of the residual stream, k = 0..L+1: 0 = embedding output
// (blocks.0.hook_resid_pre), 1..L = output of block k-1
// (blocks.{k-1}.hook_resid_post), L+1 = final norm output (ln_final.hook_out).
int n_points(int n_layers);
PointId point_id(int k, int n_layers);              // its capture point (name(): blocks.0.hook_resid_pre ...)
std::string point_short_name(int k, int n_layers);  // "embed", "resid_post[3]", "final_norm"
void check_point(int k, int n_layers);              // throws sg::Error unless 0 <= k < n_points

// Norms of one prompt at the L+2 points, reduced in double precision.
struct PromptNorms {
  std::vector<double> last;  // ||x[T-1]||_2, the last token (the seed's h[:, -1, :])
  std::vector<double> mean;  // mean over tokens t of ||x[t]||_2
};

// Reduces the L+2 residual points of every sequence to PromptNorms as they are
// computed (no activation is stored), over one or more forwards (run_prompts).
class StreamNormReducer : public Reducer {
 public:
  StreamNormReducer(int n_layers, size_t n_sequences);
  bool wants(const PointId& point) override;
  void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) override;
  void finish_batch(const Batch& batch) override;
  std::vector<std::byte> save() const override;
  void restore(std::span<const std::vector<std::byte>> parts) override;
  void take_stage(std::span<const std::byte> saved, const Model::Stage& stage) override;
  // Throws sg::Error if a point never arrived (the forward did not reach it).
  const std::vector<PromptNorms>& norms() const;

 private:
  int n_layers_;
  std::vector<PromptNorms> norms_;
  std::vector<bool> seen_;  // per point
  size_t base_ = 0;         // slot of the current batch's first sequence
};

}  // namespace sg::residual
