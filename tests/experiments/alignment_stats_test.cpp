// The align statistics: the golden z-score of alignment.json, the Gram path
// against a plain per-permutation reference, the seed's per-layer and summary
// logic on hand-made inputs, the beyond-the-seed variants, and a timing print.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <fstream>
#include <random>

#include "experiments/alignment_stats.h"
#include "experiments/pyrandom.h"
#include "support/test_support.h"
#include "util/error.h"

namespace {

using nlohmann::json;
using sg::align::LayerPair;
using sg::align::LayerScores;
using sg::align::MatrixView;
using sg::align::PermutationSet;
using sg::align::ZScore;

const json& golden_case() {
  static const json j = [] {
    std::ifstream in(sg::test::shared_dir() / "golden" / "alignment.json");
    return json::parse(in)["cases"][0];
  }();
  return j;
}

std::vector<double> flat(const json& rows) {
  std::vector<double> out;
  for (const auto& r : rows) {
    for (const auto& x : r) out.push_back(x.get<double>());
  }
  return out;
}

void expect_rel(double got, double want, double tol, const std::string& what) {
  EXPECT_LE(std::abs(got - want), tol * std::abs(want)) << what << ": " << got << " vs " << want;
}

// The seed's function written out plainly: normalise, then one full pass of row
// dot products per permutation (no Gram matrix).
ZScore reference_z(const std::vector<double>& a, const std::vector<double>& b, size_t n, size_t d, size_t n_perms) {
  auto unit = [&](const std::vector<double>& x) {
    std::vector<double> u = x;
    for (size_t i = 0; i < n; ++i) {
      double ss = 0;
      for (size_t k = 0; k < d; ++k) ss += x[i * d + k] * x[i * d + k];
      for (size_t k = 0; k < d; ++k) u[i * d + k] /= std::sqrt(ss);
    }
    return u;
  };
  const auto ua = unit(a), ub = unit(b);
  auto mean_dot = [&](const std::vector<uint32_t>& p) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) {
      double dot = 0;
      for (size_t k = 0; k < d; ++k) dot += ua[i * d + k] * ub[p[i] * d + k];
      s += dot;
    }
    return s / static_cast<double>(n);
  };
  std::vector<uint32_t> id(n);
  for (size_t i = 0; i < n; ++i) id[i] = static_cast<uint32_t>(i);
  ZScore z;
  z.matched = mean_dot(id);
  sg::rnd::NumpyRandomState rs(42);
  std::vector<double> sc;
  for (size_t k = 0; k < n_perms; ++k) sc.push_back(mean_dot(rs.permutation(n)));
  double m = 0, v = 0;
  for (double s : sc) m += s;
  m /= static_cast<double>(n_perms);
  for (double s : sc) v += (s - m) * (s - m);
  z.scrambled_mean = m;
  z.scrambled_std = std::sqrt(v / static_cast<double>(n_perms));
  z.z = (z.matched - m) / z.scrambled_std;
  return z;
}

TEST(AlignZ, MatchesTheGoldenCase) {
  const json& c = golden_case();
  const size_t n = c["N"], d = c["d"], n_perms = c["n_perms"];
  const auto a = flat(c["A"]), b = flat(c["B"]);
  const PermutationSet perms(n, n_perms);
  for (size_t k = 0; k < 3; ++k) {
    const auto p = perms[k];
    EXPECT_EQ(std::vector<uint32_t>(p.begin(), p.end()), c["first_3_permutations"][k].get<std::vector<uint32_t>>());
  }
  std::vector<double> scrambled;
  const ZScore z = sg::align::matched_vs_scrambled_z(a.data(), b.data(), d, perms, &scrambled);
  expect_rel(z.matched, c["matched"], 1e-12, "matched");
  expect_rel(z.scrambled_mean, c["scrambled_mean"], 1e-12, "scrambled_mean");
  expect_rel(z.scrambled_std, c["scrambled_std"], 1e-12, "scrambled_std");
  expect_rel(z.z, c["z"], 1e-12, "z");
  ASSERT_EQ(scrambled.size(), n_perms);
  for (size_t k = 0; k < n_perms; ++k) {
    // Scrambled means are near 0, so relative to the matched scale.
    EXPECT_LE(std::abs(scrambled[k] - c["scrambled"][k].get<double>()), 1e-12 * z.matched) << k;
  }
}

