#pragma once
// Reducers: observers that turn capture points into small statistics on the
// fly (accumulated in double), so experiments never hold whole activations.
// A reducer sees any number of forwards (chunks of one prompt set, in order);
// finish_batch() after each lets it register that chunk's sequences.
//
// This folder (src/measure) holds the reducers and the one driver that runs a
// prompt set through the engine for all of them (run_prompts.h). The engine
// knows nothing about any experiment; experiments are pure functions of what
// the reducers gathered.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "engine/capture.h"
#include "model/model.h"

namespace sg {

class Reducer : public Observer {
 public:
  // Called after each forward with that forward's batch.
  virtual void finish_batch(const Batch& batch) = 0;

  // Data parallel (run_prompts.h, dist/comm.h): each rank runs a contiguous
  // share of the sequences, in order; then every rank saves what it gathered
  // and restores the whole from all ranks' saved parts in rank order (= the
  // sequences' order). After restore() the reducer must be exactly what one
  // process running every sequence would hold. The defaults refuse.
  virtual std::vector<std::byte> save() const;
  virtual void restore(std::span<const std::vector<std::byte>> parts);

  // The layer pipeline (run_prompts.h): each stage's reducer sees only the
  // capture points its stage holds (set_stage tells it which, so it does not
  // miss the others). take_stage() then copies, from one stage's save(), the
  // values of the points that stage holds; restore({}) followed by
  // take_stage() of every stage of a replica gives what one process running
  // the replica's sequences would hold. The default refuses.
  void set_stage(const Model::Stage& stage) { stage_ = stage; }
  virtual void take_stage(std::span<const std::byte> saved, const Model::Stage& stage);

 protected:
  // Whether this process's stage computes layer l (always, outside the pipeline).
  bool layer_here(int l) const { return stage_.count == 1 || stage_.holds_layer(l); }

 private:
  Model::Stage stage_;
};

// Whether a stage of the layer pipeline computes a capture point: a block's
// points on the stage holding the block, the embedding's on the first, the
// final norm's and the logits on the last.
bool stage_holds(const Model::Stage& stage, const PointId& point);

// The L2 norm of one activation row, accumulated in double (torch.norm(x, dim=-1)
// of the seeds, per token). Summed by vec::fixed_sum: the same bits on every CPU.
double row_norm(const float* x, int64_t n);

}  // namespace sg
