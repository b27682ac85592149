// The float64 reference forward (engine/reference.h): against the golden
// float64 activations of every supported golden model, and the engine against
// it on random architectures.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <map>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "engine/reference.h"
#include "io/safetensors.h"
#include "model/synthetic.h"
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
  double raw = 0;                   // max |r - g| / max|g| over a tensor: includes the storage rounding
  double excess = 0;                // max (|r - g| - ulp(g)/2) / max|g|: the float64 disagreement
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
      if (debug.find(G + "router_probs")) {
        check(debug, G + "router_probs", B + "mlp.hook_router_probs");
        check(debug, G + "router_weights", B + "mlp.hook_router_weights");
      }
    }
    check(golden, S + "final_norm", "ln_final.hook_out");
    check(golden, S + "logits", "logits");
  }
  EXPECT_GE(checked, 3 * (4 + 6 * a.n_layers) - 3 + a.n_layers);
  // Nearly every element rounds to exactly the stored float32 value.
  EXPECT_GE(static_cast<double>(total.rounded_equal), 0.999 * static_cast<double>(total.n)) << gc.name;
  RecordProperty("max_raw_deviation", std::to_string(total.raw));
  RecordProperty("max_float64_disagreement", std::to_string(total.excess));
  std::cout << fmt::format(
      "{}: {} tensors, {} elements, {} round to the stored float32; max |r - g| / max|g| = "
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
      const std::vector<int64_t> want = p.point == Point::AttnPattern
                                            ? std::vector<int64_t>{a.n_heads, 5, 5}
                                            : std::vector<int64_t>{5, point_width(a, p.point)};
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

// ---------------------------------------------------------------------------
// The engine against the reference on random architectures.

using test::Rng;

const char* const kFamilies[] = {"gpt_neox", "gptj",   "llama", "qwen2",       "gpt2",      "mistral", "qwen3",
                                 "gemma",    "gemma2", "phi3",  "gemma3_text", "qwen2_moe", "olmo2",   "phi"};
constexpr int kNumFamilies = std::size(kFamilies);
constexpr int kRandomConfigs = 6 * kNumFamilies;

// Config i: family i % 14; within a family, k = i / 14 = 0..5 cycles the weight
// dtype (F32, BF16, F16), tied (odd k) and, with k / 2 even or odd, gpt_neox's
// parallel or sequential blocks, gpt2's scale_attn_by_inverse_layer_idx and
// whether gemma2 soft-caps; the llama-style families cycle the rope scalings
// with k; the rest is drawn from the seed.
RandomModelSpec random_spec(int i) {
  Rng r(0x5eedull * 1000 + static_cast<uint64_t>(i));
  RandomModelSpec s;
  s.model_type = kFamilies[i % kNumFamilies];
  const int k = i / kNumFamilies;
  s.dtype = k % 3 == 0 ? DType::F32 : k % 3 == 1 ? DType::BF16 : DType::F16;
  s.tied = k % 2 == 1;
  s.seed = 7000 + static_cast<uint64_t>(i);
  s.n_layers = r.between(1, 3);
  s.n_heads = r.between(1, 6);
  s.d_mlp = r.between(8, 300);
  s.vocab_size = r.between(40, 400);
  s.max_positions = 64;
  s.norm_eps = r.pick({1e-5, 1e-6});
  s.rope_theta = r.pick({10000.0, 500000.0, 1000000.0});
  s.biases = r.between(0, 1) == 1;
  int hd = r.between(8, 80);
  if (s.model_type == "gpt_neox") {
    s.parallel_residual = (k / 2) % 2 == 0;
    s.rotary_pct = r.pick({0.25, 0.5, 1.0});
    while (static_cast<int>(hd * s.rotary_pct) % 2) ++hd;  // HF: int(hd * rotary_pct) dims, which must be even
    s.activation = r.pick<std::string>({"gelu", "gelu_new", "relu", "silu"});
  } else if (s.model_type == "gptj") {
    s.tied = false;  // lm_head always has a bias
    s.rotary_dim = 2 * r.between(1, hd / 2);
    s.activation = r.pick<std::string>({"gelu_new", "gelu"});
  } else if (s.model_type == "gpt2") {
    s.activation = r.pick<std::string>({"gelu_new", "relu"});
    s.scale_attn_by_inverse_layer_idx = (k / 2) % 2 == 1;
  } else if (s.model_type == "phi") {
    s.partial_rotary_factor = r.pick({0.5, 0.25, 1.0});
    hd += (8 - hd % 8) % 8;  // int(hd * factor) even for every factor
    std::vector<int> divisors;
    for (int kv = 1; kv <= s.n_heads; ++kv)
      if (s.n_heads % kv == 0) divisors.push_back(kv);
    s.n_kv_heads = divisors[r.next() % divisors.size()];
    s.qk_layernorm = (k / 2) % 2 == 1;
    s.activation = r.pick<std::string>({"gelu_new", "gelu"});
  } else {  // the llama and gemma families: even head dims (rotary over the whole head)
    hd += hd % 2;
    std::vector<int> divisors;
    for (int kv = 1; kv <= s.n_heads; ++kv)
      if (s.n_heads % kv == 0) divisors.push_back(kv);
    s.n_kv_heads = divisors[r.next() % divisors.size()];
    s.activation = r.pick<std::string>({"silu", "silu", "gelu_pytorch_tanh", "relu"});
    const std::string& f = s.model_type;
    const bool gemma = f == "gemma" || f == "gemma2" || f == "gemma3_text";
    const bool third = f == "phi3" || f == "gemma3_text" || f == "qwen2_moe" || f == "olmo2";
    if (gemma) s.activation = r.pick<std::string>({"gelu_pytorch_tanh", "gelu_pytorch_tanh", "gelu"});
    if (!gemma || f == "gemma3_text")  // the new families write {rope_type, factor} only: no llama3
      s.rope_scaling = third ? std::vector<std::string>{"", "linear", "yarn"}[k % 3]
                             : std::vector<std::string>{"", "linear", "llama3", "yarn"}[(k + i) % 4];
    if (f == "phi3") s.rope_scaling.clear();  // phi3: longrope
    s.rope_factor = r.pick({2.0, 4.0, 8.0});
    // Windows shorter than, around and longer than the test's sequences (up to 40 tokens).
    if (f == "mistral" || f == "gemma2" || f == "gemma3_text" || f == "phi3")
      s.sliding_window = r.pick<int64_t>({0, 1, 3, 8, 17, 33, 100});
    if ((f == "gemma2" || f == "gemma3_text") && (k / 2) % 2 == 0) {
      s.attn_softcap = r.pick({2.0, 5.0, 50.0});
      s.final_softcap = r.pick({10.0, 30.0});  // (a cap of 3 on a tied Gemma saturates: no argmax to check)
    }
    s.query_pre_attn_scalar = r.pick({0.0, 24.0, 256.0});
    if (f == "phi3") {
      s.partial_rotary_factor = r.pick({1.0, 0.75, 0.5});
      hd += (4 - hd % 4) % 4;                                       // int(hd * factor) even for 0.5
      while (static_cast<int>(hd * 0.75) % 2) hd += 4;              // ... and for 0.75
      s.longrope_original = std::vector<int64_t>{0, 8, 20}[k % 3];  // sequences of up to 40 cross it
      s.sliding_window = std::vector<int64_t>{3, 0, 9, 40, 1, 17}[k];
    }
    if (f == "gemma3_text") {
      s.sliding_window_pattern = r.pick({2, 3, 6});
      s.rope_local_base = r.pick({10000.0, 1000.0});
    }
    if (f == "qwen2_moe") {
      s.n_experts = r.between(1, 8);
      s.top_k = r.between(1, s.n_experts);
      s.norm_topk_prob = (k / 2) % 2 == 1;
      s.sparse_step = r.between(1, 2);
      s.d_expert = r.between(8, 100);
      s.d_shared = r.between(8, 100);
    }
  }
  s.head_dim = hd;
  s.n_heads = std::min(s.n_heads, std::max(1, 240 / hd));
  if (s.n_heads % s.n_kv_heads) s.n_kv_heads = 1;
  // Families that read head_dim have a free width (odd and not a multiple of 16 included).
  const bool reads_head_dim = s.model_type != "gpt_neox" && s.model_type != "gptj" && s.model_type != "gpt2" &&
                              s.model_type != "qwen2" && s.model_type != "phi";
  s.d_model = reads_head_dim ? r.between(9, 200) : s.n_heads * hd;
  if (s.model_type == "gpt_neox" || s.model_type == "gptj" || s.model_type == "gpt2") s.n_kv_heads = s.n_heads;
  return s;
}

std::string describe(const RandomModelSpec& s) {
  std::string extra;
  if (s.model_type == "gpt_neox")
    extra = fmt::format(" {} rotary_pct {}", s.parallel_residual ? "parallel" : "sequential", s.rotary_pct);
  if (s.model_type == "gptj") extra = fmt::format(" rotary_dim {}", s.rotary_dim);
  if (s.model_type == "gpt2" && s.scale_attn_by_inverse_layer_idx) extra = " scale_attn_by_inverse_layer_idx";
  if (s.model_type != "gptj" && s.model_type != "gpt2" && s.model_type != "qwen2" && s.model_type != "mistral" &&
      s.model_type != "phi3" && s.model_type != "qwen2_moe" && s.model_type != "phi" && s.biases)
    extra += " biases";
  if (!s.rope_scaling.empty()) extra += fmt::format(" rope {} x{}", s.rope_scaling, s.rope_factor);
  if (s.sliding_window) extra += fmt::format(" window {}", s.sliding_window);
  if (s.model_type == "phi3" || s.model_type == "phi") extra += fmt::format(" partial {}", s.partial_rotary_factor);
  if (s.model_type == "phi3" && s.longrope_original) extra += fmt::format(" longrope O {}", s.longrope_original);
  if (s.model_type == "phi" && s.qk_layernorm) extra += " qk_layernorm";
  if (s.model_type == "gemma3_text")
    extra += fmt::format(" pattern {} local base {}", s.sliding_window_pattern, s.rope_local_base);
  if (s.model_type == "qwen2_moe")
    extra += fmt::format(" experts {} top {}{} step {} d_expert {} d_shared {}", s.n_experts, s.top_k,
                         s.norm_topk_prob ? " norm" : "", s.sparse_step, s.d_expert, s.d_shared);
  if (s.attn_softcap) extra += fmt::format(" softcaps {}/{}", s.attn_softcap, s.final_softcap);
  return fmt::format("{} L{} d{} H{}/{} hd{} mlp{} V{} {}{} act {}{}", s.model_type, s.n_layers, s.d_model, s.n_heads,
                     s.n_kv_heads, s.head_dim, s.d_mlp, s.vocab_size, dtype_name(s.dtype), s.tied ? " tied" : "",
                     s.activation, extra);
}

class RandomArchitecture : public ::testing::TestWithParam<int> {};

TEST_P(RandomArchitecture, EngineAgreesWithTheFloat64Reference) {
  const RandomModelSpec spec = random_spec(GetParam());
  const std::string what = describe(spec);
  RecordProperty("config", what);
  const auto dir = test::scratch_dir("random_arch_" + std::to_string(GetParam()));
  write_random_model(dir, spec);
  auto model = Model::load(dir);
  const ArchSpec& a = model->arch();
  ASSERT_EQ(a.model_type, spec.model_type);
  ASSERT_EQ(a.d_model, spec.d_model) << what;
  ASSERT_EQ(a.d_head, spec.head_dim) << what;
  ASSERT_EQ(a.n_kv_heads, spec.n_kv_heads) << what;

  // Three sequences in one batch: one short, one across several attention
  // blocks, one random.
  Rng r(0xba7c4ull + static_cast<uint64_t>(GetParam()));
  std::vector<std::vector<int32_t>> seqs;
  for (int len : {r.between(1, 4), r.between(17, 40), r.between(1, 40)}) seqs.push_back(r.tokens(len, spec.vocab_size));
  Engine engine(*model);
  CaptureStore store({"*"});
  Observer* obs[] = {&store};
  engine.run(Batch::of(seqs), obs);

  size_t compared = 0;
  int argmax_checked = 0;
  double worst = 0;  // max over tensors of max|c - g| / max|g|
  std::string worst_name;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const auto ref = reference_forward(*model, seqs[s]);
    const std::string S = "seq" + std::to_string(s) + ".";
    for (const auto& [name, g] : ref) {
      const StoredTensor* c = store.find(S + name);
      ASSERT_NE(c, nullptr) << what << ": the engine did not capture " << S << name;
      ASSERT_EQ(c->shape, g.shape) << what << " " << S << name;
      const int64_t width = g.shape.back();
      if (name.ends_with("attn.hook_pattern_entropy")) {
        // Entropies near 0 (one key taking nearly everything) have no relative
        // accuracy from float32 probabilities: a rounded p = 1 adds 0 where the
        // reference adds ~(1 - p). Per element: 1e-4 nats, plus 1e-4 relative.
        for (size_t j = 0; j < g.data.size(); ++j)
          ASSERT_NEAR(c->data[j], g.data[j], 1e-4 * (1 + std::fabs(g.data[j]))) << what << " " << S << name << " " << j;
      } else {
        EXPECT_EQ(test::check_close(S + name, c->data.data(), g.data.data(), g.data.size(), width), "") << what;
      }
      double max_g = 0, max_diff = 0;
      for (size_t j = 0; j < g.data.size(); ++j) {
        max_g = std::max(max_g, std::fabs(g.data[j]));
        max_diff = std::max(max_diff, std::fabs(c->data[j] - g.data[j]));
      }
      if (max_diff > worst * max_g) {
        worst = max_diff / max_g;
        worst_name = S + name;
      }
      ++compared;
    }
    // Exact argmax wherever the reference's top two logits are not within 1e-5
    // of the largest logit's size.
    if (auto it = ref.find("logits"); it != ref.end()) {
      const auto& g = it->second.data;
      const auto& c = store.find(S + "logits")->data;
      double max_g = 0;
      for (double v : g) max_g = std::max(max_g, std::fabs(v));
      const int64_t V = a.vocab_size;
      for (size_t t = 0; t < seqs[s].size(); ++t) {
        const double* row = g.data() + t * V;
        const int64_t best = std::max_element(row, row + V) - row;
        double second = -INFINITY;
        for (int64_t j = 0; j < V; ++j)
          if (j != best) second = std::max(second, row[j]);
        if (row[best] - second <= 1e-5 * max_g) continue;
        const float* crow = c.data() + t * V;
        EXPECT_EQ(std::max_element(crow, crow + V) - crow, best) << what << " " << S << "position " << t;
        ++argmax_checked;
      }
    }
  }
  EXPECT_EQ(store.tensors().size(), compared) << what << ": the engine captured tensors the reference lacks";
  RecordProperty("worst_relative_deviation", fmt::format("{:.3g} ({})", worst, worst_name));
  std::cout << fmt::format("{}: {} tensors, worst max|c - g| / max|g| = {:.3g} ({}), {} argmax rows\n", what, compared,
                           worst, worst_name, argmax_checked);
  EXPECT_GT(argmax_checked, 0) << what;
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomArchitecture, ::testing::Range(0, kRandomConfigs), [](const auto& info) {
  return fmt::format("{:02d}_{}", info.param, kFamilies[info.param % kNumFamilies]);
});

