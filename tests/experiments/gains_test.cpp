// The gains experiment against the golden metrics (float64 reference) and the
// seeds' labelling rules on hand-made gains.
#include "experiments/gains.h"

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "experiments/gains_json.h"
#include "io/safetensors.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

using nlohmann::json;

using GoldenModel = test::GoldenCase;

void expect_close(const std::vector<double>& got, const json& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    const double w = want[i].get<double>();
    EXPECT_LE(std::fabs(got[i] - w), 1e-5 * std::fabs(w)) << what << "[" << i << "]: " << got[i] << " vs " << w;
  }
}

class GainsGolden : public ::testing::TestWithParam<GoldenModel> {};

TEST_P(GainsGolden, SeedMetricsMatchTheReference) {
  const auto shared = test::shared_dir();
  const json metrics = json::parse(read_file(shared / "golden/expected" / GetParam().name / "metrics.json"));
  auto model = Model::load(shared / GetParam().model_dir);
  Engine engine(*model);
  SublayerStatsReducer reducer(model->arch().n_layers, true);
  Observer* obs[] = {&reducer};
  const auto seqs = metrics["sequences"].get<std::vector<std::vector<int32_t>>>();
  const Batch batch = Batch::of(seqs);
  engine.run(batch, obs);
  reducer.finish_batch(batch);
  const auto r = gains::analyze(reducer.stats(), {.bootstrap = 200});

  const json& g = metrics["mean_over_sequences"]["seed_gain"];
  expect_close(r.seed.attn_norm_in, g["attn_in_norm"], "attn_in_norm");
  expect_close(r.seed.attn_norm_out, g["attn_out_norm"], "attn_out_norm");
  expect_close(r.seed.mlp_norm_in, g["mlp_in_norm"], "mlp_in_norm");
  expect_close(r.seed.mlp_norm_out, g["mlp_out_norm"], "mlp_out_norm");
  expect_close(r.seed.attn_gain, g["attn_gain"], "attn_gain");
  expect_close(r.seed.mlp_gain, g["mlp_gain"], "mlp_gain");
  expect_close(r.seed.combined, g["combined_gain_from_mean_gains"], "combined");
  EXPECT_EQ(r.seed.L_star_attn, g["L_star_attn"].get<int>());
  EXPECT_EQ(r.seed.L_star_mlp, g["L_star_mlp"].get<int>());
  EXPECT_EQ(r.seed.attn_contracting, g["n_attn_gain_lt_1"].get<int>());
  EXPECT_EQ(r.seed.attn_expanding, g["n_attn_gain_ge_1"].get<int>());
  EXPECT_EQ(r.seed.mlp_contracting, g["n_mlp_gain_lt_1"].get<int>());
  EXPECT_EQ(r.seed.mlp_expanding, g["n_mlp_gain_ge_1"].get<int>());

  // Per-sequence gains too (the average hides compensating errors).
  for (size_t s = 0; s < seqs.size(); ++s) {
    const json& ps = metrics["per_sequence"][s]["seed_gain"];
    expect_close(r.prompt_attn_gain[s], ps["attn_gain"], "seq attn_gain");
    expect_close(r.prompt_mlp_gain[s], ps["mlp_gain"], "seq mlp_gain");
  }
  // Post-normed models (Gemma 2): module-output gains, ||attn_out_raw|| / ||attn_in||,
  // from the golden activations (float64 rounded once to float32) with the
  // seed formula; other models have none.
  const bool post_normed = model->arch().any_post_norm();
  ASSERT_EQ(r.module.has_value(), post_normed);
  if (post_normed) {
    SafetensorsFile golden(shared / "golden/expected" / GetParam().name / "golden.safetensors");
    const int L = model->arch().n_layers, d = model->arch().d_model;
    std::vector<double> attn(L, 0.0), mlp(L, 0.0);
    auto mean_norm = [&](const std::string& name) {
      const TensorView* t = golden.find(name);
      EXPECT_NE(t, nullptr) << name;
      std::vector<float> v(t->numel());
      to_f32(t->dtype, t->data, v.data(), v.size());
      double sum = 0;
      for (size_t row = 0; row < v.size() / d; ++row) {
        double sq = 0;
        for (int i = 0; i < d; ++i) sq += double(v[row * d + i]) * v[row * d + i];
        sum += std::sqrt(sq);
      }
      return sum / static_cast<double>(v.size() / d);
    };
    for (size_t s = 0; s < seqs.size(); ++s)
      for (int l = 0; l < L; ++l) {
        const std::string G = "seq" + std::to_string(s) + ".layer" + std::to_string(l) + ".";
        attn[l] += gains::sublayer_gain(mean_norm(G + "attn_out_raw"), mean_norm(G + "attn_in")) / seqs.size();
        mlp[l] += gains::sublayer_gain(mean_norm(G + "mlp_out_raw"), mean_norm(G + "mlp_in")) / seqs.size();
      }
    for (int l = 0; l < L; ++l) {
      EXPECT_NEAR(r.module->attn_gain[l], attn[l], 1e-5 * attn[l]) << "layer " << l;
      EXPECT_NEAR(r.module->mlp_gain[l], mlp[l], 1e-5 * mlp[l]) << "layer " << l;
      EXPECT_NE(r.module->attn_gain[l], r.seed.attn_gain[l]);  // the norm changes it
    }
  }

  // The bootstrap interval brackets the estimate; entropy is a mean of entropies.
  for (int l = 0; l < model->arch().n_layers; ++l) {
    EXPECT_LE(r.layers[l].attn_ci.lo, r.seed.attn_gain[l] + 1e-12);
    EXPECT_GE(r.layers[l].attn_ci.hi, r.seed.attn_gain[l] - 1e-12);
    EXPECT_GE(r.layers[l].attn_entropy, 0.0);
    EXPECT_LE(r.layers[l].attn_entropy, std::log(33.0));
    EXPECT_LE(std::fabs(r.layers[l].attn_update_cos), 1.0 + 1e-12);
  }
}

