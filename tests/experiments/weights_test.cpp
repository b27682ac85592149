// Weight norms (experiments/weights.h): the Lanczos spectral estimate against
// exact singular values (random, structured, tiny gap, low rank, OV circuit),
// the same bits for every thread count and storage dtype, in-place rows against
// the dense matrices on every golden model, and the per-checkpoint cache
// (hit, miss, corrupt entry, key change when a file changes).
#include <gtest/gtest.h>
#include <omp.h>

#include <array>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/weight_matrices.h"
#include "experiments/weights.h"
#include "experiments/weights_cache.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;
using Mat = std::vector<double>;  // row-major

// The eigenvalues of a symmetric n x n matrix (cyclic Jacobi, to convergence).
std::vector<double> jacobi_eigenvalues(Mat a, int n) {
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) off += a[p * n + q] * a[p * n + q];
    if (off < 1e-30) break;
    for (int p = 0; p < n; ++p)
      for (int q = p + 1; q < n; ++q) {
        const double apq = a[p * n + q];
        if (std::fabs(apq) < 1e-300) continue;
        const double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const double t = (theta >= 0 ? 1 : -1) / (std::fabs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; ++k) {  // columns p, q
          const double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; ++k) {  // rows p, q
          const double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  std::vector<double> ev(n);
  for (int i = 0; i < n; ++i) ev[i] = a[i * n + i];
  return ev;
}

DenseMatrix to_float(const Mat& a, int64_t rows, int64_t cols) {
  DenseMatrix m{rows, cols, std::vector<float>(a.size())};
  for (size_t i = 0; i < a.size(); ++i) m.data[i] = static_cast<float>(a[i]);
  return m;
}

// The exact largest singular value of the float matrix m (Jacobi on m^T m in double).
double exact_sigma_max(const DenseMatrix& m) {
  const auto n = static_cast<int>(m.cols);
  Mat g(static_cast<size_t>(n) * n, 0.0);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) g[i * n + j] += double{m.data[r * n + i]} * m.data[r * n + j];
  double top = 0;
  for (double e : jacobi_eigenvalues(g, n)) top = std::max(top, e);
  return std::sqrt(top);
}

Mat gaussian(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  Mat a(static_cast<size_t>(rows * cols));
  for (double& v : a) v = nd(rng);
  return a;
}

// Q diag(s) P^T (n x n) with Q, P products of three Householder reflections:
// singular values exactly s before the rounding to float32; returns the
// matrix and the Frobenius norm of that rounding (which bounds how far the
// float matrix's singular values are from s, by Weyl).
std::pair<DenseMatrix, double> with_singular_values(const std::vector<double>& s, uint64_t seed) {
  const auto n = static_cast<int64_t>(s.size());
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> nd;
  auto orthogonal = [&] {
    Mat q(static_cast<size_t>(n * n), 0.0);
    for (int64_t i = 0; i < n; ++i) q[i * n + i] = 1;
    for (int h = 0; h < 3; ++h) {
      std::vector<double> u(n);
      double uu = 0;
      for (double& v : u) v = nd(rng), uu += v * v;
      for (int64_t r = 0; r < n; ++r) {  // q = q (I - 2 u u^T / u^T u)
        double d = 0;
        for (int64_t c = 0; c < n; ++c) d += q[r * n + c] * u[c];
        for (int64_t c = 0; c < n; ++c) q[r * n + c] -= 2 * d / uu * u[c];
      }
    }
    return q;
  };
  const Mat q = orthogonal(), p = orthogonal();
  Mat a(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      const double qs = q[i * n + k] * s[k];
      for (int64_t j = 0; j < n; ++j) a[i * n + j] += qs * p[j * n + k];
    }
  DenseMatrix m = to_float(a, n, n);
  double err = 0;
  for (size_t i = 0; i < a.size(); ++i) err += (m.data[i] - a[i]) * (m.data[i] - a[i]);
  return {std::move(m), std::sqrt(err)};
}

TEST(WeightsSpectral, RandomMatrixMatchesJacobi) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{300, 240}, {200, 260}, {64, 64}}) {
    const DenseMatrix m = to_float(gaussian(rows, cols, 7 + rows), rows, cols);
    const double exact = exact_sigma_max(m);
    const auto e = weights::spectral_estimate(rows_of(m));
    EXPECT_LE(e.bound, weights::kSpectralTolerance * e.sigma);
    EXPECT_NEAR(e.sigma, exact, e.bound + 1e-12 * exact) << rows << "x" << cols << " in " << e.iterations << " steps";
    EXPECT_LE(e.sigma, exact * (1 + 1e-12));  // a Rayleigh quotient: never above
  }
}

