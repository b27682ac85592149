// A run that continues a KV cache gives, for its tokens, the same bits at every
// capture point as one run over the whole sequence (so `generate` with a cache
// is the same computation as without), and generation stops at the model's
// positions, saying so.
#include <gtest/gtest.h>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

class KvCacheRun : public ::testing::TestWithParam<const char*> {};

// Rows [begin, end) of every activation captured for one sequence, by capture name.
std::map<std::string, std::vector<float>> rows_of(const CaptureStore& store, int64_t begin, int64_t end) {
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, t] : store.tensors()) {
    const int64_t width = t.shape.back();
    out[name.substr(name.find('.') + 1)] =
        std::vector<float>(t.data.begin() + begin * width, t.data.begin() + end * width);
  }
  return out;
}

TEST_P(KvCacheRun, ContinuationsEqualTheWholeRunBitForBit) {
  auto model = Model::load(test::shared_dir() / "golden/models" / GetParam());
  Engine engine(*model);
  std::vector<int32_t> seq = test::golden_readme_sequences()[2];  // 33 tokens: past the windows and query blocks
  const int64_t T = static_cast<int64_t>(seq.size());
  // Everything but attention patterns (those are not observable in a cached run;
  // their entropies are).
  const std::vector<std::string> hooks = {"hook_embed",
                                          "hook_pos_embed",
                                          "blocks.*.hook_resid_*",
                                          "blocks.*.hook_attn_out",
                                          "blocks.*.hook_mlp_out",
                                          "blocks.*.ln?.hook_out",
                                          "blocks.*.attn.hook_out",
                                          "blocks.*.mlp.hook_out",
                                          "blocks.*.attn.hook_pattern_entropy",
                                          "ln_final.hook_out",
                                          "logits"};
  CaptureStore whole(hooks);
  Observer* w[] = {&whole};
  engine.run(Batch::of(std::span(&seq, 1)), w);

  // The prompt in pieces of 1, 7, 9 and the rest, through one cache.
  KvCache cache;
  int64_t begin = 0;
  for (int64_t piece : {1, 7, 9, 16}) {
    const int64_t end = std::min(T, begin + piece);
    std::vector<int32_t> part(seq.begin() + begin, seq.begin() + end);
    CaptureStore store(hooks);
    Observer* obs[] = {&store};
    engine.run(Batch::of(std::span(&part, 1)), obs, {}, &cache);
    EXPECT_EQ(cache.length, end);
    const auto got = rows_of(store, 0, end - begin), want = rows_of(whole, begin, end);
    ASSERT_EQ(got.size(), want.size());
    for (const auto& [name, rows] : want)
      EXPECT_TRUE(got.at(name) == rows) << GetParam() << " " << name << " rows " << begin << ".." << end;
    begin = end;
  }
  EXPECT_EQ(begin, T);
}

// Learned positions (gpt2), fused per-head QKV (neox), GQA and rope scaling,
// sliding windows and soft-caps (mistral, gemma2), q/k norms (qwen3); fused
// [Q|K|V] with GQA and partial rotary (phi3), post-norm blocks and q/k norms
// across heads (olmo2), local/global ropes (gemma3_text), a sparse MLP
// (qwen2_moe), one LayerNorm in parallel (phi).
INSTANTIATE_TEST_SUITE_P(Models, KvCacheRun,
                         ::testing::Values("gpt2", "neox_parallel", "neox_sequential", "gptj", "llama", "qwen2",
                                           "llama_rope_yarn", "mistral", "qwen3", "gemma", "gemma2", "phi3", "olmo2",
                                           "gemma3_text", "qwen2_moe", "phi"));

// Longrope: a sequence longer than the original length (16) rotates every
// position with the long factors, so a cache built at a shorter length cannot
// be continued past it: run() refuses, generate() reruns the whole sequence,
// and its tokens are those of rerunning the whole prefix each time.
TEST(Generate, LongropeCrossingTheOriginalLengthEqualsRerunning) {
  auto model = Model::load(test::shared_dir() / "golden/models/phi3_longrope");
  Engine engine(*model);
  std::vector<int32_t> seq = {5, 17, 3, 200, 9, 41, 77, 12, 8, 100};
  {
    KvCache cache;
    CaptureStore store({"logits"});
    Observer* obs[] = {&store};
    std::vector<int32_t> first(seq.begin(), seq.begin() + 10), more(8, 3);
    engine.run(Batch::of(std::span(&first, 1)), obs, {}, &cache);
    EXPECT_THROW(engine.run(Batch::of(std::span(&more, 1)), obs, {}, &cache), Error);
  }
  const Generation g = engine.generate(seq, 14);  // positions 10..23: crosses 16
  ASSERT_EQ(g.tokens.size(), 14u);
  for (int32_t next : g.tokens) {
    struct Last : Observer {
      bool wants(const PointId& p) override { return p.point == Point::Logits; }
      void on_activation(const PointId&, const Batch& b, const float* rows, int64_t width) override {
        const float* r = rows + b.last_row(0) * width;
        argmax = static_cast<int32_t>(std::max_element(r, r + width) - r);
      }
      int32_t argmax = -1;
    } last;
    Observer* obs[] = {&last};
    engine.run(Batch::of(std::span(&seq, 1)), obs);
    EXPECT_EQ(last.argmax, next) << "after " << seq.size() << " tokens";
    seq.push_back(next);
  }
}

TEST(Generate, StopsAtThePositionLimitSayingSo) {
  auto model = Model::load(test::shared_dir() / "golden/models/gpt2");  // n_positions 64
  Engine engine(*model);
  const std::vector<int32_t> prompt(60, 7);
  std::vector<int32_t> seen;
  const Generation g = engine.generate(prompt, 100, {}, [&](int32_t id) { seen.push_back(id); });
  EXPECT_EQ(g.end, Generation::End::PositionLimit);
  EXPECT_EQ(g.tokens.size(), 5u);  // predictions for positions 60..64 from inputs up to position 63
  EXPECT_EQ(seen, g.tokens);
  EXPECT_EQ(engine.generate(prompt, 3).end, Generation::End::Length);
  EXPECT_EQ(engine.generate(std::vector<int32_t>(65, 7), 3).end, Generation::End::PositionLimit);
}

// Greedy tokens with the cache equal those of rerunning the whole prefix.
TEST(Generate, TheCacheChangesNoToken) {
  auto model = Model::load(test::shared_dir() / "golden/models/gemma2");
  Engine engine(*model);
  std::vector<int32_t> seq = {5, 17, 3};
  const Generation g = engine.generate(seq, 20);
  for (int32_t next : g.tokens) {
    struct Last : Observer {
      bool wants(const PointId& p) override { return p.point == Point::Logits; }
      void on_activation(const PointId&, const Batch& b, const float* rows, int64_t width) override {
        const float* r = rows + b.last_row(0) * width;
        argmax = static_cast<int32_t>(std::max_element(r, r + width) - r);
      }
      int32_t argmax = -1;
    } last;
    Observer* obs[] = {&last};
    engine.run(Batch::of(std::span(&seq, 1)), obs);
    EXPECT_EQ(last.argmax, next);
    seq.push_back(next);
  }
}

}  // namespace
}  // namespace sg
