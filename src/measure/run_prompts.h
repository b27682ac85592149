#pragma once
// The one prompt-running driver of every experiment: a prompt set runs
// through the engine in chunks of at most max_tokens tokens (sequences packed
// in order; a longer sequence runs alone), so memory stays bounded whatever
// the number of prompts, and every experiment cuts the same prompts into the
// same chunks. Each reducer sees every chunk, then finish_batch().
//
// Launched on several MPI ranks (dist/comm.h), each rank runs a contiguous
// share of the sequences, balanced by token count (share_by_tokens), and the
// reducers then exchange and rebuild their state (Reducer::save / restore), so
// every rank ends with what one process would hold, bit for bit: a sequence's
// results do not depend on what shares its forward.
//
// With a model loaded as one stage of the layer pipeline (Model::Stage,
// dist::Pipeline), each replica of stages takes a share of the sequences the
// same way; within a replica the sequences run in chunks through the stages in
// turn (run_stage), and the reducers gather their stages' layers
// (Reducer::take_stage) and then the replicas' sequences.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "measure/reducer.h"

namespace sg {

struct PromptRun {
  int64_t max_tokens = 8192;        // tokens per forward (a few thousand keep the GEMMs efficient)
  std::string progress_label = {};  // non-empty: a progress line on a terminal
  MatmulPrecision precision = MatmulPrecision::F32;
  std::function<void()> between_layers = {};  // RunOptions::between_layers of every forward
};

// The first sequence of each of `parts` contiguous shares (and the end): share
// r is [first[r], first[r + 1]). Shares have about equal token counts; each of
// the first min(parts, sequences) shares has at least one sequence.
std::vector<size_t> share_by_tokens(std::span<const std::vector<int32_t>> sequences, int parts);

// The chunks run_prompts() runs, in order.
std::vector<Batch> chunk_by_tokens(std::span<const std::vector<int32_t>> sequences, int64_t max_tokens);

// Runs every sequence through `engine`, chunked, for all reducers. Throws
// sg::Error as Engine::run does.
void run_prompts(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Reducer* const> reducers,
                 const PromptRun& options = {});
// This rank's part of the layer pipeline over one replica's sequences:
// chunk after chunk, the residual stream entering this stage's first layer
// comes from the previous stage's rank and the one leaving its last layer goes
// on to the next, while this rank goes on with its next chunk (two chunks'
// outputs in flight). `after_chunk` (if set) sees each chunk once it has run.
void run_stage(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Observer* const> observers,
               const PromptRun& options, const std::function<void(const Batch&)>& after_chunk = {});

// The sequences of this rank's data-parallel share: the whole set in a world
// of one; among the replicas of the layer pipeline, its replica's.
std::span<const std::vector<int32_t>> my_share(std::span<const std::vector<int32_t>> sequences,
                                               size_t* first = nullptr);

// The same in this process only, whatever the world (one rank's share).
void run_prompts_here(Engine& engine, std::span<const std::vector<int32_t>> sequences,
                      std::span<Reducer* const> reducers, const PromptRun& options = {});

}  // namespace sg