// The seed's own path: the float32 matrices of one layer through analyze_layer.
// A and B are exactly representable in float32, so z_pre equals the golden z.
TEST(AlignZ, GoldenCaseThroughAnalyzeLayer) {
  const json& c = golden_case();
  const size_t n = c["N"], d = c["d"];
  const auto a = flat(c["A"]), b = flat(c["B"]);
  std::vector<float> af(a.begin(), a.end()), bf(b.begin(), b.end()), zero(n * d, 0.f);
  ASSERT_EQ(std::vector<double>(af.begin(), af.end()), a);
  const MatrixView va{af.data(), n, d}, vb{bf.data(), n, d}, v0{zero.data(), n, d};
  // mlp_delta = h_pre: post_mlp = 2 * A exactly, so its z equals the golden z too.
  const LayerPair pair{{va, v0, va}, {vb, v0, vb}};
  sg::align::AlignOptions opt;
  const auto r = sg::align::analyze_layer(0, pair, opt, PermutationSet(n, opt.n_perms));
  expect_rel(r.raw.pre.z, c["z"], 1e-12, "z_pre");
  EXPECT_EQ(r.raw.post_attn.z, r.raw.pre.z);
  expect_rel(r.raw.post_mlp.z, c["z"], 1e-12, "z_post_mlp");
  expect_rel(r.raw.mlp_alone.z, c["z"], 1e-12, "z_mlp_alone");
  EXPECT_TRUE(std::isnan(r.raw.attn_alone.z));  // zero rows: 0/0, as numpy
  EXPECT_EQ(r.raw.dz_attn, 0.0);
  EXPECT_TRUE(r.standardized.has_value());
}

std::vector<double> random_rows(size_t n, size_t d, uint32_t seed, double shared_weight,
                                const std::vector<double>* shared = nullptr) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> g;
  std::vector<double> x(n * d);
  for (size_t i = 0; i < n * d; ++i) x[i] = g(gen) + (shared ? shared_weight * (*shared)[i] : 0);
  return x;
}

TEST(AlignZ, GramPathEqualsPlainReference) {
  // N = 37 (no multiple of the 4-row groups); N = 2100 (the Gram is built in
  // several row blocks).
  for (const auto& [n, d, n_perms] :
       {std::tuple<size_t, size_t, size_t>{37, 24, 200}, std::tuple<size_t, size_t, size_t>{2100, 3, 20}}) {
    const auto a = random_rows(n, d, 1, 0);
    const auto b = random_rows(n, d, 2, 0.7, &a);
    const ZScore want = reference_z(a, b, n, d, n_perms);
    const ZScore got = sg::align::matched_vs_scrambled_z(a.data(), b.data(), d, PermutationSet(n, n_perms));
    expect_rel(got.matched, want.matched, 1e-12, "matched");
    expect_rel(got.scrambled_mean, want.scrambled_mean, 1e-10, "scrambled_mean");
    expect_rel(got.scrambled_std, want.scrambled_std, 1e-10, "scrambled_std");
    expect_rel(got.z, want.z, 1e-12, "z");
  }
}

// Hand-made per-layer scores for the summary rules.
LayerScores scores(double dz_attn, double dz_mlp, double z_attn_alone, double z_mlp_alone) {
  LayerScores s;
  s.dz_attn = dz_attn;
  s.dz_mlp = dz_mlp;
  s.attn_alone.z = z_attn_alone;
  s.mlp_alone.z = z_mlp_alone;
  return s;
}