TEST(WeightsSpectral, StructuredSpectra) {
  const int n = 384;
  struct Case {
    const char* name;
    std::vector<double> s;
  };
  std::vector<Case> cases;
  {
    std::vector<double> s(n);
    for (int i = 0; i < n; ++i) s[i] = 1.0 - static_cast<double>(i) / n;  // a linear spectrum
    cases.push_back({"linear", s});
    s[1] = 1.0 - 1e-9;  // a tiny gap at the top
    cases.push_back({"tiny gap", s});
    for (int i = 0; i < n; ++i) s[i] = i < 3 ? 4.0 - i : 0.0;  // rank 3: an invariant subspace
    cases.push_back({"rank 3", s});
    for (int i = 0; i < n; ++i) s[i] = std::pow(0.97, i);  // geometric decay
    s[0] = s[1] = s[2] = 2.5;                              // a repeated top value
    cases.push_back({"repeated top", s});
  }
  for (const auto& c : cases) {
    const auto [m, rounding] = with_singular_values(c.s, 99);
    const auto e = weights::spectral_estimate(rows_of(m));
    const double top = *std::max_element(c.s.begin(), c.s.end());
    EXPECT_NEAR(e.sigma, top, e.bound + rounding + 1e-9) << c.name << " in " << e.iterations << " steps";
    EXPECT_LE(e.sigma, top + rounding + 1e-12) << c.name;
    EXPECT_LE(e.bound, weights::kSpectralTolerance * top) << c.name;
  }
  const DenseMatrix zero{16, 16, std::vector<float>(256, 0.0f)};
  EXPECT_EQ(weights::spectral_norm(zero), 0.0);
}

// The OV circuit's estimate against the spectral norm of the explicit W_O expand(W_V).
TEST(WeightsSpectral, OvCircuitMatchesExplicitProduct) {
  for (auto [H, KV] : {std::pair<int, int>{4, 4}, {6, 2}}) {
    const int hd = 16, d = 80;
    const DenseMatrix wv = to_float(gaussian(KV * hd, d, 3), KV * hd, d);
    const DenseMatrix wo = to_float(gaussian(d, H * hd, 4), d, H * hd);
    Mat ov(static_cast<size_t>(d * d), 0.0);
    for (int r = 0; r < d; ++r)
      for (int h = 0; h < H; ++h)
        for (int i = 0; i < hd; ++i) {
          const double o = wo.data[r * H * hd + h * hd + i];
          for (int c = 0; c < d; ++c) ov[r * d + c] += o * wv.data[((h / (H / KV)) * hd + i) * d + c];
        }
    Mat g(static_cast<size_t>(d * d), 0.0);
    for (int r = 0; r < d; ++r)
      for (int i = 0; i < d; ++i)
        for (int j = 0; j < d; ++j) g[i * d + j] += ov[r * d + i] * ov[r * d + j];
    double top = 0;
    for (double e : jacobi_eigenvalues(g, d)) top = std::max(top, e);
    const auto e = weights::ov_spectral_estimate(rows_of(wo), rows_of(wv), H, KV, hd);
    EXPECT_NEAR(e.sigma, std::sqrt(top), e.bound + 1e-10 * std::sqrt(top)) << H << "/" << KV;
  }
}

// The same bits whatever the thread count, and for the same values stored as
// BF16 read in place rather than as float32.
TEST(WeightsSpectral, SameBitsForEveryThreadCountAndDtype) {
  const int64_t rows = 333, cols = 517;  // several row chunks, ragged lanes
  DenseMatrix m = to_float(gaussian(rows, cols, 11), rows, cols);
  std::vector<uint16_t> bf16(m.data.size());
  for (size_t i = 0; i < m.data.size(); ++i) {
    bf16[i] = f32_to_bf16(m.data[i]);
    m.data[i] = bf16_to_f32(bf16[i]);
  }
  RowMatrix b{rows, cols, DType::BF16, reinterpret_cast<const std::byte*>(bf16.data()), {}, {}};
  const DenseMatrix wo = to_float(gaussian(200, rows, 12), 200, rows);  // the OV circuit's W_O for a as W_V
  const int saved = omp_get_max_threads();
  std::vector<std::array<double, 4>> got;
  // (1-3 threads, as the batch tests: with 5, clang 14's libomp leaves three
  // thread records unfreed at exit, which the sanitizer build reports as a leak.)
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    for (const RowMatrix& a : {rows_of(m), b})
      got.push_back({weights::spectral_estimate(a).sigma, weights::frobenius(a),
                     weights::ov_spectral_estimate(rows_of(wo), a, 1, 1, static_cast<int>(rows)).sigma, 0.0});
  }
  // Whole models: layers in parallel rounds, passes inside a layer on one thread.
  const auto model = Model::load(test::shared_dir() / "golden/models/qwen2_moe");
  std::vector<std::vector<double>> layers;
  for (int threads : {1, 2, 3}) {
    omp_set_num_threads(threads);
    std::vector<double> all;
    for (const auto& n : weights::layer_norms(*model))
      for (double v : weights::values(n, true, true)) all.push_back(v);
    layers.push_back(all);
  }
  omp_set_num_threads(saved);
  for (const auto& l : layers) {
    ASSERT_EQ(l.size(), layers[0].size());
    for (size_t i = 0; i < l.size(); ++i)
      EXPECT_EQ(std::bit_cast<uint64_t>(l[i]), std::bit_cast<uint64_t>(layers[0][i]));
  }
  for (const auto& g : got)
    for (int i = 0; i < 3; ++i) EXPECT_EQ(std::bit_cast<uint64_t>(g[i]), std::bit_cast<uint64_t>(got[0][i])) << i;
}

