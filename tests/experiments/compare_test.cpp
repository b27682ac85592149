// Tests of the compare experiment: seed 002's scaling exponent and predictions
// from its own numbers and from the presets, seed 001's table from the
// presets, the segmentation on synthetic step functions, the t-based fit
// against numpy, and clear errors for malformed gains.json documents.
#include "experiments/compare.h"
#include "experiments/gains_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "util/error.h"

namespace sg::compare {
namespace {

double metric(const GainsSummary& s, const char* name) { return find_metric(name).value(s); }

TEST(CompareSeed002, ExponentAndPredictionsAsTheSeedComputesThem) {
  // Seed 002: "Ratio: 6.24 / 3.60 = 1.73, Param Ratio: 6.9 / 1.4 = 4.9,
  // Scaling Exponent: log(1.73) / log(4.9) ≈ 0.35".
  const auto& c = seed002_claim();
  LogLogFit f = fit_loglog({c.params_small, c.params_large}, {c.gain_small, c.gain_large});
  EXPECT_TRUE(f.exact);
  EXPECT_TRUE(std::isnan(f.alpha_low));  // two points: no interval
  EXPECT_NEAR(f.alpha, std::log(6.24 / 3.60) / std::log(6.9 / 1.4), 1e-12);
  EXPECT_NEAR(f.alpha, 0.34484600571984175, 1e-12);
  EXPECT_NEAR(f.alpha, c.quoted_alpha, 0.0052);  // 0.3448 quoted as "≈ 0.35"
  // The exact two-point law passes through both models ...
  EXPECT_NEAR(predict(f, 1.4e9).value, 3.60, 1e-12);
  EXPECT_NEAR(predict(f, 6.9e9).value, 6.24, 1e-12);
  // ... and gives the seed's "Pythia-12B: ~7.5x",
  EXPECT_NEAR(predict(f, 12e9).value, 7.552003342141993, 1e-9);
  EXPECT_NEAR(predict(f, 12e9).value, c.quoted_predictions[0].second, 0.06);
  // but not its "GPT-3 (175B): ~15x" and "GPT-4 (1T): ~25x": the law says 19.0x
  // and 34.7x (numpy: 6.24 * (N / 6.9e9) ** alpha).
  EXPECT_NEAR(predict(f, 175e9).value, 19.028893833949297, 1e-9);
  EXPECT_NEAR(predict(f, 1e12).value, 34.709539234787215, 1e-9);
  EXPECT_GT(predict(f, 175e9).value - c.quoted_predictions[1].second, 3.9);
  EXPECT_TRUE(std::isnan(predict(f, 175e9).pred_low));
}

TEST(CompareSeed002, ExponentFromThePresets) {
  auto small = *preset("pythia-1.4b"), large = *preset("pythia-6.9b");
  auto fit = [&](ParamBasis b) {
    return fit_loglog({params_of(small, b), params_of(large, b)},
                      {metric(small, "mlp_last_layer_gain"), metric(large, "mlp_last_layer_gain")});
  };
  // The presets hold seed 001's 3.604 (seed 002 rounds it to 3.60).
  EXPECT_NEAR(fit(ParamBasis::Nominal).alpha, std::log(6.24 / 3.604) / std::log(6.9 / 1.4), 1e-12);
  EXPECT_NEAR(fit(ParamBasis::Total).alpha, 0.3477725559515395, 1e-12);
  EXPECT_NEAR(fit(ParamBasis::NonEmbedding).alpha, 0.32797549394156145, 1e-12);
  EXPECT_NEAR(fit(ParamBasis::Total).alpha, 0.35, 0.005);
}

TEST(ComparePresets, ReprintSeed001Table) {
  auto a = *preset("pythia-1.4b"), b = *preset("pythia-6.9b");
  EXPECT_EQ(metric(a, "n_layers"), 24);
  EXPECT_EQ(metric(b, "n_layers"), 32);
  EXPECT_DOUBLE_EQ(metric(a, "attn_contracting_pct"), 100.0);
  EXPECT_DOUBLE_EQ(metric(b, "attn_contracting_pct"), 100.0);
  EXPECT_NEAR(metric(a, "mlp_contracting_pct"), 91.6667, 1e-4);  // "22/24 (92%)"
  EXPECT_DOUBLE_EQ(metric(b, "mlp_contracting_pct"), 56.25);     // "18/32 (56%)"
  EXPECT_EQ(metric(a, "attn_min_gain"), 0.083);
  EXPECT_EQ(metric(b, "attn_max_gain"), 0.999);
  EXPECT_EQ(metric(a, "mlp_last_layer_gain"), 3.604);
  EXPECT_EQ(metric(b, "mlp_last_layer_gain"), 6.24);
  EXPECT_EQ(metric(a, "combined_max_gain"), 1.338);
  EXPECT_EQ(metric(b, "combined_max_gain"), 1.71);
  EXPECT_FALSE(preset("pythia-12b"));
  EXPECT_THROW(find_metric("bogus"), Error);
  EXPECT_EQ(normalised_depth(31, 32), 1.0);
  EXPECT_EQ(normalised_depth(0, 1), 0.0);
}

LayerSeries full(const std::vector<double>& gains) {
  LayerSeries s;
  for (size_t i = 0; i < gains.size(); ++i) {
    s.layers.push_back(static_cast<int>(i));
    s.values.push_back(gains[i]);
  }
  return s;
}

// Seed 002's story as a clean step function of 32 layers: early expansion
// L0-6, plateau L7-20, decline L21-30, explosion L31, times log-normal noise.
std::vector<double> steps_with_noise(unsigned seed, double sd) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, sd);
  std::vector<double> g;
  for (int l = 0; l < 32; ++l) {
    double level = l <= 6 ? 1.6 : l <= 20 ? 1.0 : l <= 30 ? 0.8 : 6.24;
    g.push_back(level * std::exp(noise(rng)));
  }
  return g;
}

