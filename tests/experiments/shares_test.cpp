// Data parallel without MPI: the shares each rank runs (share_by_tokens) and
// the reducers' save/restore, emulated in one process: ranks running their
// shares on fresh reducers, then restoring from every rank's saved part, hold
// exactly what one reducer running every sequence holds. The same for the
// layer pipeline: models loaded as stages, the stream passed from one to the
// next, each stage's reducer put together with the others (take_stage).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <numeric>

#include "engine/engine.h"
#include "measure/last_token.h"
#include "measure/run_prompts.h"
#include "measure/stream_norms.h"
#include "measure/sublayer_stats.h"
#include "support/test_support.h"

namespace sg {
namespace {

std::vector<std::vector<int32_t>> sequences(size_t n) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < n; ++i) {
    std::vector<int32_t> s;
    for (size_t t = 0; t < 1 + (i * 7) % 13; ++t) s.push_back(static_cast<int32_t>((i * 31 + t * 17 + 5) % 250));
    out.push_back(s);
  }
  return out;
}

TEST(ShareByTokens, ContiguousCoveringBalancedAndNeverEmptyWhileSequencesRemain) {
  for (size_t n : {0, 1, 2, 3, 5, 17, 64})
    for (int parts : {1, 2, 3, 4, 7}) {
      const auto seqs = sequences(n);
      const auto first = share_by_tokens(seqs, parts);
      ASSERT_EQ(first.size(), static_cast<size_t>(parts) + 1);
      EXPECT_EQ(first.front(), 0u);
      EXPECT_EQ(first.back(), n);
      int64_t total = 0, longest = 0;
      for (const auto& s : seqs)
        total += static_cast<int64_t>(s.size()), longest = std::max<int64_t>(longest, s.size());
      for (int r = 0; r < parts; ++r) {
        ASSERT_LE(first[r], first[r + 1]);
        const size_t count = first[r + 1] - first[r];
        if (static_cast<size_t>(r) < std::min<size_t>(n, parts)) {
          EXPECT_GE(count, 1u) << n << " " << parts << " " << r;
        }
        int64_t tokens = 0;
        for (size_t s = first[r]; s < first[r + 1]; ++s) tokens += static_cast<int64_t>(seqs[s].size());
        if (n >= static_cast<size_t>(parts) * 4) {  // enough sequences to balance: within a sequence or two of even
          EXPECT_LE(std::abs(tokens - total / parts), 2 * longest) << n << " " << parts << " " << r;
        }
      }
    }
}

// Runs `make()`'s reducer over all sequences in one process, and over `ranks`
// shares on separate reducers that then restore from every share's save().
template <class R, class Make, class Same>
void check_restore(Engine& engine, const std::vector<std::vector<int32_t>>& seqs, int ranks, Make make, Same same) {
  R whole = make();
  Reducer* one[] = {&whole};
  run_prompts_here(engine, seqs, one, {.max_tokens = 40});
  const auto first = share_by_tokens(seqs, ranks);
  std::vector<R> parts;
  std::vector<std::vector<std::byte>> saved;
  for (int r = 0; r < ranks; ++r) {
    parts.push_back(make());
    Reducer* mine[] = {&parts.back()};
    run_prompts_here(engine, std::span(seqs).subspan(first[r], first[r + 1] - first[r]), mine, {.max_tokens = 40});
    saved.push_back(parts.back().save());
  }
  for (auto& p : parts) {
    p.restore(saved);
    same(whole, p);
  }
}

