// Experiment `residual` (seed 004): the norm reducer and both seed numbers on
// every golden model against metrics.json (hidden-state gains, golden README
// section 7(b)) within 1e-5 relative; the H25 logic and the HF tuple
// convention on hand-made inputs.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "experiments/residual.h"
#include "io/safetensors.h"
#include "measure/run_prompts.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {
namespace {

using namespace residual;

constexpr double kRelTol = 1e-5;  // golden README section 9: metrics

void expect_close(double got, double want, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), kRelTol * std::fabs(want)) << what << ": got " << got << ", want " << want;
}

void expect_close(const std::vector<double>& got, const nlohmann::json& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    expect_close(got[i], want[i].get<double>(), what + "[" + std::to_string(i) + "]");
}

using test::GoldenCase;

// mean_t ||t-th row|| of a golden [T, d] tensor, in double.
double golden_mean_norm(const SafetensorsFile& g, const std::string& name) {
  const TensorView* t = g.find(name);
  if (!t) ADD_FAILURE() << "golden tensor " << name << " missing";
  if (!t) return 0;
  std::vector<float> v(t->numel());
  to_f32(t->dtype, t->data, v.data(), v.size());
  const int64_t T = t->shape.at(0), d = t->shape.at(1);
  double sum = 0;
  for (int64_t r = 0; r < T; ++r) {
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += double(v[r * d + i]) * v[r * d + i];
    sum += std::sqrt(ss);
  }
  return sum / T;
}

class ResidualGolden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(ResidualGolden, MatchesMetricsJson) {
  const auto& gc = GetParam();
  const auto expected = test::shared_dir() / "golden/expected" / gc.name;
  const auto metrics = nlohmann::json::parse(read_file(expected / "metrics.json"));
  std::vector<std::vector<int32_t>> seqs = metrics["sequences"].get<std::vector<std::vector<int32_t>>>();

  auto model = Model::load(test::shared_dir() / gc.model_dir);
  const int L = model->arch().n_layers;
  ASSERT_EQ(L, metrics["n_layers"].get<int>());
  Engine engine(*model);
  StreamNormReducer reducer(L, seqs.size());
  Reducer* reducers[] = {&reducer};
  run_prompts(engine, seqs, reducers);
  const ModelResult r = analyze(gc.name, model->arch(), reducer.norms());
  // The same norms, bit for bit, when every prompt runs in a chunk of its own.
  StreamNormReducer one_by_one(L, seqs.size());
  Reducer* single[] = {&one_by_one};
  run_prompts(engine, seqs, single, {.max_tokens = 1});
  for (size_t s = 0; s < seqs.size(); ++s) {
    EXPECT_EQ(one_by_one.norms()[s].last, reducer.norms()[s].last);
    EXPECT_EQ(one_by_one.norms()[s].mean, reducer.norms()[s].mean);
  }