INSTANTIATE_TEST_SUITE_P(AllModels, GainsGolden, ::testing::ValuesIn(test::golden_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(GainsRules, PhaseLabelsAndNetMarkers) {
  EXPECT_EQ(gains::phase_label(0.5, 0.5), "COMPRESS");
  EXPECT_EQ(gains::phase_label(0.5, 1.5), "ATTN-/MLP+");
  EXPECT_EQ(gains::phase_label(1.5, 0.5), "ATTN+/MLP-");
  EXPECT_EQ(gains::phase_label(1.5, 1.5), "EXPAND");
  // Exactly 1 falls through the seed's tests to EXPAND.
  EXPECT_EQ(gains::phase_label(0.5, 1.0), "EXPAND");
  EXPECT_EQ(gains::phase_label(1.0, 0.5), "EXPAND");
  EXPECT_EQ(gains::net_marker(0.8999), "[NET-]");
  EXPECT_EQ(gains::net_marker(0.9), "[~1.0]");
  EXPECT_EQ(gains::net_marker(1.1), "[~1.0]");
  EXPECT_EQ(gains::net_marker(1.1001), "[NET+]");
}

gains::SeedSummary summary_of(const std::vector<double>& attn, const std::vector<double>& mlp) {
  std::vector<std::vector<double>> a{attn}, m{mlp}, one{std::vector<double>(attn.size(), 1.0)};
  return gains::summarize(a, m, one, one, one, one);
}

TEST(GainsRules, FunnelTestFollowsSeed001) {
  // Attention always contracts, MLP contracts except the last 3 layers, last layer max.
  auto s = summary_of({0.5, 0.4, 0.3, 0.2, 0.1, 0.6}, {0.5, 0.5, 0.5, 1.2, 1.5, 3.0});
  EXPECT_TRUE(s.attention_always_contracts);
  EXPECT_TRUE(s.mlp_mostly_contracts);  // 3 contracting >= 6 - 3
  EXPECT_TRUE(s.last_layer_expands);
  EXPECT_TRUE(s.last_layer_is_max);
  EXPECT_TRUE(s.funnel_confirmed);
  EXPECT_EQ(s.L_star_attn, 4);
  EXPECT_EQ(s.L_star_mlp, 5);
  // A gain of exactly 1 counts as expanding (seed 001: >= 1) and breaks "always contracts".
  s = summary_of({0.5, 1.0, 0.3}, {0.5, 0.5, 2.0});
  EXPECT_EQ(s.attn_expanding, 1);
  EXPECT_FALSE(s.attention_always_contracts);
  EXPECT_FALSE(s.funnel_confirmed);
  // ... but not for seed 000's hypothesis test, which counts gain > 1.
  EXPECT_TRUE(s.attention_contracts);
  // The last layer not being the max does not fail the seed's funnel_confirmed.
  s = summary_of({0.5, 0.5, 0.5, 0.5}, {0.5, 4.0, 0.5, 1.5});
  EXPECT_FALSE(s.last_layer_is_max);
  EXPECT_TRUE(s.funnel_confirmed);
  // Last-layer gain of exactly 1 does not "expand" (seed: > 1.0).
  s = summary_of({0.5, 0.5}, {0.5, 1.0});
  EXPECT_FALSE(s.last_layer_expands);
}

TEST(GainsRules, CumulativeProductAndBottleneck) {
  auto s = summary_of({0.5, 0.5, 2.0}, {0.5, 1.0, 4.0});
  ASSERT_EQ(s.cumulative.size(), 3u);
  EXPECT_DOUBLE_EQ(s.cumulative[0], 0.25);
  EXPECT_DOUBLE_EQ(s.cumulative[1], 0.125);
  EXPECT_DOUBLE_EQ(s.cumulative[2], 1.0);
  EXPECT_EQ(s.bottleneck, 1);
}

TEST(GainsRules, PercentileIsNumpyLinear) {
  EXPECT_DOUBLE_EQ(gains::percentile({1, 2, 3, 4}, 50), 2.5);
  EXPECT_DOUBLE_EQ(gains::percentile({1, 2, 3, 4}, 10), 1.3);
  EXPECT_DOUBLE_EQ(gains::percentile({5}, 90), 5);
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

// gains.json's one schema: what to_json writes, summary_from_json reads back to
// the same summary compare gets from the run in memory.
TEST(GainsJson, RoundTripGivesTheInMemorySummary) {
  for (const char* name : {"neox_parallel", "gemma2"}) {
    auto model = Model::load(test::shared_dir() / "golden/models" / name);
    Engine engine(*model);
    SublayerStatsReducer reducer(model->arch().n_layers, true);
    Observer* obs[] = {&reducer};
    const auto seqs = test::golden_readme_sequences();
    const Batch batch = Batch::of(seqs);
    engine.run(batch, obs);
    reducer.finish_batch(batch);
    const gains::Result r = gains::analyze(reducer.stats(), {.bootstrap = 20});
    gains::RunInfo info;
    info.model = model->name();
    info.n_layers = model->arch().n_layers;
    info.d_model = model->arch().d_model;
    info.n_prompts = seqs.size();
    info.n_params = model->n_params();
    info.n_params_non_embedding = model->n_params_non_embedding();
    info.random_weights = true;
    info.warnings = {"DEMO MODEL WITH RANDOM WEIGHTS: ...", "another warning"};
    const auto doc = nlohmann::json::parse(gains::to_json(r, info).dump());
    const compare::GainsSummary a = gains::summary_from_json(doc, "file"), b = gains::summary_of(r, info);
    EXPECT_EQ(a.model, b.model);
    EXPECT_EQ(a.n_layers, b.n_layers);
    EXPECT_EQ(a.hidden_dim, b.hidden_dim);
    EXPECT_EQ(a.n_prompts, b.n_prompts);
    EXPECT_EQ(a.n_params, b.n_params);
    EXPECT_EQ(a.n_params_non_embedding, b.n_params_non_embedding);
    for (auto [x, y] : {std::pair{&a.attention, &b.attention}, {&a.mlp, &b.mlp}, {&a.combined, &b.combined}}) {
      EXPECT_EQ(x->layers, y->layers);
      EXPECT_EQ(x->values, y->values);
    }
    for (auto [x, y] : {std::pair{a.attn_min_gain, b.attn_min_gain},
                        {a.attn_max_gain, b.attn_max_gain},
                        {a.mlp_min_gain, b.mlp_min_gain},
                        {a.mlp_max_gain, b.mlp_max_gain},
                        {a.mlp_last_layer_gain, b.mlp_last_layer_gain},
                        {a.combined_max_gain, b.combined_max_gain}})
      EXPECT_EQ(x, y) << name;
    for (auto [x, y] : {std::pair{a.attn_n_contracting, b.attn_n_contracting},
                        {a.attn_L_star_min, b.attn_L_star_min},
                        {a.mlp_n_contracting, b.mlp_n_contracting},
                        {a.mlp_n_expanding, b.mlp_n_expanding},
                        {a.mlp_L_star_max, b.mlp_L_star_max},
                        {a.combined_max_gain_layer, b.combined_max_gain_layer},
                        {a.combined_n_net_contracting, b.combined_n_net_contracting},
                        {a.combined_n_net_expanding, b.combined_n_net_expanding}})
      EXPECT_EQ(x, y) << name;
    EXPECT_TRUE(a.notes.empty()) << a.notes.front();
    EXPECT_EQ(a.warnings, b.warnings);
    EXPECT_EQ(a.warnings.size(), 2u);  // "another warning" and the one-line random-weights banner
  }
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

// A sparse mixture of experts: gains reports where the router sends the tokens,
// against the golden router tensors of sequence 1 (debug.safetensors, float64
// rounded once to float32), the same whatever the chunking; dense models have none.
TEST(GainsExpertUsage, MatchesTheGoldenRouterTensors) {
  const auto shared = test::shared_dir();
  auto model = Model::load(shared / "golden/models/qwen2_moe");
  const ArchSpec& a = model->arch();
  SafetensorsFile debug(shared / "golden/expected/qwen2_moe/debug.safetensors");
  Engine engine(*model);
  const std::vector<std::vector<int32_t>> seq1 = {test::golden_readme_sequences()[1]};
  SublayerStatsReducer reducer(a.n_layers, false);
  Observer* obs[] = {&reducer};
  engine.run(Batch::of(seq1), obs);
  reducer.finish_batch(Batch::of(seq1));
  const gains::Result r = gains::analyze(reducer.stats(), {.bootstrap = 10});
  ASSERT_TRUE(r.experts.has_value());
  const gains::ExpertUsage& u = *r.experts;
  ASSERT_EQ(u.layers, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_DOUBLE_EQ(u.max_entropy, std::log(4.0));
  const int64_t T = static_cast<int64_t>(seq1[0].size()), E = a.moe.n_experts;
  for (size_t i = 0; i < u.layers.size(); ++i) {
    auto golden = [&](const char* what) {
      const TensorView* t = debug.find("seq1.layer" + std::to_string(u.layers[i]) + "." + what);
      EXPECT_NE(t, nullptr) << what;
      std::vector<float> v(t->numel());
      to_f32(t->dtype, t->data, v.data(), v.size());
      return v;
    };
    const auto w = golden("router_weights"), p = golden("router_probs");
    double sum = 0, entropy = 0;
    for (int64_t e = 0; e < E; ++e) {
      int64_t routed = 0;
      for (int64_t t = 0; t < T; ++t) routed += w[t * E + e] != 0;
      EXPECT_EQ(u.fraction[i][e], static_cast<double>(routed) / T) << "layer " << i << " expert " << e;
      sum += u.fraction[i][e];
    }
    EXPECT_DOUBLE_EQ(sum, a.moe.top_k);  // every token goes to top_k experts
    for (int64_t t = 0; t < T; ++t)
      for (int64_t e = 0; e < E; ++e)
        if (p[t * E + e] > 0) entropy -= p[t * E + e] * std::log(double(p[t * E + e]));
    entropy /= T;
    EXPECT_NEAR(u.router_entropy[i], entropy, 1e-5 * entropy) << "layer " << i;
  }

  // The same numbers when the three golden sequences run one by one or together.
  const auto seqs = test::golden_readme_sequences();
  SublayerStatsReducer together(a.n_layers, false), apart(a.n_layers, false);
  Observer* t_obs[] = {&together};
  engine.run(Batch::of(seqs), t_obs);
  together.finish_batch(Batch::of(seqs));
  for (const auto& s : seqs) {
    const std::vector<std::vector<int32_t>> one = {s};
    Observer* a_obs[] = {&apart};
    engine.run(Batch::of(one), a_obs);
    apart.finish_batch(Batch::of(one));
  }
  const gains::Result x = gains::analyze(together.stats(), {.bootstrap = 10}),
                      y = gains::analyze(apart.stats(), {.bootstrap = 10});
  ASSERT_TRUE(x.experts && y.experts);
  EXPECT_EQ(x.experts->fraction, y.experts->fraction);
  EXPECT_EQ(x.experts->router_entropy, y.experts->router_entropy);

  // gains.json carries them with their definition; a dense model has none.
  gains::RunInfo info;
  info.model = model->name();
  info.n_layers = a.n_layers;
  const auto doc = gains::to_json(x, info);
  ASSERT_TRUE(doc.contains("expert_usage"));
  EXPECT_EQ(doc["expert_usage"]["fraction_of_tokens"].size(), 4u);
  EXPECT_TRUE(doc["definitions"].contains("expert_usage"));
  auto dense = Model::load(shared / "golden/models/qwen2");
  Engine dense_engine(*dense);
  SublayerStatsReducer d(dense->arch().n_layers, false);
  Observer* d_obs[] = {&d};
  dense_engine.run(Batch::of(seqs), d_obs);
  d.finish_batch(Batch::of(seqs));
  const gains::Result dr = gains::analyze(d.stats(), {.bootstrap = 10});
  EXPECT_FALSE(dr.experts.has_value());
  EXPECT_FALSE(gains::to_json(dr, info).contains("expert_usage"));
}

}  // namespace
}  // namespace sg