// The configurations cover what the differential test is for.
TEST(RandomArchitecture, ConfigsCoverTheFeatures) {
  std::map<std::string, int> n;
  for (int i = 0; i < kRandomConfigs; ++i) {
    const auto s = random_spec(i);
    const std::string& f = s.model_type;
    n["gpt_neox sequential"] += f == "gpt_neox" && !s.parallel_residual;
    n["gpt_neox parallel"] += f == "gpt_neox" && s.parallel_residual;
    n["gpt_neox rotary_pct < 1"] += f == "gpt_neox" && s.rotary_pct < 1;
    n["gpt_neox without attention biases"] += f == "gpt_neox" && !s.biases;
    n["gptj rotary_dim < head_dim"] += f == "gptj" && s.rotary_dim < s.head_dim;
    n["llama, qwen3 or gemma with attention biases"] +=
        (f == "llama" || f == "qwen3" || f == "gemma" || f == "gemma2") && s.biases;
    n["gpt2 scale_attn_by_inverse_layer_idx"] += f == "gpt2" && s.scale_attn_by_inverse_layer_idx;
    n["grouped-query attention"] += s.n_kv_heads < s.n_heads;
    n["llama head_dim != d_model / heads"] += f == "llama" && s.d_model != s.n_heads * s.head_dim;
    for (const char* type : {"linear", "llama3", "yarn"}) n[std::string("rope ") + type] += s.rope_scaling == type;
    n["window shorter than a sequence"] += s.sliding_window > 0 && s.sliding_window < 17;
    n["gemma2 soft-capped"] += f == "gemma2" && s.attn_softcap > 0;
    n["gemma2 not soft-capped"] += f == "gemma2" && s.attn_softcap == 0;
    n["phi3 longrope crossed"] += f == "phi3" && s.longrope_original > 0;
    n["phi3 partial rotary"] += f == "phi3" && s.partial_rotary_factor < 1;
    n["phi3 window shorter than a sequence"] += f == "phi3" && s.sliding_window > 0 && s.sliding_window < 17;
    n["gemma3_text rope scaling on global layers"] += f == "gemma3_text" && !s.rope_scaling.empty();
    n["gemma3_text soft-capped"] += f == "gemma3_text" && s.attn_softcap > 0;
    n["qwen2_moe norm_topk_prob"] += f == "qwen2_moe" && s.norm_topk_prob;
    n["qwen2_moe dense layers"] += f == "qwen2_moe" && s.sparse_step > 1 && s.n_layers > 1;
    n["qwen2_moe top_k > 1"] += f == "qwen2_moe" && s.top_k > 1;
    n["olmo2 attention biases"] += f == "olmo2" && s.biases;
    n["olmo2 rope scaling"] += f == "olmo2" && !s.rope_scaling.empty();
    n["qwen2_moe without rope scaling"] += f == "qwen2_moe" && s.rope_scaling.empty();
    n["phi qk_layernorm"] += f == "phi" && s.qk_layernorm;
    n["phi partial rotary"] += f == "phi" && s.partial_rotary_factor < 1;
    n["width not a multiple of 16"] += s.d_model % 16 != 0;
    n["tied"] += s.tied;
    n["untied"] += !s.tied;
    n["BF16"] += s.dtype == DType::BF16;
    n["F16"] += s.dtype == DType::F16;
    n["head_dim >= 64"] += s.head_dim >= 64;
    n["head_dim <= 16"] += s.head_dim <= 16;
    for (const char* act : {"gelu", "gelu_new", "gelu_pytorch_tanh", "silu", "relu"}) n[act] += s.activation == act;
  }
  for (const auto& [feature, count] : n) EXPECT_GE(count, 2) << feature;
}

}  // namespace
}  // namespace sg