TEST(AlignSummary, SeedRules) {
  const double nan = std::nan("");
  const std::vector<LayerScores> layers = {
      scores(2.0, 1.0, 3.5, 0.0),   // attn dominant, attn aligned
      scores(0.4, 0.3, 3.0, 3.01),  // neither dominant (<= 0.5); 3.0 is not > 3; mlp aligned
      scores(0.5, 0.5, 0, 0),       // exactly 0.5 and equal: neither
      scores(0.6, 0.6, 0, 0),       // equal above 0.5: neither (strict >)
      scores(-1.0, 0.9, 0, 4),      // mlp dominant, mlp aligned
      scores(nan, 0.7, nan, 0),     // NaN compares false: mlp > NaN is false too
  };
  const auto s = sg::align::summarize(layers);
  EXPECT_EQ(s.n_layers, 6);
  EXPECT_EQ(s.attn_dominant_layers, 1);
  EXPECT_EQ(s.mlp_dominant_layers, 1);
  EXPECT_EQ(s.attn_aligned_layers, 1);
  EXPECT_EQ(s.mlp_aligned_layers, 2);
  EXPECT_TRUE(std::isnan(s.total_dz_attn));
  EXPECT_DOUBLE_EQ(s.total_dz_mlp, 1.0 + 0.3 + 0.5 + 0.6 + 0.9 + 0.7);
  ASSERT_TRUE(s.ratio_attn_mlp.has_value());

  const std::vector<LayerScores> finite = {scores(1.0, 0.5, 0, 0), scores(2.0, -0.5, 0, 0)};
  const auto f = sg::align::summarize(finite);
  EXPECT_EQ(f.total_dz_attn, 3.0);
  EXPECT_EQ(f.total_dz_mlp, 0.0);
  EXPECT_FALSE(f.ratio_attn_mlp.has_value());  // the seed prints "MLP Δz is zero"
  EXPECT_EQ(sg::align::seed_summary_json(f).dump(),
            "{\"total_dz_attn\":3.0,\"total_dz_mlp\":0.0,\"attn_dominant_layers\":2,"
            "\"mlp_dominant_layers\":0,\"attn_aligned_layers\":0,\"mlp_aligned_layers\":0,"
            "\"ratio_dz_attn_mlp\":null}");
}

TEST(AlignLayerOutput, MarkersLineAndJsonKeys) {
  sg::align::LayerResult r;
  r.layer = 3;
  r.raw.pre.z = 4.25;
  r.raw.dz_attn = 1.55;
  r.raw.dz_mlp = -0.05;
  r.raw.post_mlp.z = 5.75;
  r.raw.attn_alone.z = 2.5;
  r.raw.mlp_alone.z = std::nan("");
  r.norm_h_pre = 2.5;
  r.norm_attn_delta = 3.5;
  r.norm_mlp_delta = 1234.5;
  EXPECT_TRUE(r.raw.marker_attn());
  EXPECT_FALSE(r.raw.marker_mlp());
  // Expected string printed by CPython 3.11 from the seed's f-string.
  EXPECT_EQ(sg::align::seed_layer_line(r),
            " L 3: z_pre=  4.2 → +attn= +1.6 → +mlp= -0.1 → z_post=  5.8 | attn_alone=  2.5 "
            "mlp_alone=  nan | norms: pre=2 attn=4 mlp=1234 *** ATTN");
  r.raw.dz_mlp = -1.51;
  r.raw.dz_attn = 1.5;  // not > 1.5
  const std::string line = sg::align::seed_layer_line(r);
  EXPECT_TRUE(line.ends_with("mlp=1234 *** MLP")) << line;

  std::vector<std::string> keys;
  const auto j = sg::align::seed_layer_json(r);
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"layer", "z_pre", "z_post_attn", "z_post_mlp", "dz_attn", "dz_mlp",
                                            "z_attn_correction_alone", "z_mlp_correction_alone", "norm_h_pre",
                                            "norm_attn_delta", "norm_mlp_delta", "matched_cos_pre",
                                            "matched_cos_post_attn", "matched_cos_post_mlp"}));
  EXPECT_TRUE(sg::align::seed_layer_json(r)["z_mlp_correction_alone"].is_number());
  EXPECT_EQ(sg::align::layer_scores_json(r.raw).size(), 10u);
}

