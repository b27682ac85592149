// Every capture point of every golden model (shared/golden, float64 reference)
// within the golden README's tolerances: max|c - g| <= 1e-4 max|g| per tensor,
// ||c[t] - g[t]|| <= 1e-4 ||g[t]|| per token row, exact logits argmax.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "io/safetensors.h"
#include "support/test_support.h"

namespace sg {
namespace {

using test::GoldenCase;

std::vector<float> widen(const TensorView& t) {
  std::vector<float> v(t.numel());
  to_f32(t.dtype, t.data, v.data(), v.size());
  return v;
}

std::vector<std::vector<int32_t>> golden_sequences(const SafetensorsFile& g) {
  std::vector<std::vector<int32_t>> seqs;
  for (int i = 0;; ++i) {
    const TensorView* t = g.find("seq" + std::to_string(i) + ".input_ids");
    if (!t) break;
    std::vector<int32_t> ids(t->numel());
    for (size_t j = 0; j < ids.size(); ++j) {
      int64_t v;
      std::memcpy(&v, t->data + 8 * j, 8);
      ids[j] = static_cast<int32_t>(v);
    }
    seqs.push_back(ids);
  }
  return seqs;
}

// Compares one captured tensor with its golden: returns a failure message or "".
std::string compare(const std::string& what, const StoredTensor& c, const TensorView& g, int64_t width) {
  const auto gv = widen(g);
  if (c.data.size() != gv.size()) return what + ": size mismatch";
  double max_g = 0, max_diff = 0;
  for (size_t i = 0; i < gv.size(); ++i) {
    max_g = std::max(max_g, std::fabs(double(gv[i])));
    max_diff = std::max(max_diff, std::fabs(double(c.data[i]) - gv[i]));
  }
  if (max_diff > 1e-4 * max_g)
    return what + ": max|c-g| = " + std::to_string(max_diff) + " > 1e-4 * " + std::to_string(max_g);
  for (size_t r = 0; r < gv.size() / width; ++r) {
    double dn = 0, gn = 0;
    for (int64_t j = 0; j < width; ++j) {
      const double g1 = gv[r * width + j], d1 = c.data[r * width + j] - g1;
      dn += d1 * d1;
      gn += g1 * g1;
    }
    if (std::sqrt(dn) > 1e-4 * std::sqrt(gn)) return what + ": row " + std::to_string(r) + " relative error too large";
  }
  return "";
}

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, EveryCapturePointMatchesTheReference) {
  const auto& gc = GetParam();
  const auto shared = test::shared_dir();
  auto model = Model::load(shared / gc.model_dir);
  SafetensorsFile golden(shared / "golden/expected" / gc.name / "golden.safetensors");
  const auto seqs = golden_sequences(golden);
  ASSERT_EQ(seqs.size(), 3u);

  Engine engine(*model);
  CaptureStore store({"*"});
  Observer* obs[] = {&store};
  engine.run(Batch::of(seqs), obs);  // all three sequences in one ragged batch

  const ArchSpec& a = model->arch();
  int checked = 0;
  auto check = [&](const std::string& golden_name, const std::string& ours, int64_t width) {
    const TensorView* g = golden.find(golden_name);
    ASSERT_NE(g, nullptr) << golden_name;
    const StoredTensor* c = store.find(ours);
    ASSERT_NE(c, nullptr) << ours;
    EXPECT_EQ(compare(gc.name + " " + ours, *c, *g, width), "");
    ++checked;
  };
  for (size_t s = 0; s < seqs.size(); ++s) {
    const std::string S = "seq" + std::to_string(s) + ".";
    // The golden "embed" is the block-0 input (token + learned position embedding).
    check(S + "embed", S + "blocks.0.hook_resid_pre", a.d_model);
    if (!a.learned_positions) check(S + "embed", S + "hook_embed", a.d_model);
    for (int l = 0; l < a.n_layers; ++l) {
      const std::string G = S + "layer" + std::to_string(l) + ".", B = S + "blocks." + std::to_string(l) + ".";
      check(G + "resid_pre", B + "hook_resid_pre", a.d_model);
      check(G + "attn_in", B + "ln1.hook_out", a.d_model);
      check(G + "attn_out", B + "hook_attn_out", a.d_model);
      check(G + "mlp_in", B + "ln2.hook_out", a.d_model);
      check(G + "mlp_out", B + "hook_mlp_out", a.d_model);
      // Post-normed sublayers: their own outputs before the norm, too.
      if (a.layers[l].post_attn_norm) check(G + "attn_out_raw", B + "attn.hook_out", a.d_model);
      if (a.layers[l].post_mlp_norm) check(G + "mlp_out_raw", B + "mlp.hook_out", a.d_model);
      check(G + "resid_post", B + "hook_resid_post", a.d_model);
    }
    check(S + "final_norm", S + "ln_final.hook_out", a.d_model);
    check(S + "logits", S + "logits", a.vocab_size);

    // Exact argmax per position.
    const auto gl = widen(*golden.find(S + "logits"));
    const auto& cl = store.find(S + "logits")->data;
    for (size_t r = 0; r < seqs[s].size(); ++r) {
      auto row = [&](const float* p) {
        return std::max_element(p + r * a.vocab_size, p + (r + 1) * a.vocab_size) - (p + r * a.vocab_size);
      };
      EXPECT_EQ(row(cl.data()), row(gl.data())) << gc.name << " seq " << s << " position " << r;
    }
  }
  int raw = 0;
  for (const LayerSpec& l : a.layers) raw += l.post_attn_norm + l.post_mlp_norm;
  EXPECT_EQ(checked, 3 * (4 + 6 * a.n_layers + raw) - (a.learned_positions ? 3 : 0));

  // Attention probabilities of sequence 1 against debug.safetensors.
  SafetensorsFile debug(shared / "golden/expected" / gc.name / "debug.safetensors");
  for (int l = 0; l < a.n_layers; ++l) {
    const TensorView* g = debug.find("seq1.layer" + std::to_string(l) + ".attn_probs");
    ASSERT_NE(g, nullptr);
    const auto* c = store.find("seq1.blocks." + std::to_string(l) + ".attn.hook_pattern");
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(compare(gc.name + " pattern", *c, *g, g->dim(2)), "");
  }
  // A sparse MLP's router: probabilities over all experts and the weights
  // applied (0 for unselected experts), sequence 1, against debug.safetensors.
  int routers = 0;
  for (int l = 0; l < a.n_layers; ++l) {
    if (!a.layers[l].moe) continue;
    for (const char* what : {"router_probs", "router_weights"}) {
      const TensorView* g = debug.find("seq1.layer" + std::to_string(l) + "." + what);
      ASSERT_NE(g, nullptr) << what;
      const auto* c = store.find("seq1.blocks." + std::to_string(l) + ".mlp.hook_" + what);
      ASSERT_NE(c, nullptr) << what;
      EXPECT_EQ(c->shape, g->shape) << what;
      EXPECT_EQ(compare(gc.name + " " + what, *c, *g, a.moe.n_experts), "");
      if (std::string(what) == "router_weights") {  // the same experts selected, exactly
        const auto gv = widen(*g);
        for (size_t i = 0; i < gv.size(); ++i) EXPECT_EQ(c->data[i] == 0, gv[i] == 0) << gc.name << " " << i;
      }
      ++routers;
    }
  }
  if (gc.name == "qwen2_moe") {
    EXPECT_EQ(routers, 2 * a.n_layers);
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, Golden, ::testing::ValuesIn(test::golden_cases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sg