TEST(CompareSegmentation, RecoversNoisySteps) {
  // Noise sd 0.03 in log units: the smallest step (1.0 -> 0.8) is 7 sd.
  for (unsigned seed = 1; seed <= 20; ++seed) {
    Segmentation s = segment_by_bic(full(steps_with_noise(seed, 0.03)), 8);
    ASSERT_EQ(s.segments.size(), 4u) << "seed " << seed;
    EXPECT_EQ(s.segments[0].last_layer, 6);
    EXPECT_EQ(s.segments[1].first_layer, 7);
    EXPECT_EQ(s.segments[1].last_layer, 20);
    EXPECT_EQ(s.segments[2].last_layer, 30);
    EXPECT_EQ(s.segments[3].first_layer, 31);
    EXPECT_NEAR(s.segments[1].gain, 1.0, 0.03);
    EXPECT_NEAR(std::log(s.segments[3].gain), std::log(6.24), 0.12);  // one noisy layer
    EXPECT_EQ(s.bic_by_k.size(), 8u);
    EXPECT_EQ(s.bic, s.bic_by_k[3]);
  }
  // Noisier (sd 0.05, the small step is 4.5 sd): the number of phases is
  // still found almost always, boundaries within a layer.
  int right = 0;
  for (unsigned seed = 1; seed <= 20; ++seed) {
    Segmentation s = segment_by_bic(full(steps_with_noise(seed, 0.05)), 8);
    if (s.segments.size() != 4) continue;
    ++right;
    EXPECT_NEAR(s.segments[1].last_layer, 20, 1);
    EXPECT_EQ(s.segments[3].first_layer, 31);
  }
  EXPECT_GE(right, 19);
}

TEST(CompareSegmentation, ExactStepsAndPureNoise) {
  std::vector<double> g(12, 2.0);
  for (size_t i = 5; i < 12; ++i) g[i] = 0.5;
  Segmentation s = segment_by_bic(full(g), 6);
  ASSERT_EQ(s.segments.size(), 2u);  // the variance floor stops extra segments
  EXPECT_EQ(s.segments[0].last_layer, 4);
  EXPECT_NEAR(s.segments[0].gain, 2.0, 1e-12);
  EXPECT_NEAR(s.segments[1].gain, 0.5, 1e-12);
  EXPECT_NEAR(s.rss, 0.0, 1e-15);
  // Noise without steps is one segment.
  std::vector<double> flat = steps_with_noise(7, 0.05);
  flat.resize(20);
  for (auto& v : flat) v /= 1.6;
  flat.resize(7);
  EXPECT_EQ(segment_by_bic(full(flat), 5).segments.size(), 1u);
}

TEST(CompareSegmentation, FixedKIsTheLeastSquaresOptimum) {
  LayerSeries g = full({1, 2, 4, 4, 8});
  Segmentation one = fit_segments(g, 1);
  EXPECT_NEAR(one.segments[0].gain, std::pow(1 * 2 * 4 * 4 * 8.0, 0.2), 1e-12);  // geometric mean
  Segmentation five = fit_segments(g, 5);
  EXPECT_NEAR(five.rss, 0.0, 1e-15);
  // Brute force over all 2-segment splits agrees with the DP.
  double best = 1e300;
  for (size_t cut = 1; cut < 5; ++cut) {
    double rss = 0;
    for (auto [b, e] : {std::pair<size_t, size_t>{0, cut}, {cut, 5}}) {
      double m = 0;
      for (size_t i = b; i < e; ++i) m += std::log(g.values[i]) / static_cast<double>(e - b);
      for (size_t i = b; i < e; ++i) rss += std::pow(std::log(g.values[i]) - m, 2);
    }
    best = std::min(best, rss);
  }
  EXPECT_NEAR(fit_segments(g, 2).rss, best, 1e-12);
  EXPECT_THROW(fit_segments(g, 6), Error);
  EXPECT_THROW(fit_segments(g, 0), Error);
  // Missing layers are skipped; ranges are in layer indices.
  LayerSeries sparse{{0, 4, 8, 12, 16, 20, 31}, {1.0, std::nan(""), 1.01, 0.99, 1.0, 1.02, 6.0}};
  Segmentation sp = segment_by_bic(sparse, 4);
  EXPECT_EQ(sp.n_samples, 6u);
  ASSERT_EQ(sp.segments.size(), 2u);
  EXPECT_EQ(sp.segments.back().first_layer, 31);
}