// Synthetic captures: n pairs, d dims, L layers; b shares a part of a's direction.
struct Synthetic {
  size_t n, d, layers;
  std::vector<std::vector<float>> store;  // 6 matrices per layer
  std::vector<LayerPair> pairs;
  Synthetic(size_t n_, size_t d_, size_t layers_) : n(n_), d(d_), layers(layers_) {
    std::mt19937 gen(5);
    std::normal_distribution<float> g;
    store.resize(layers * 6, std::vector<float>(n * d));
    for (size_t l = 0; l < layers; ++l) {
      for (size_t m = 0; m < 6; ++m) {
        for (auto& x : store[l * 6 + m]) x = g(gen);
      }
      // b's vectors = a's (times 0.3 for h_pre) + noise: matched rows correlate.
      for (size_t m = 0; m < 3; ++m) {
        const float w = m == 0 ? 0.3f : 0.8f;
        for (size_t i = 0; i < n * d; ++i) store[l * 6 + 3 + m][i] += w * store[l * 6 + m][i];
      }
      auto view = [&](size_t m) { return MatrixView{store[l * 6 + m].data(), n, d}; };
      pairs.push_back({{view(0), view(1), view(2)}, {view(3), view(4), view(5)}});
    }
  }
};

TEST(AlignAnalyze, VariantsAndLabels) {
  Synthetic s(60, 16, 3);
  sg::align::AlignOptions opt;
  opt.n_perms = 100;
  opt.drop_top_dims = 2;
  opt.parallel_residual = true;
  const auto res = sg::align::analyze(s.pairs, opt);
  EXPECT_FALSE(res.post_attn_is_model_state);
  EXPECT_NE(res.post_attn_note.find("parallel-residual"), std::string::npos);
  ASSERT_EQ(res.layers.size(), 3u);
  ASSERT_TRUE(res.summary_standardized && res.summary_top_dims_removed);
  for (const auto& r : res.layers) {
    EXPECT_GT(r.raw.attn_alone.z, 3.0);  // built to be aligned
    EXPECT_EQ(r.dropped_dims.pre.size(), 2u);
    ASSERT_TRUE(r.standardized && r.top_dims_removed);
    EXPECT_DOUBLE_EQ(r.raw.dz_attn, r.raw.post_attn.z - r.raw.pre.z);
    EXPECT_DOUBLE_EQ(r.raw.dz_mlp, r.raw.post_mlp.z - r.raw.post_attn.z);
  }
  EXPECT_EQ(res.summary.attn_aligned_layers, 3);
  // analyze() runs layers on threads; the numbers equal a serial per-layer run.
  const PermutationSet perms(s.n, opt.n_perms);
  for (size_t l = 0; l < s.layers; ++l) {
    const auto one = sg::align::analyze_layer(static_cast<int>(l), s.pairs[l], opt, perms);
    EXPECT_EQ(one.raw.post_mlp.z, res.layers[l].raw.post_mlp.z);
    EXPECT_EQ(one.standardized->mlp_alone.z, res.layers[l].standardized->mlp_alone.z);
    EXPECT_EQ(one.top_dims_removed->pre.z, res.layers[l].top_dims_removed->pre.z);
  }

  // A "rogue" dimension: huge, shared by every vector of both languages. It
  // dominates the raw cosines (all near 1, z collapses); standardising or dropping
  // the top dimension removes it.
  Synthetic t(60, 16, 1);
  for (size_t m : {0u, 3u}) {
    for (size_t i = 0; i < t.n; ++i) t.store[m][i * t.d + 5] += 1000.0f + static_cast<float>(i % 7);
  }
  opt.drop_top_dims = 1;
  const auto rogue = sg::align::analyze(t.pairs, opt);
  const auto& r = rogue.layers[0];
  EXPECT_EQ(r.dropped_dims.pre, std::vector<uint32_t>{5});
  EXPECT_GT(r.raw.pre.matched, 0.99);
  EXPECT_GT(r.standardized->pre.z, 3.0);
  EXPECT_LT(r.standardized->pre.matched, 0.9);
  EXPECT_LT(r.top_dims_removed->pre.matched, 0.9);
}

