#include "engine/capture.h"

#include <gtest/gtest.h>

#include <set>

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
