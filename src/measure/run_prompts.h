#pragma once
// The one prompt-running driver of every experiment: a prompt set runs
// through the engine in chunks of at most max_tokens tokens (sequences packed
// in order; a longer sequence runs alone), so memory stays bounded whatever
// the number of prompts, and every experiment cuts the same prompts into the
// same chunks. Each reducer sees every chunk, then finish_batch().
#include <cstdint>
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
};

// The chunks run_prompts() runs, in order.
std::vector<Batch> chunk_by_tokens(std::span<const std::vector<int32_t>> sequences, int64_t max_tokens);

// Runs every sequence through `engine`, chunked, for all reducers. Throws
// sg::Error as Engine::run does.
void run_prompts(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Reducer* const> reducers,
                 const PromptRun& options = {});

}  // namespace sg