TEST(AlignAnalyze, StandardizedIsScaleInvariantPerDimension) {
  Synthetic s(40, 8, 1);
  sg::align::AlignOptions opt;
  opt.n_perms = 50;
  const auto before = sg::align::analyze(s.pairs, opt).layers[0];
  for (size_t m = 0; m < 6; ++m) {
    for (size_t i = 0; i < s.n; ++i) s.store[m][i * s.d + 2] *= 64.0f;  // exact in float
  }
  const auto after = sg::align::analyze(s.pairs, opt).layers[0];
  expect_rel(after.standardized->pre.z, before.standardized->pre.z, 1e-9, "standardized z");
  EXPECT_NE(after.raw.pre.z, before.raw.pre.z);
}

TEST(AlignAnalyze, BadShapesAreErrors) {
  Synthetic s(10, 4, 1);
  sg::align::AlignOptions opt;
  LayerPair bad = s.pairs[0];
  bad.b.attn_delta.rows = 9;
  try {
    sg::align::analyze(std::vector<LayerPair>{bad}, opt);
    ADD_FAILURE();
  } catch (const sg::Error& e) {
    EXPECT_STREQ(e.what(), "align: layer 0: b.attn_delta is 9 x 4, expected 10 x 4");
  }
  opt.drop_top_dims = 4;
  EXPECT_THROW(sg::align::analyze(s.pairs, opt), sg::Error);
  opt.drop_top_dims = 0;
  Synthetic wide(10, 5, 1);
  EXPECT_THROW(sg::align::analyze(std::vector<LayerPair>{s.pairs[0], wide.pairs[0]}, opt), sg::Error);
  opt.drop_top_dims = 0;
  opt.n_perms = 0;
  EXPECT_THROW(sg::align::analyze(s.pairs, opt), sg::Error);
  EXPECT_THROW(sg::align::analyze(std::span<const LayerPair>{}, sg::align::AlignOptions{}), sg::Error);
  Synthetic one(1, 4, 1);
  EXPECT_THROW(sg::align::analyze(one.pairs, sg::align::AlignOptions{}), sg::Error);
}

// Not an assertion on time (machines differ): prints what the seed's workload costs.
TEST(AlignTiming, SeedWorkloadPrint) {
  using clock = std::chrono::steady_clock;
  const size_t n = 200, layers = 36, n_perms = 500;
  auto t0 = clock::now();
  const PermutationSet perms(n, n_perms);
  auto t1 = clock::now();
  // The permutation part alone: 500 gather-and-sums over an N x N Gram matrix,
  // 5 z-scores per layer, 36 layers (d = 1 makes the Gram itself negligible).
  const auto a = random_rows(n, 1, 3, 0), b = random_rows(n, 1, 4, 0.5, &a);
  double sink = 0;
  for (size_t i = 0; i < layers * 5; ++i) {
    sink += sg::align::matched_vs_scrambled_z(a.data(), b.data(), 1, perms).z;
  }
  auto t2 = clock::now();
  Synthetic s(n, 32, layers);
  sg::align::AlignOptions opt;
  opt.standardized = false;
  const auto res = sg::align::analyze(s.pairs, opt);
  auto t3 = clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::printf("[timing] %zu permutations of N=%zu drawn: %.1f ms\n", n_perms, n, ms(t1 - t0));
  std::printf("[timing] %zu perms x %zu layers x 5 z-scores, gather-and-sum: %.1f ms\n", n_perms, layers, ms(t2 - t1));
  std::printf("[timing] full seed statistics (raw only), %zu layers, N=%zu, d=32: %.1f ms\n", layers, n, ms(t3 - t2));
  EXPECT_TRUE(std::isfinite(sink));
  EXPECT_EQ(res.layers.size(), layers);
}

}  // namespace