// Rows read in place (fused QKV per head or in blocks, Conv1D, row offsets,
// experts, 16-bit dtypes) give exactly the numbers of the dense matrices.
TEST(WeightsRows, InPlaceRowsMatchDenseMatrices) {
  for (const char* name : {"neox_parallel", "neox_parallel_bf16", "gpt2", "llama", "phi3", "qwen2_f16", "qwen2_moe"}) {
    const auto model = Model::load(test::shared_dir() / "golden/models" / name);
    const ArchSpec& a = model->arch();
    for (int l = 0; l < a.n_layers; ++l) {
      for (Proj p : {Proj::Q, Proj::K, Proj::V, Proj::O, Proj::Up, Proj::Gate, Proj::Down}) {
        const bool mlp = p == Proj::Up || p == Proj::Gate || p == Proj::Down;
        if ((mlp && a.layers[l].moe) || (p == Proj::Gate && !a.gated_mlp)) continue;
        const DenseMatrix d = projection_matrix(*model, l, p);
        const RowMatrix r = projection_rows(*model, l, p);
        ASSERT_EQ(r.rows, d.rows);
        ASSERT_EQ(r.cols, d.cols);
        EXPECT_EQ(weights::frobenius(r), weights::frobenius(d)) << name << " layer " << l << " " << to_string(p);
      }
      const RowMatrix v = projection_rows(*model, l, Proj::V), o = projection_rows(*model, l, Proj::O);
      const DenseMatrix dv = projection_matrix(*model, l, Proj::V), dov = projection_matrix(*model, l, Proj::O);
      EXPECT_EQ(weights::spectral_estimate(v).sigma, weights::spectral_norm(dv)) << name;
      EXPECT_EQ(weights::ov_spectral_estimate(o, v, a.n_heads, a.n_kv_heads, a.d_head).sigma,
                weights::ov_spectral_norm(dov, dv, a.n_heads, a.n_kv_heads, a.d_head))
          << name;
      if (a.layers[l].moe) {
        EXPECT_EQ(weights::frobenius(expert_projection_rows(*model, l, 1, Proj::Down)),
                  weights::frobenius(expert_matrix(*model, l, 1, Proj::Down)));
      }
    }
  }
}

// ---- the cache ----

class WeightsCache : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* old = std::getenv("STREAMGAUGE_WEIGHT_CACHE");
    saved_ = old ? std::optional<std::string>(old) : std::nullopt;
    cache_ = test::scratch_dir("weights-cache");
    ::setenv("STREAMGAUGE_WEIGHT_CACHE", cache_.c_str(), 1);
    model_dir_ = test::scratch_dir("weights-cache-model");
    SyntheticSpec spec;
    spec.n_layers = 2, spec.d_model = 64, spec.n_heads = 4, spec.d_mlp = 128, spec.vocab_size = 64;
    spec.dtype = DType::BF16;
    write_synthetic_model(model_dir_, spec);
  }
  void TearDown() override {
    if (saved_)
      ::setenv("STREAMGAUGE_WEIGHT_CACHE", saved_->c_str(), 1);
    else
      ::unsetenv("STREAMGAUGE_WEIGHT_CACHE");
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(cache_)) out.push_back(e.path());
    return out;
  }
  static void expect_same(const std::vector<weights::LayerNorms>& a, const std::vector<weights::LayerNorms>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t l = 0; l < a.size(); ++l) {
      const auto va = weights::values(a[l], true, false), vb = weights::values(b[l], true, false);
      for (size_t i = 0; i < va.size(); ++i)
        EXPECT_EQ(std::bit_cast<uint64_t>(va[i]), std::bit_cast<uint64_t>(vb[i])) << l << " " << i;
    }
  }
  std::optional<std::string> saved_;
  fs::path cache_, model_dir_;
};