// Runs `make()`'s reducer over all sequences in one process, and through the
// model loaded as `stages` stages, chunk by chunk, each stage on its own
// reducer; then puts the stages' saved parts together on a fresh reducer.
template <class R, class Make, class Same>
void check_stages(Engine& engine, const std::vector<std::vector<int32_t>>& seqs, int stages, Make make, Same same) {
  constexpr int64_t kChunk = 40;
  R whole = make();
  Reducer* one[] = {&whole};
  run_prompts_here(engine, seqs, one, {.max_tokens = kChunk});
  std::vector<std::unique_ptr<Model>> models;
  std::vector<std::unique_ptr<Engine>> engines;
  std::vector<R> parts;
  for (int s = 0; s < stages; ++s) {
    models.push_back(Model::load(engine.model().dir(), s, stages));
    engines.push_back(std::make_unique<Engine>(*models.back()));
    parts.push_back(make());
  }
  const int64_t d = engine.model().arch().d_model;
  for (const Batch& b : chunk_by_tokens(seqs, kChunk)) {
    std::vector<float> in, out(static_cast<size_t>(b.n_tokens() * d));
    for (int s = 0; s < stages; ++s) {
      parts[s].set_stage(models[s]->stage());
      Observer* obs[] = {&parts[s]};
      RunOptions o;
      o.stage_input = in.data();
      o.stage_output = out.data();
      engines[s]->run(b, obs, o);
      parts[s].finish_batch(b);
      in = out;
    }
  }
  R merged = make();
  merged.restore({});
  for (int s = 0; s < stages; ++s) merged.take_stage(parts[s].save(), models[s]->stage());
  same(whole, merged);
}

// Both emulations, for one kind of reducer.
template <class R, class Make, class Same>
void check_both(Engine& engine, const std::vector<std::vector<int32_t>>& seqs, int ranks, Make make, Same same) {
  check_restore<R>(engine, seqs, ranks, make, same);
  if (ranks <= engine.model().arch().n_layers) check_stages<R>(engine, seqs, ranks, make, same);
}

TEST(ReducerRestore, EveryReducerRebuildsTheSingleProcessState) {
  for (const char* name : {"gemma2", "qwen2_moe", "gpt2"}) {  // raw sublayer outputs; routed tokens; positions
    auto model = Model::load(test::shared_dir() / "golden/models" / name);
    Engine engine(*model);
    const auto seqs = sequences(9);
    const int L = model->arch().n_layers;
    const int64_t d = model->arch().d_model;
    for (int ranks : {1, 2, 3, 12}) {
      check_both<SublayerStatsReducer>(
          engine, seqs, ranks, [&] { return SublayerStatsReducer(L, true); },
          [&](const SublayerStatsReducer& a, const SublayerStatsReducer& b) {
            const auto &x = a.stats(), &y = b.stats();
            ASSERT_EQ(x.offsets, y.offsets);
            EXPECT_EQ(x.attn_raw, y.attn_raw);
            EXPECT_EQ(x.mlp_raw, y.mlp_raw);
            EXPECT_EQ(x.routed, y.routed);
            for (int l = 0; l < L; ++l) {
              ASSERT_EQ(x.layers[l].size(), y.layers[l].size());
              EXPECT_EQ(
                  std::memcmp(x.layers[l].data(), y.layers[l].data(), x.layers[l].size() * sizeof(SublayerTokenStats)),
                  0)
                  << "layer " << l << ", " << ranks << " ranks";
            }
          });
      check_both<residual::StreamNormReducer>(
          engine, seqs, ranks, [&] { return residual::StreamNormReducer(L, seqs.size()); },
          [&](const residual::StreamNormReducer& a, const residual::StreamNormReducer& b) {
            for (size_t s = 0; s < seqs.size(); ++s) {
              EXPECT_EQ(a.norms()[s].last, b.norms()[s].last);
              EXPECT_EQ(a.norms()[s].mean, b.norms()[s].mean);
            }
          });
      check_both<LastTokenReducer>(
          engine, seqs, ranks, [&] { return LastTokenReducer(L, d, seqs.size()); },
          [&](const LastTokenReducer& a, const LastTokenReducer& b) {
            ASSERT_EQ(a.filled(), b.filled());
            for (int l = 0; l < L; ++l)
              for (auto p : {LastTokenPoint::ResidPre, LastTokenPoint::AttnOut, LastTokenPoint::MlpOut})
                EXPECT_EQ(std::memcmp(a.rows().row(l, p, 0), b.rows().row(l, p, 0), seqs.size() * d * sizeof(float)),
                          0);
          });
    }
  }
}

}  // namespace
}  // namespace sg
