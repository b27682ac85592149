// The align experiment's capture: the last-token reducer keeps exactly the
// last rows of the engine's capture points (checked against CaptureStore), in
// any chunking, and feeds analyze() consistent matrices on golden models.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "experiments/align_capture.h"
#include "experiments/alignment_stats.h"
#include "measure/last_token.h"
#include "model/model.h"
#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

std::unique_ptr<Model> golden(const std::string& name) {
  return Model::load(test::shared_dir() / "golden/models" / name);
}

// Sequences of different lengths (ids inside every golden model's vocabulary, >= 256).
std::vector<std::vector<int32_t>> sample_sequences(size_t n) {
  std::vector<std::vector<int32_t>> seqs;
  for (size_t i = 0; i < n; ++i) {
    std::vector<int32_t> s;
    for (size_t t = 0; t < 1 + (i * 7) % 11; ++t) s.push_back(static_cast<int32_t>((i * 31 + t * 17 + 5) % 250));
    seqs.push_back(s);
  }
  return seqs;
}

PromptRun chunks_of(int64_t tokens) { return {.max_tokens = tokens}; }

double max_abs(const float* x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(x[i])));
  return m;
}

// Every kept row against the last row of the full tensor CaptureStore keeps from
// one forward of all sequences. The reducer's forwards are chunked differently,
// so the GEMMs may block differently: float32 rounding, not bit equality.
TEST(AlignCapture, RowsAreTheLastRowsOfTheCapturePoints) {
  for (const char* name : {"qwen2", "neox_parallel", "gptj", "gpt2"}) {
    auto model = golden(name);
    Engine engine(*model);
    const auto seqs = sample_sequences(9);
    CaptureStore store({"blocks.*.hook_resid_pre", "blocks.*.hook_attn_out", "blocks.*.hook_mlp_out"});
    Observer* obs[] = {&store};
    engine.run(Batch::of(seqs), obs);

    const LastTokenRows rows = capture_last_tokens(engine, seqs, chunks_of(12));
    const int64_t d = model->arch().d_model;
    ASSERT_EQ(rows.n_layers(), model->arch().n_layers);
    ASSERT_EQ(rows.d_model(), d);
    ASSERT_EQ(rows.n_sequences(), seqs.size());
    int compared = 0;
    for (int l = 0; l < rows.n_layers(); ++l)
      for (auto [point, hook] :
           {std::pair{LastTokenPoint::ResidPre, "hook_resid_pre"}, std::pair{LastTokenPoint::AttnOut, "hook_attn_out"},
            std::pair{LastTokenPoint::MlpOut, "hook_mlp_out"}})
        for (size_t s = 0; s < seqs.size(); ++s) {
          const auto full_name = "seq" + std::to_string(s) + ".blocks." + std::to_string(l) + "." + hook;
          const StoredTensor* full = store.find(full_name);
          ASSERT_NE(full, nullptr) << full_name;
          const float* want = full->data.data() + (full->shape[0] - 1) * d;
          const float* got = rows.row(l, point, s);
          const double scale = max_abs(want, d);
          for (int64_t k = 0; k < d; ++k) ASSERT_NEAR(got[k], want[k], 1e-5 * scale + 1e-7) << name << " " << full_name;
          ++compared;
        }
    EXPECT_EQ(compared, rows.n_layers() * 3 * 9) << name;
  }
}

TEST(AlignCapture, ChunkingDoesNotChangeTheRows) {
  auto model = golden("llama");
  Engine engine(*model);
  const auto seqs = sample_sequences(7);
  const LastTokenRows one = capture_last_tokens(engine, seqs, chunks_of(1 << 20));
  // Budget 1: every sequence runs alone (those longer than the budget too).
  const LastTokenRows alone = capture_last_tokens(engine, seqs, chunks_of(1));
  const int64_t d = one.d_model();
  for (int l = 0; l < one.n_layers(); ++l)
    for (auto p : {LastTokenPoint::ResidPre, LastTokenPoint::AttnOut, LastTokenPoint::MlpOut})
      for (size_t s = 0; s < seqs.size(); ++s) {
        const double scale = max_abs(one.row(l, p, s), d);
        for (int64_t k = 0; k < d; ++k) ASSERT_NEAR(alone.row(l, p, s)[k], one.row(l, p, s)[k], 1e-5 * scale + 1e-7);
      }
}

TEST(AlignCapture, ReducerRefusesMoreSequencesThanItHasRoomFor) {
  auto model = golden("qwen2");
  Engine engine(*model);
  LastTokenReducer reducer(model->arch().n_layers, model->arch().d_model, 2);
  Observer* obs[] = {&reducer};
  const auto seqs = sample_sequences(3);
  EXPECT_THROW(engine.run(Batch::of(seqs), obs), Error);
  EXPECT_EQ(reducer.filled(), 0u);
}

// Captured pairs through analyze(): each layer's z after its MLP is the next
// layer's z before it (h_post_mlp[l] = h_pre[l+1] for both residual topologies,
// up to float32 rounding of the engine's own sum), and parallel-residual models
// carry the label that h_pre + attn is not one of their states.
TEST(AlignCapture, AnalyzeOnCapturedPairs) {
  for (const char* name : {"qwen2", "neox_parallel"}) {
    auto model = golden(name);
    Engine engine(*model);
    const size_t n = 12;
    auto seqs = sample_sequences(n);  // a sides
    for (size_t i = 0; i < n; ++i) {  // b sides: the a side with a different first token
      auto b = seqs[i];
      b.insert(b.begin(), static_cast<int32_t>(230 + i));
      seqs.push_back(b);
    }
    const LastTokenRows rows = capture_last_tokens(engine, seqs);
    const auto pairs = align::layer_pairs(rows);
    ASSERT_EQ(pairs.size(), static_cast<size_t>(model->arch().n_layers));
    EXPECT_EQ(pairs[1].b.mlp_delta.data, rows.row(1, LastTokenPoint::MlpOut, n));
    align::AlignOptions opt;
    opt.n_perms = 50;
    opt.parallel_residual = model->arch().parallel_residual;
    const align::AlignResult r = align::analyze(pairs, opt);
    EXPECT_EQ(r.post_attn_is_model_state, !model->arch().parallel_residual) << name;
    EXPECT_EQ(r.n_pairs, n);
    for (size_t l = 0; l + 1 < r.layers.size(); ++l)
      EXPECT_NEAR(r.layers[l].raw.post_mlp.z, r.layers[l + 1].raw.pre.z,
                  1e-4 * (1 + std::fabs(r.layers[l + 1].raw.pre.z)))
          << name << " layer " << l;
  }
  const LastTokenRows odd(2, 4, 3);
  EXPECT_THROW(align::layer_pairs(odd), Error);
}

}  // namespace
}  // namespace sg