TEST(CompareSegmentation, SeedPhasesOnThePreset) {
  auto b = *preset("pythia-6.9b");
  Segmentation best = segment_by_bic(b.mlp, 8);
  Segmentation seed = evaluate_phases(b.mlp, b.seed_phases, best.noise_variance);
  ASSERT_EQ(seed.segments.size(), 4u);
  EXPECT_EQ(seed.segments[3].n_samples, 1u);
  EXPECT_NEAR(seed.segments[3].gain, 6.24, 1e-12);
  EXPECT_EQ(seed.n_samples, 10u);
  EXPECT_LE(best.bic, seed.bic + 1e-9);  // the optimum is never worse than the eyeballed split
  EXPECT_EQ(best.segments.back().first_layer, 31);
}

TEST(CompareFit, StudentTQuantiles) {
  // scipy.stats.t.ppf(0.975, df)
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.706204736174698, 1e-9);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.302652729749464, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 3), 3.182446305284263, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.2281388519862744, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.0422724563012373, 1e-10);
  EXPECT_NEAR(student_t_quantile(0.025, 3), -3.182446305284263, 1e-10);
  EXPECT_DOUBLE_EQ(student_t_cdf(0, 5), 0.5);
}

TEST(CompareFit, IntervalsMatchNumpy) {
  LogLogFit f = fit_loglog({1e9, 2e9, 4e9, 8e9, 16e9}, {2.0, 2.5, 3.3, 3.9, 5.2});
  // numpy.linalg.lstsq on the logs, t = 3.182446305284263 (df = 3).
  EXPECT_FALSE(f.exact);
  EXPECT_NEAR(f.alpha, 0.33985693, 1e-8);
  EXPECT_NEAR(f.a, -6.35148809, 1e-7);
  EXPECT_NEAR(f.se_alpha, 0.013699763429349676, 1e-12);
  EXPECT_NEAR(f.residual_sd, 0.030028838121970453, 1e-12);
  EXPECT_NEAR(f.alpha_low, 0.2962581660504955, 1e-10);
  EXPECT_NEAR(f.alpha_high, 0.38345568906850014, 1e-10);
  Prediction p = predict(f, 175e9);
  EXPECT_NEAR(p.value, 11.550695623102618, 1e-8);
  EXPECT_NEAR(p.pred_low, 9.502541924226296, 1e-8);
  EXPECT_NEAR(p.pred_high, 14.04030315692872, 1e-8);
  EXPECT_NEAR(p.mean_low, 9.743053670702293, 1e-8);
  EXPECT_NEAR(p.mean_high, 13.693711836850117, 1e-8);
}

TEST(CompareFit, BadInputsAreErrors) {
  EXPECT_THROW(fit_loglog({1e9}, {2.0}), Error);
  EXPECT_THROW(fit_loglog({1e9, 1e9}, {2.0, 3.0}), Error);
  EXPECT_THROW(fit_loglog({1e9, 2e9}, {0.0, 3.0}), Error);
  EXPECT_THROW(fit_loglog({1e9, 2e9}, {std::nan(""), 3.0}), Error);
  EXPECT_THROW(predict(fit_loglog({1e9, 2e9}, {1.0, 3.0}), -1), Error);
}

nlohmann::json gains_doc() {
  // The keys seed 001 writes (ffn_expansion_pythia69b_results.json) for a
  // 3-layer model, plus the parameter counts compare needs.
  return nlohmann::json::parse(R"({
    "model": "tiny", "n_layers": 3, "hidden_dim": 8, "n_prompts": 2,
    "n_params": 1000, "n_params_non_embedding": 600,
    "attention": {"gains": [0.5, 0.25, 0.4], "min_gain": 0.25, "max_gain": 0.5,
                  "L_star_min": 1, "n_contracting": 3, "n_expanding": 0},
    "mlp": {"gains": [0.9, 1.2, 4.0], "min_gain": 0.9, "max_gain": 4.0, "L_star_max": 2,
            "n_contracting": 1, "n_expanding": 2},
    "funnel_test": {"funnel_confirmed": true}
  })");
}

