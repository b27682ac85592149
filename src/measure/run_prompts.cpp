#include "measure/run_prompts.h"

#include <fmt/format.h>

#include <algorithm>

#include "dist/comm.h"

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

std::vector<size_t> share_by_tokens(std::span<const std::vector<int32_t>> sequences, int parts) {
  const size_t n = sequences.size(), p = static_cast<size_t>(std::max(parts, 1));
  auto length = [&](size_t i) { return static_cast<int64_t>(sequences[i].size()); };
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += length(i);
  std::vector<size_t> first(p + 1, n);
  first[0] = 0;
  size_t s = 0;
  int64_t done = 0;
  for (size_t r = 1; r < p; ++r) {
    // The sequence boundary nearest r/p of the tokens...
    const int64_t target = total * static_cast<int64_t>(r) / static_cast<int64_t>(p);
    while (s < n && done + length(s) / 2 < target) done += length(s++);
    // ...with at least one sequence in this share and one for each share after
    // it, as long as there are sequences enough.
    const size_t lo = std::min(n, first[r - 1] + 1), hi = n >= p - r ? n - (p - r) : lo;
    while (s < lo) done += length(s++);
    while (s > std::max(lo, hi)) done -= length(--s);
    first[r] = s;
  }
  return first;
}

void run_prompts(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Reducer* const> reducers,
                 const PromptRun& options) {
  const dist::Comm& comm = dist::world();
  if (comm.distributed()) {
    const auto first = share_by_tokens(sequences, comm.size());
    const auto r = static_cast<size_t>(comm.rank());
    run_prompts_here(engine, sequences.subspan(first[r], first[r + 1] - first[r]), reducers, options);
    for (Reducer* red : reducers) {
      const auto parts = comm.allgather_bytes(red->save());
      red->restore(parts);
    }
    return;
  }
  run_prompts_here(engine, sequences, reducers, options);
}

void run_prompts_here(Engine& engine, std::span<const std::vector<int32_t>> sequences,
                      std::span<Reducer* const> reducers, const PromptRun& options) {
  const std::vector<Observer*> observers(reducers.begin(), reducers.end());
  const auto batches = chunk_by_tokens(sequences, options.max_tokens);
  for (size_t i = 0; i < batches.size(); ++i) {
    // The engine's per-layer progress line, naming the chunk when there are several.
    std::string label = options.progress_label;
    if (!label.empty() && batches.size() > 1) label += fmt::format(" chunk {}/{}", i + 1, batches.size());
    engine.run(batches[i], observers, {label, options.between_layers});
    for (Reducer* r : reducers) r->finish_batch(batches[i]);
  }
}

}  // namespace sg
