// The float64 reference forward (engine/reference.h) against the golden
// float64 activations of every supported golden model.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "engine/reference.h"
#include "io/safetensors.h"
#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

using test::GoldenCase;

// ---------------------------------------------------------------------------
// Reference against the golden data.
//
// The golden activations were computed in float64 and stored rounded to
// float32, so the float64 reference r of an element lies within half a float32
// ulp of its stored value g, give or take the two float64 computations'
// disagreement. That disagreement is what is bounded: |r - g| - ulp(g)/2 <=
// 1e-10 max|g| over each tensor. (The rounding itself is up to 6e-8 relative.)

struct Deviation {
  double raw = 0;     // max |r - g| / max|g| over a tensor: includes the storage rounding
  double excess = 0;  // max (|r - g| - ulp(g)/2) / max|g|: the float64 disagreement
  size_t n = 0, rounded_equal = 0;  // elements, and those with float(r) == g
  void merge(const Deviation& o) {
    raw = std::max(raw, o.raw);
    excess = std::max(excess, o.excess);
    n += o.n;
    rounded_equal += o.rounded_equal;
  }
};

Deviation deviation(const std::vector<double>& r, const std::vector<float>& g) {
  Deviation d;
  double max_g = 0;
  for (float v : g) max_g = std::max(max_g, std::fabs(double(v)));
  if (max_g == 0) max_g = 1;
  for (size_t i = 0; i < g.size(); ++i) {
    const double diff = std::fabs(r[i] - g[i]);
    const float a = std::fabs(g[i]);
    const double half_ulp = 0.5 * (double(std::nextafter(a, INFINITY)) - a);
    d.raw = std::max(d.raw, diff / max_g);
    d.excess = std::max(d.excess, std::max(0.0, diff - half_ulp) / max_g);
    if (!(diff <= max_g)) d.excess = INFINITY;  // NaN
    d.rounded_equal += static_cast<float>(r[i]) == g[i];
  }
  d.n = g.size();
  return d;
}