  ASSERT_EQ(r.seed.norms.size(), seqs.size());
  EXPECT_EQ(r.seed.n_hidden_states, L + 1);
  SafetensorsFile golden(expected / "golden.safetensors");
  std::vector<double> with_ln, no_ln, true_last_block, true_final;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const auto& ps = metrics["per_sequence"][s];
    const std::string at = gc.name + " seq" + std::to_string(s);
    // The seed's numbers, from the emulated HF tuple.
    const auto& hf = ps["hf_hidden_states"];
    expect_close(r.seed.norms[s], hf["norms"], at + " hf norms");
    expect_close(r.seed.layer_gains[s], hf["ratios"], at + " hf ratios");
    expect_close(r.seed.gain_with_ln[s], hf["gain_with_ln"].get<double>(), at + " seed gain_with_ln");
    expect_close(r.seed.gain_no_ln[s], hf["gain_no_ln"].get<double>(), at + " seed gain_no_ln");
    with_ln.push_back(hf["gain_with_ln"].get<double>());
    no_ln.push_back(hf["gain_no_ln"].get<double>());
    // The true points.
    const auto& tb = ps["true_block_outputs"];
    expect_close(r.true_last.norms[s], tb["norms"], at + " true norms");
    expect_close(r.true_last.layer_gains[s], tb["ratios"], at + " true ratios");
    expect_close(r.true_last.last_block_gain[s], tb["gain_no_ln"].get<double>(), at + " true last-block gain");
    expect_close(r.true_last.final_norm_gain[s], tb["gain_with_ln"].get<double>(), at + " final-norm gain");
    true_last_block.push_back(tb["gain_no_ln"].get<double>());
    true_final.push_back(tb["gain_with_ln"].get<double>());
    // Mean-over-token norms, against the golden activations themselves.
    const std::string S = "seq" + std::to_string(s) + ".";
    std::vector<std::string> names = {S + "embed"};
    for (int l = 0; l < L; ++l) names.push_back(S + "layer" + std::to_string(l) + ".resid_post");
    names.push_back(S + "final_norm");
    for (int k = 0; k < n_points(L); ++k)
      expect_close(r.true_mean.norms[s][k], golden_mean_norm(golden, names[k]), at + " mean norm " + names[k]);
  }
  // Averages over sequences (README 7: arithmetic means, lists elementwise).
  const auto& mean = metrics["mean_over_sequences"];
  expect_close(r.seed.all_layer_gains, mean["hf_hidden_states"]["ratios"], gc.name + " all_layer_gains");
  expect_close(r.seed.with_ln.mean, mean["hf_hidden_states"]["gain_with_ln"].get<double>(), gc.name + " with_ln mean");
  expect_close(r.seed.no_ln.mean, mean["hf_hidden_states"]["gain_no_ln"].get<double>(), gc.name + " no_ln mean");
  expect_close(r.true_last.mean_layer_gains, mean["true_block_outputs"]["ratios"], gc.name + " true ratios mean");
  expect_close(r.true_last.mean_norms, mean["true_block_outputs"]["norms"], gc.name + " true norms mean");
  expect_close(r.true_last.last_block.mean, mean["true_block_outputs"]["gain_no_ln"].get<double>(),
               gc.name + " true last-block mean");
  expect_close(r.true_last.final_norm.mean, mean["true_block_outputs"]["gain_with_ln"].get<double>(),
               gc.name + " final-norm mean");
  // Population standard deviations of the golden per-sequence values (a std
  // is a difference of nearly equal numbers, so compare it on the mean's scale).
  auto expect_std = [&](double got, const std::vector<double>& v, const std::string& what) {
    const MeanStd ms = mean_std(v);
    EXPECT_LE(std::fabs(got - ms.std), kRelTol * ms.mean) << what;
  };
  expect_std(r.seed.with_ln.std, with_ln, gc.name + " with_ln std");
  expect_std(r.seed.no_ln.std, no_ln, gc.name + " no_ln std");
  expect_std(r.true_last.last_block.std, true_last_block, gc.name + " last-block std");
  expect_std(r.true_last.final_norm.std, true_final, gc.name + " final-norm std");

  // What the seed's ratios really compare (README section 6).
  EXPECT_EQ(r.seed.no_ln_meaning.formula, fmt::format("||resid_post[{}]|| / ||resid_post[{}]||", L - 2, L - 3));
  EXPECT_EQ(r.seed.no_ln_meaning.meaning, fmt::format("gain of block {} (L-2)", L - 2));
  EXPECT_EQ(r.seed.with_ln_meaning.formula, fmt::format("||final_norm|| / ||resid_post[{}]||", L - 2));
  EXPECT_EQ(r.seed.with_ln_meaning.meaning, fmt::format("block {} (L-1) and the final norm together", L - 1));
}

INSTANTIATE_TEST_SUITE_P(AllModels, ResidualGolden, ::testing::ValuesIn(test::golden_cases()),
                         [](const auto& info) { return info.param.name; });

// ---- hand-made inputs ----

