#include "measure/run_prompts.h"

#include <fmt/format.h>

namespace sg {

std::vector<Batch> chunk_by_tokens(std::span<const std::vector<int32_t>> sequences, int64_t max_tokens) {
  std::vector<Batch> out;
  for (const auto& s : sequences) {
    if (out.empty() ||
        (out.back().n_tokens() > 0 && out.back().n_tokens() + static_cast<int64_t>(s.size()) > max_tokens))
      out.emplace_back();
    out.back().add(s);
  }
  return out;
}

void run_prompts(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Reducer* const> reducers,
                 const PromptRun& options) {
  const std::vector<Observer*> observers(reducers.begin(), reducers.end());
  const auto batches = chunk_by_tokens(sequences, options.max_tokens);
  for (size_t i = 0; i < batches.size(); ++i) {
    // The engine's per-layer progress line, naming the chunk when there are several.
    std::string label = options.progress_label;
    if (!label.empty() && batches.size() > 1) label += fmt::format(" chunk {}/{}", i + 1, batches.size());
    engine.run(batches[i], observers, {label});
    for (Reducer* r : reducers) r->finish_batch(batches[i]);
  }
}

}  // namespace sg