std::vector<float> widen(const TensorView& t) {
  std::vector<float> v(t.numel());
  to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

std::vector<int32_t> input_ids(const SafetensorsFile& g, int seq) {
  const TensorView* t = g.find("seq" + std::to_string(seq) + ".input_ids");
  if (!t) return {};
  std::vector<int32_t> ids(t->numel());
  for (size_t j = 0; j < ids.size(); ++j) {
    int64_t v;
    std::memcpy(&v, t->data + 8 * j, 8);
    ids[j] = static_cast<int32_t>(v);
  }
  return ids;
}

class ReferenceGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(ReferenceGolden, AgreesWithTheGoldenFloat64Activations) {
  const auto& gc = GetParam();
  const auto shared = test::shared_dir();
  auto model = Model::load(shared / gc.model_dir);
  const ArchSpec& a = model->arch();
  SafetensorsFile golden(shared / "golden/expected" / gc.name / "golden.safetensors");
  SafetensorsFile debug(shared / "golden/expected" / gc.name / "debug.safetensors");

  Deviation total;
  int checked = 0;
  for (int s = 0; s < 3; ++s) {
    const auto ids = input_ids(golden, s);
    ASSERT_FALSE(ids.empty()) << gc.name << " seq" << s;
    EXPECT_EQ(ids, test::golden_readme_sequences()[s]) << gc.name << ": the golden file's sequence " << s;
    const auto ref = reference_forward(*model, ids);
    const std::string S = "seq" + std::to_string(s) + ".";
    auto check = [&](const SafetensorsFile& file, const std::string& golden_name, const std::string& ours) {
      const TensorView* g = file.find(golden_name);
      ASSERT_NE(g, nullptr) << gc.name << " " << golden_name;
      auto it = ref.find(ours);
      ASSERT_NE(it, ref.end()) << gc.name << " " << ours;
      ASSERT_EQ(it->second.shape, g->shape) << gc.name << " " << ours;
      const Deviation d = deviation(it->second.data, widen(*g));
      EXPECT_LE(d.excess, 1e-10) << gc.name << " " << S << ours << " vs " << golden_name << " (raw " << d.raw << ")";
      total.merge(d);
      ++checked;
    };
    check(golden, S + "embed", "blocks.0.hook_resid_pre");
    if (!a.learned_positions) check(golden, S + "embed", "hook_embed");
    for (int l = 0; l < a.n_layers; ++l) {
      const std::string G = S + "layer" + std::to_string(l) + ".", B = "blocks." + std::to_string(l) + ".";
      check(golden, G + "resid_pre", B + "hook_resid_pre");
      check(golden, G + "attn_in", B + "ln1.hook_out");
      check(golden, G + "attn_out", B + "hook_attn_out");
      check(golden, G + "mlp_in", B + "ln2.hook_out");
      check(golden, G + "mlp_out", B + "hook_mlp_out");
      check(golden, G + "resid_post", B + "hook_resid_post");
      if (debug.find(G + "attn_probs")) check(debug, G + "attn_probs", B + "attn.hook_pattern");
    }
    check(golden, S + "final_norm", "ln_final.hook_out");
    check(golden, S + "logits", "logits");
  }
  EXPECT_GE(checked, 3 * (4 + 6 * a.n_layers) - 3 + a.n_layers);
  // Nearly every element rounds to exactly the stored float32 value.
  EXPECT_GE(static_cast<double>(total.rounded_equal), 0.999 * static_cast<double>(total.n)) << gc.name;
  RecordProperty("max_raw_deviation", std::to_string(total.raw));
  RecordProperty("max_float64_disagreement", std::to_string(total.excess));
  std::cout << fmt::format("{}: {} tensors, {} elements, {} round to the stored float32; max |r - g| / max|g| = "
                           "{:.3g}, beyond half an ulp: {:.3g}\n",
                           gc.name, checked, total.n, total.rounded_equal, total.raw, total.excess);
}

INSTANTIATE_TEST_SUITE_P(AllModels, ReferenceGolden, ::testing::ValuesIn(test::golden_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ReferenceForward, HasEveryCapturePointWithItsShape) {
  for (const char* name : {"neox_sequential", "gpt2"}) {
    auto model = Model::load(test::shared_dir() / "golden/models" / name);
    const ArchSpec& a = model->arch();
    const std::vector<int32_t> ids{3, 1, 4, 1, 5};
    const auto ref = reference_forward(*model, ids);
    const auto points = capture_points(a);
    EXPECT_EQ(ref.size(), points.size()) << name;
    for (const PointId& p : points) {
      auto it = ref.find(p.name());
      ASSERT_NE(it, ref.end()) << name << " " << p.name();
      const std::vector<int64_t> want =
          p.point == Point::AttnPattern ? std::vector<int64_t>{a.n_heads, 5, 5} : std::vector<int64_t>{5, point_width(a, p.point)};
      EXPECT_EQ(it->second.shape, want) << name << " " << p.name();
      int64_t n = 1;
      for (auto v : want) n *= v;
      EXPECT_EQ(static_cast<int64_t>(it->second.data.size()), n) << name << " " << p.name();
    }
  }
}

TEST(ReferenceForward, RefusesWhatTheEngineRefuses) {
  auto model = Model::load(test::shared_dir() / "golden/models/gpt2");
  EXPECT_THROW(reference_forward(*model, std::vector<int32_t>{}), Error);
  EXPECT_THROW(reference_forward(*model, std::vector<int32_t>{1, model->arch().vocab_size}), Error);
  EXPECT_THROW(reference_forward(*model, std::vector<int32_t>{-1}), Error);
  EXPECT_THROW(reference_forward(*model, std::vector<int32_t>(model->arch().max_positions + 1, 0)), Error);
}

}  // namespace
}  // namespace sg