TEST(ResidualH25, RhoExactlyPointTwoPredictsDampeningAndGainExactlyOneExpands) {
  ArchSpec a;
  a.model_type = "llama";
  a.n_layers = 2;
  a.n_heads = 4;
  a.d_model = 80;  // d_head = 20, rho = 4 / 20 = 0.2 exactly as Python computes it
  const ArchFigures f = seed_arch_figures(a);
  EXPECT_EQ(f.d_head, 20);
  EXPECT_EQ(f.rho, 0.2);

  const H25Result h =
      evaluate_h25({{"at-threshold", f.rho, 1.0}, {"just-below", 0.19999999, 1.0}, {"dampens", 0.2, 0.99999}});
  ASSERT_EQ(h.rows.size(), 3u);
  EXPECT_TRUE(h.rows[0].predicts_dampen);  // rho >= 0.2
  EXPECT_FALSE(h.rows[0].dampens);         // gain < 1 is false at exactly 1
  EXPECT_FALSE(h.rows[0].correct);
  EXPECT_FALSE(h.rows[1].predicts_dampen);
  EXPECT_TRUE(h.rows[1].correct);
  EXPECT_TRUE(h.rows[2].dampens);
  EXPECT_TRUE(h.rows[2].correct);
  EXPECT_EQ(h.correct, 2);
  EXPECT_EQ(h.total, 3);
  EXPECT_DOUBLE_EQ(h.accuracy, 200.0 / 3);
  EXPECT_EQ(h.verdict, "PARTIALLY_VALIDATED");
}

TEST(ResidualH25, VerdictThresholds) {
  EXPECT_EQ(evaluate_h25({{"a", 0.25, 0.5}, {"b", 0.0625, 1.5}}).verdict, "VALIDATED");
  const auto half = evaluate_h25({{"a", 0.25, 0.5}, {"b", 0.0625, 0.5}});
  EXPECT_EQ(half.accuracy, 50.0);
  EXPECT_EQ(half.verdict, "PARTIALLY_VALIDATED");  // >= 50 %
  const auto third = evaluate_h25({{"a", 0.25, 0.5}, {"b", 0.0625, 0.5}, {"c", 0.3, 2.0}});
  EXPECT_EQ(third.verdict, "FALSIFIED");
  const auto none = evaluate_h25({});
  EXPECT_EQ(none.accuracy, 0.0);  // the seed: 0 when there are no models
  EXPECT_EQ(none.verdict, "FALSIFIED");
}

TEST(ResidualSeed, HfTupleConventionAndExplanations) {
  EXPECT_EQ(hf_hidden_state_points("gpt_neox", 4), (std::vector<int>{0, 1, 2, 3, 5}));
  EXPECT_EQ(hf_hidden_state_points("gpt2", 1), (std::vector<int>{0, 2}));
  EXPECT_THROW(hf_hidden_state_points("mamba", 4), Error);
  EXPECT_EQ(explain_ratio(5, 4, 4).meaning, "gain of the final norm alone");
  EXPECT_EQ(explain_ratio(4, 2, 4).meaning, "gain of blocks 2 (L-2) to 3 (L-1)");
  EXPECT_EQ(point_short_name(0, 4), "embed");
  EXPECT_EQ(point_short_name(3, 4), "resid_post[2]");
  EXPECT_EQ(point_id(5, 4), (PointId{Point::LnFinalOut, -1}));
  EXPECT_EQ(point_id(0, 4), (PointId{Point::ResidPre, 0}));
  EXPECT_THROW(point_short_name(6, 4), Error);
}

