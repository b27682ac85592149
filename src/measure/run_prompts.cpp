#include "measure/run_prompts.h"

#include <fmt/format.h>

#include <algorithm>

#include "dist/comm.h"
#include "util/error.h"

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

std::span<const std::vector<int32_t>> my_share(std::span<const std::vector<int32_t>> sequences, size_t* first) {
  const dist::Comm& comm = dist::world();
  const dist::Pipeline pipe = dist::pipeline();
  const int shares = pipe.on() ? pipe.replicas : comm.size();
  const int mine = pipe.on() ? pipe.replica : comm.rank();
  const auto starts = share_by_tokens(sequences, shares);
  const auto r = static_cast<size_t>(mine);
  if (first) *first = starts[r];
  return sequences.subspan(starts[r], starts[r + 1] - starts[r]);
}

namespace {

// Each reducer's state, gathered from every rank: in the layer pipeline, first
// each replica's stages are put together (take_stage), then the replicas in
// order, which is the sequences' order (restore).
void gather_reducers(std::span<Reducer* const> reducers, const Model& model) {
  const dist::Comm& comm = dist::world();
  const dist::Pipeline pipe = dist::pipeline();
  for (Reducer* red : reducers) {
    auto parts = comm.allgather_bytes(red->save());
    if (pipe.on()) {
      std::vector<std::vector<std::byte>> replicas;
      for (int rep = 0; rep < pipe.replicas; ++rep) {
        red->restore({});
        for (int s = 0; s < pipe.stages; ++s)
          red->take_stage(parts[static_cast<size_t>(pipe.rank_of(rep, s))],
                          Model::stage_of(model.arch().n_layers, s, pipe.stages));
        replicas.push_back(red->save());
      }
      parts = std::move(replicas);
      red->set_stage({});
    }
    red->restore(parts);
  }
}

}  // namespace

void run_prompts(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Reducer* const> reducers,
                 const PromptRun& options) {
  const Model::Stage& stage = engine.model().stage();
  if (stage.count > 1) {
    for (Reducer* r : reducers) r->set_stage(stage);
    const std::vector<Observer*> observers(reducers.begin(), reducers.end());
    run_stage(engine, my_share(sequences), observers, options, [&](const Batch& b) {
      for (Reducer* r : reducers) r->finish_batch(b);
    });
    gather_reducers(reducers, engine.model());
    return;
  }
  if (dist::world().distributed()) {
    run_prompts_here(engine, my_share(sequences), reducers, options);
    gather_reducers(reducers, engine.model());
    return;
  }
  run_prompts_here(engine, sequences, reducers, options);
}

void run_stage(Engine& engine, std::span<const std::vector<int32_t>> sequences, std::span<Observer* const> observers,
               const PromptRun& options, const std::function<void(const Batch&)>& after_chunk) {
  const Model::Stage& stage = engine.model().stage();
  const dist::Pipeline pipe = dist::pipeline();
  if (pipe.stages != stage.count || pipe.stage != stage.index)
    fail("internal: the model is stage {} of {}, the pipeline's rank is stage {} of {}", stage.index, stage.count,
         pipe.stage, pipe.stages);
  const dist::Comm& comm = dist::world();
  const int previous = pipe.rank_of(pipe.replica, pipe.stage - 1), next = pipe.rank_of(pipe.replica, pipe.stage + 1);
  // Chunks small enough that every stage has work while the others do (about
  // four per stage), and no larger than options.max_tokens.
  int64_t total = 0;
  for (const auto& s : sequences) total += static_cast<int64_t>(s.size());
  const int64_t chunk = std::clamp<int64_t>(total / (4 * stage.count), 1, options.max_tokens);
  const auto batches = chunk_by_tokens(sequences, chunk);
  const int64_t d = engine.model().arch().d_model;
  constexpr int kTag = 1;  // (messages between two ranks arrive in the order sent)
  std::vector<float> input;
  std::vector<float> output[2];
  dist::Request sent[2];
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto n = static_cast<size_t>(batches[i].n_tokens() * d);
    if (!stage.first()) {
      input.resize(n);
      comm.recv_floats(previous, kTag, input);
    }
    std::vector<float>& out = output[i % 2];
    sent[i % 2].wait();  // the send from this buffer two chunks ago
    if (!stage.last()) out.resize(n);
    RunOptions run{options.progress_label, options.between_layers};
    run.stage_input = input.data();
    run.stage_output = out.data();
    engine.run(batches[i], observers, run);
    if (!stage.last()) sent[i % 2] = comm.send_floats(next, kTag, out);
    if (after_chunk) after_chunk(batches[i]);
  }
  for (auto& s : sent) s.wait();
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