TEST(CompareParse, ReadsTheSeedKeysAndDerivesTheRest) {
  GainsSummary s = gains::summary_from_json(gains_doc(), "a.json");
  EXPECT_EQ(s.model, "tiny");
  EXPECT_EQ(s.source, "a.json");
  EXPECT_EQ(s.mlp_last_layer_gain, 4.0);          // mean_mlp_gains[-1]
  EXPECT_NEAR(s.combined.values[2], 1.6, 1e-15);  // attn * mlp
  EXPECT_NEAR(s.combined_max_gain, 1.6, 1e-15);   // np.nanmax(combined)
  EXPECT_EQ(s.combined_max_gain_layer, 2);
  EXPECT_NEAR(metric(s, "mlp_contracting_pct"), 100.0 / 3, 1e-12);
  EXPECT_TRUE(std::isnan(s.n_params_nominal));
  EXPECT_TRUE(s.notes.empty());
  // A null gain is a missing layer.
  auto doc = gains_doc();
  doc["mlp"]["gains"][1] = nullptr;
  EXPECT_TRUE(std::isnan(gains::summary_from_json(doc, "a.json").mlp.values[1]));
  // A summary that contradicts the per-layer gains is flagged.
  doc = gains_doc();
  doc["mlp"]["last_layer_gain"] = 3.0;
  EXPECT_EQ(gains::summary_from_json(doc, "a.json").notes.size(), 1u);
  doc["random_weights"] = true;
  EXPECT_EQ(gains::summary_from_json(doc, "a.json").warnings.size(), 1u);
}

void expect_error(const nlohmann::json& doc, const std::string& fragment) {
  try {
    gains::summary_from_json(doc, "runs/b.json");
    ADD_FAILURE() << "no error for " << fragment;
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(msg.rfind("runs/b.json: ", 0), 0u) << msg;
    EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

TEST(CompareParse, MalformedInputsNameFileAndField) {
  expect_error(nlohmann::json::array(), "expected a JSON object");
  auto d = gains_doc();
  d.erase("n_params");
  expect_error(d, "'n_params'");
  d = gains_doc();
  d["mlp"].erase("min_gain");
  expect_error(d, "'mlp.min_gain'");
  d = gains_doc();
  d["n_layers"] = 4;
  expect_error(d, "'attention.gains' has 3 values but n_layers is 4");
  d = gains_doc();
  d["mlp"]["gains"][0] = 0.0;
  expect_error(d, "'mlp.gains[0]' = 0 is not a positive gain");
  d = gains_doc();
  d["mlp"]["gains"][0] = "x";
  expect_error(d, "'mlp.gains[0]' must be a number");
  d = gains_doc();
  d["model"] = 3;
  expect_error(d, "'model' must be a string");
  d = gains_doc();
  d["n_layers"] = 2.5;
  expect_error(d, "'n_layers' must be an integer");
  d = gains_doc();
  d["n_params"] = -1;
  expect_error(d, "'n_params' must be positive");
  d = gains_doc();
  d["attention"]["n_contracting"] = 7;
  expect_error(d, "exceeds n_layers");
  d = gains_doc();
  d["attention"] = 1;
  expect_error(d, "'attention.gains'");
}

}  // namespace
}  // namespace sg::compare

namespace sg::compare {
namespace {

TEST(Seed002Check, ItsLawAndWhichPredictionsFollow) {
  const SeedScalingCheck c = check_seed002();
  EXPECT_NEAR(c.fit.alpha, std::log(6.24 / 3.60) / std::log(6.9 / 1.4), 1e-12);
  ASSERT_FALSE(c.rows.empty());
  for (const auto& r : c.rows) EXPECT_EQ(r.consistent, std::fabs(r.law - r.quoted) < 0.1 * r.quoted) << r.label;
  EXPECT_TRUE(c.rows[0].consistent) << c.rows[0].label << " " << c.rows[0].law;
}

TEST(FitMetric, NamesTheInputThatCannotBeFitted) {
  auto a = *preset("pythia-1.4b"), b = *preset("pythia-6.9b");
  b.mlp_last_layer_gain = -1;
  b.source = "runs/b.json";
  try {
    fit_metric({a, b}, find_metric("mlp_last_layer_gain"), ParamBasis::Nominal, 0.95);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("runs/b.json"), std::string::npos) << e.what();
  }
  EXPECT_GT(
      fit_metric({a, *preset("pythia-6.9b")}, find_metric("mlp_last_layer_gain"), ParamBasis::Nominal, 0.95).alpha, 0);
}

}  // namespace
}  // namespace sg::compare