TEST(ResidualSeed, AnalyseHandMadeNorms) {
  ArchSpec a;
  a.model_type = "gptj";
  a.n_layers = 3;
  a.n_heads = 2;
  a.d_model = 8;
  // Points: embed, resid_post[0..2], final_norm.
  std::vector<PromptNorms> norms = {{{1, 2, 4, 8, 2}, {1, 1, 1, 1, 1}}, {{1, 3, 3, 6, 3}, {2, 2, 2, 2, 2}}};
  const ModelResult r = analyze("m", a, norms);
  // HF tuple: embed, resid_post[0], resid_post[1], final_norm.
  EXPECT_EQ(r.seed.norms[0], (std::vector<double>{1, 2, 4, 2}));
  EXPECT_NEAR(r.seed.gain_with_ln[0], 0.5, 1e-9);  // final / resid_post[1]
  EXPECT_NEAR(r.seed.gain_no_ln[0], 2.0, 1e-9);    // resid_post[1] / resid_post[0]
  EXPECT_NEAR(r.seed.gain_with_ln[1], 1.0, 1e-9);
  EXPECT_NEAR(r.seed.gain_no_ln[1], 1.0, 1e-9);
  EXPECT_NEAR(r.seed.with_ln.mean, 0.75, 1e-9);
  EXPECT_NEAR(r.seed.with_ln.std, 0.25, 1e-9);  // population std
  EXPECT_TRUE(r.seed.is_dampening_with_ln);
  EXPECT_FALSE(r.seed.is_dampening_no_ln);                 // mean exactly 1.5
  EXPECT_NEAR(r.true_last.last_block_gain[0], 2.0, 1e-9);  // resid_post[2] / resid_post[1]
  EXPECT_NEAR(r.true_last.last_block_gain[1], 2.0, 1e-9);
  EXPECT_NEAR(r.true_last.final_norm_gain[0], 0.25, 1e-9);
  EXPECT_NEAR(r.true_last.final_norm.mean, 0.375, 1e-9);
  EXPECT_NEAR(r.true_mean.last_block.mean, 1.0, 1e-9);
  EXPECT_EQ(r.seed.all_layer_gains.size(), 3u);
  EXPECT_NEAR(r.seed.all_layer_gains[0], 2.5, 1e-9);
  // With one layer the tuple has two entries and gain_no_ln falls back to the last ratio.
  a.n_layers = 1;
  const ModelResult one = analyze("m", a, {{{2, 4, 1}, {2, 4, 1}}});
  EXPECT_EQ(one.seed.gain_no_ln[0], one.seed.gain_with_ln[0]);
  EXPECT_NEAR(one.true_last.last_block_gain[0], 2.0, 1e-9);  // block 0 over the embedding
  EXPECT_THROW(analyze("m", a, {}), Error);
  EXPECT_THROW(analyze("m", a, {{{1, 2}, {1, 2}}}), Error);
}

TEST(ResidualSeed, SeedRatioKeepsTheEpsilonAndStdIsPopulation) {
  EXPECT_EQ(seed_ratio(1.0, 0.0), 1e10);
  const MeanStd ms = mean_std({1, 2, 3, 4});
  EXPECT_DOUBLE_EQ(ms.mean, 2.5);
  EXPECT_DOUBLE_EQ(ms.std, std::sqrt(1.25));
}

TEST(ResidualReducer, LastAndMeanNormsPerSequence) {
  // Two sequences (lengths 2 and 1), width 2, a one-layer model: 3 points.
  StreamNormReducer red(1, 2);
  Batch b = Batch::of(std::vector<std::vector<int32_t>>{{1, 2}, {3}});
  EXPECT_TRUE(red.wants({Point::ResidPre, 0}));
  EXPECT_FALSE(red.wants({Point::ResidPre, 1}));
  EXPECT_TRUE(red.wants({Point::ResidPost, 0}));
  EXPECT_TRUE(red.wants({Point::LnFinalOut, -1}));
  EXPECT_FALSE(red.wants({Point::AttnOut, 0}));
  const float rows[] = {3, 4, 0, 1, 6, 8};  // norms 5, 1 | 10
  red.on_activation({Point::ResidPre, 0}, b, rows, 2);
  red.on_activation({Point::ResidPost, 0}, b, rows, 2);
  EXPECT_THROW(red.norms(), Error);  // the final norm never arrived
  red.on_activation({Point::LnFinalOut, -1}, b, rows, 2);
  const auto& n = red.norms();
  EXPECT_EQ(n[0].last, (std::vector<double>{1, 1, 1}));
  EXPECT_EQ(n[0].mean, (std::vector<double>{3, 3, 3}));
  EXPECT_EQ(n[1].last, (std::vector<double>{10, 10, 10}));
  EXPECT_EQ(n[1].mean, (std::vector<double>{10, 10, 10}));
}

}  // namespace
}  // namespace sg
