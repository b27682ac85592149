#include "engine/capture.h"

#include <gtest/gtest.h>

#include <set>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "support/test_support.h"

namespace sg {
namespace {

TEST(CapturePoints, NamesRoundTrip) {
  ArchSpec a;
  a.n_layers = 3;
  for (bool parallel : {false, true}) {
    a.parallel_residual = parallel;
    std::set<std::string> seen;
    for (const PointId& p : capture_points(a)) {
      const auto name = p.name();
      EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
      auto back = PointId::parse(name);
      ASSERT_TRUE(back.has_value()) << name;
      EXPECT_EQ(*back, p);
    }
    EXPECT_EQ(seen.count("blocks.1.hook_resid_mid"), parallel ? 0u : 1u);
  }
  EXPECT_FALSE(PointId::parse("blocks.x.hook_resid_pre"));
  EXPECT_FALSE(PointId::parse("blocks.1.hook_nothing"));
  EXPECT_FALSE(PointId::parse("blocks.-1.hook_resid_pre"));
  EXPECT_FALSE(PointId::parse("hook_resid_pre"));
  EXPECT_EQ(PointId::parse("blocks.12.attn.hook_pattern")->layer, 12);
}

TEST(CapturePoints, GlobMatching) {
  EXPECT_TRUE(glob_match("blocks.*.hook_attn_out", "blocks.3.hook_attn_out"));
  EXPECT_TRUE(glob_match("*", "logits"));
  EXPECT_TRUE(glob_match("blocks.?.ln1.*", "blocks.3.ln1.hook_out"));
  EXPECT_FALSE(glob_match("blocks.?.ln1.*", "blocks.13.ln1.hook_out"));
  EXPECT_FALSE(glob_match("blocks.*.hook_attn_out", "blocks.3.hook_mlp_out"));
  EXPECT_TRUE(glob_match("*resid*", "blocks.0.hook_resid_post"));
}

}  // namespace
}  // namespace sg

#include "engine/kernels.h"
#include "util/error.h"

namespace sg {
namespace {

TEST(ResidualIdentity, AcceptsRoundingAndCatchesAWrongTensor) {
  std::vector<float> pre{1.0f, -2.0f, 3e5f}, attn{0.1f, 0.25f, -1e-3f}, mlp{1e-7f, 7.0f, 2.0f}, post(3);
  for (int i = 0; i < 3; ++i) post[i] = (pre[i] + attn[i]) + mlp[i];
  EXPECT_NO_THROW(kernels::check_residual(2, "resid_post", pre.data(), attn.data(), mlp.data(), post.data(), 3));
  // A capture point holding another tensor (here: the MLP output missing) is caught, naming the layer.
  for (int i = 0; i < 3; ++i) post[i] = pre[i] + attn[i];
  try {
    kernels::check_residual(2, "resid_post", pre.data(), attn.data(), mlp.data(), post.data(), 3);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 2"), std::string::npos) << e.what();
  }
  post[0] = NAN;
  EXPECT_THROW(kernels::check_residual(0, "resid_post", pre.data(), attn.data(), nullptr, post.data(), 3), Error);
}

// RunOptions::between_layers runs before each layer and the final norm; an
// exception thrown from it abandons the forward, and the same engine then gives
// the same bits as a fresh one (the Python binding's Ctrl-C).
TEST(Engine, BetweenLayersCanAbandonAForward) {
  auto model = Model::load(test::shared_dir() / "golden/models/neox_parallel");
  const std::vector<std::vector<int32_t>> seqs = {{1, 2, 3, 4}, {5, 6}};
  auto capture = [&](Engine& engine, const RunOptions& options) {
    CaptureStore store({"*"});
    Observer* obs[] = {&store};
    engine.run(Batch::of(seqs), obs, options);
    return store.tensors();
  };
  Engine fresh(*model);
  const auto expected = capture(fresh, {});

  Engine engine(*model);
  struct Stop {};
  int calls = 0;
  RunOptions stop;
  stop.between_layers = [&] {
    if (++calls == 3) throw Stop{};
  };
  EXPECT_THROW(capture(engine, stop), Stop);
  EXPECT_EQ(calls, 3);
  const auto again = capture(engine, {});
  ASSERT_EQ(again.size(), expected.size());
  for (const auto& [name, t] : expected) EXPECT_EQ(again.at(name).data, t.data) << name;

  calls = 0;
  RunOptions count;
  count.between_layers = [&] { ++calls; };
  capture(engine, count);
  EXPECT_EQ(calls, model->arch().n_layers + 1);
}

}  // namespace
}  // namespace sg