TEST_F(WeightsCache, MissThenHitWithTheSameBits) {
  auto model = Model::load(model_dir_);
  int ticks = 0;
  const auto first = weights::cached_layer_norms(*model, [&](int) { ++ticks; });
  EXPECT_EQ(ticks, 2);
  EXPECT_EQ(first.source.rfind("computed, cached in ", 0), 0u) << first.source;
  ASSERT_EQ(entries().size(), 1u);
  const auto second = weights::cached_layer_norms(*model, [&](int) { ++ticks; });
  EXPECT_EQ(ticks, 2);  // nothing computed
  EXPECT_EQ(second.source.rfind("read from cache ", 0), 0u) << second.source;
  expect_same(first.layers, second.layers);
  expect_same(first.layers, weights::layer_norms(*model));
}

TEST_F(WeightsCache, CorruptOrTruncatedEntryIsRecomputed) {
  auto model = Model::load(model_dir_);
  const auto first = weights::cached_layer_norms(*model);
  ASSERT_EQ(entries().size(), 1u);
  const fs::path entry = entries()[0];
  const std::string good = read_file(entry);
  for (const std::string& bad : {good.substr(0, good.size() / 2), std::string("garbage"), std::string(),
                                 std::string(good).replace(good.find("L "), 3, "L 7")}) {
    write_file_atomic(entry, bad);
    const auto again = weights::cached_layer_norms(*model);
    EXPECT_EQ(again.source.rfind("computed", 0), 0u) << again.source;
    expect_same(first.layers, again.layers);
    EXPECT_EQ(read_file(entry), good);  // rewritten
  }
  fs::remove(entry);
  fs::create_directory(entry);  // unreadable as a file, unwritable: still no error
  const auto again = weights::cached_layer_norms(*model);
  expect_same(first.layers, again.layers);
  fs::remove(entry);
}

TEST_F(WeightsCache, KeyChangesWhenAFileChanges) {
  std::string k0, k1;
  {
    auto model = Model::load(model_dir_);
    k0 = *weights::cache::key(*model);
    EXPECT_EQ(*weights::cache::key(*model), k0);
  }
  const fs::path file = model_dir_ / "model.safetensors";
  // Same bytes, new modification time.
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  {
    auto model = Model::load(model_dir_);
    k1 = *weights::cache::key(*model);
    EXPECT_NE(k1, k0);
  }
  // A different checkpoint written over it (other weights, same shapes).
  SyntheticSpec spec;
  spec.n_layers = 2, spec.d_model = 64, spec.n_heads = 4, spec.d_mlp = 128, spec.vocab_size = 64;
  spec.dtype = DType::BF16, spec.seed = 77;
  write_synthetic_model(model_dir_, spec);
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(10));
  auto model = Model::load(model_dir_);
  EXPECT_NE(*weights::cache::key(*model), k1);
  EXPECT_NE(*weights::cache::key(*model), k0);
  const auto fresh = weights::cached_layer_norms(*model);
  EXPECT_EQ(fresh.source.rfind("computed", 0), 0u) << fresh.source;
  expect_same(fresh.layers, weights::layer_norms(*model));
}

TEST_F(WeightsCache, OffMeansNoCache) {
  ::setenv("STREAMGAUGE_WEIGHT_CACHE", "off", 1);
  EXPECT_FALSE(weights::cache::directory());
  auto model = Model::load(model_dir_);
  EXPECT_EQ(weights::cached_layer_norms(*model).source, "computed (cache off)");
  EXPECT_TRUE(entries().empty());
}

TEST(WeightsCacheFormat, ParseRejectsAnotherKey) {
  std::vector<weights::LayerNorms> n(1);
  n[0].q = 1.5, n[0].mlp_gate = std::nan(""), n[0].moe = true, n[0].experts = {{1, 2, 3}};
  const std::string text = weights::cache::serialize("abc", n);
  ASSERT_TRUE(weights::cache::parse(text, "abc"));
  EXPECT_EQ(weights::cache::parse(text, "abc")->at(0).experts.at(0).mlp_gate, 2.0);
  EXPECT_TRUE(std::isnan(weights::cache::parse(text, "abc")->at(0).mlp_gate));
  EXPECT_FALSE(weights::cache::parse(text, "abd"));
}

}  // namespace
}  // namespace sg
