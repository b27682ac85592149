// The padding-free batch: a sequence's results do not depend on which other
// sequences share the batch, nor on its place in it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/capture_store.h"
#include "io/safetensors.h"

#include <cmath>
#include "engine/engine.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

CaptureStore run_all(Engine& engine, const std::vector<std::vector<int32_t>>& seqs) {
  CaptureStore store({"*"});
  Observer* obs[] = {&store};
  engine.run(Batch::of(seqs), obs);
  return store;
}

class BatchIndependence : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchIndependence, SequenceResultsDoNotDependOnTheirNeighbours) {
  auto model = Model::load(test::shared_dir() / "golden/models" / GetParam());
  Engine engine(*model);
  const std::vector<int32_t> target{17, 5, 99, 3, 42, 8, 150, 23, 77, 1, 64};
  const auto alone = run_all(engine, {target});
  const auto crowd = run_all(engine, {{1, 2, 3}, {200, 100, 50, 25, 12, 6, 3, 1, 0, 4, 9, 16, 25, 36, 49}, target,
                                      {7}, {8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}});
  int compared = 0;
  for (const auto& [name, t] : alone.tensors()) {
    const auto* other = crowd.find("seq2" + name.substr(name.find('.')));
    ASSERT_NE(other, nullptr) << name;
    ASSERT_EQ(t.shape, other->shape) << name;
    // Bit-identical: every row is computed by the same instructions in the same order.
    EXPECT_EQ(t.data, other->data) << name;
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchIndependence,
                         ::testing::Values("neox_parallel", "gptj", "qwen2", "llama", "gpt2"));

TEST(Generate, Stories260kMatchesTheIndependentImplementation) {
  const auto dir = test::shared_dir() / "models/stories260k";
  auto model = Model::load(dir);
  Engine engine(*model);
  const auto ref = nlohmann::json::parse(read_file(dir / "reference_generations.json"));
  int n = 0;
  for (const auto& g : ref["generations"]) {
    const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const auto expected = g["generated_ids"].get<std::vector<int32_t>>();
    const bool by_bos = g["terminated_by_bos"].get<bool>();
    // run.c stops (without printing) when the model emits BOS = 1.
    auto out = engine.generate(prompt, static_cast<int>(expected.size()) + (by_bos ? 1 : 0), {1});
    if (by_bos) {
      ASSERT_FALSE(out.empty());
      EXPECT_EQ(out.back(), 1);
      out.pop_back();
    }
    EXPECT_EQ(out, expected) << "prompt \"" << g["prompt"].get<std::string>() << "\"";
    ++n;
  }
  EXPECT_EQ(n, 4);
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

// --fast: BF16 products with float32 accumulation. Activations are rounded to
// BF16 (8 significant bits), so the result is close to, not equal to, the
// reference: this checks the path reads the weights right, not its precision.
TEST(FastPath, Bf16ProductsStayCloseToTheReference) {
  const auto shared = test::shared_dir();
  auto model = Model::load(shared / "golden/models/neox_parallel_bf16");
  SafetensorsFile golden(shared / "golden/expected/neox_parallel_bf16/golden.safetensors");
  Engine engine(*model, MatmulPrecision::BF16);
  CaptureStore store({"blocks.*.hook_attn_out", "blocks.*.hook_mlp_out", "logits"});
  Observer* obs[] = {&store};
  const std::vector<int32_t> seq{229, 29, 129, 164, 169, 254, 126};
  engine.run(Batch::of(std::vector<std::vector<int32_t>>{seq}), obs);
  for (auto [g, c] : std::vector<std::pair<std::string, std::string>>{
           {"seq1.layer0.attn_out", "seq0.blocks.0.hook_attn_out"},
           {"seq1.layer3.mlp_out", "seq0.blocks.3.hook_mlp_out"},
           {"seq1.logits", "seq0.logits"}}) {
    const TensorView* gt = golden.find(g);
    ASSERT_NE(gt, nullptr);
    std::vector<float> want(gt->numel());
    to_f32(gt->dtype, gt->data, want.data(), want.size());
    const auto& got = store.find(c)->data;
    ASSERT_EQ(got.size(), want.size());
    double max_w = 0, max_d = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      max_w = std::max(max_w, std::fabs(double(want[i])));
      max_d = std::max(max_d, std::fabs(double(got[i]) - want[i]));
    }
    EXPECT_LT(max_d, 2e-2 * max_w) << c;
    EXPECT_GT(max_d, 0.0) << c << ": the BF16 path is not in use";
  }
}

}  // namespace
}  // namespace sg
