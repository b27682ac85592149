#include "experiments/weights.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <vector>

#include "engine/row_kernels.h"
#include "util/error.h"

// 64-byte vectors by value never cross a call here (always_inline); GCC notes
// their AVX-512 calling convention anyway.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace sg::weights {

namespace {

// ---- float64 vector sums (the Lanczos basis; weight rows: engine/row_kernels.h) ----
// A sum keeps 32 lane sums (element c goes to lane c % 32, in element order; a
// partial last block is padded with zeros) and adds them in one fixed tree at
// the end. Four-lane GCC vector types (one AVX2 register; this file is compiled
// for x86-64-v3 on every CPU) without FMA (-ffp-contract=off): the bits are the
// same on every x86-64 CPU and for every thread count.
using D4 = double __attribute__((vector_size(32)));
typedef double D4u __attribute__((vector_size(32), aligned(8), may_alias));

[[gnu::always_inline]] inline D4 load4(const double* p) { return *reinterpret_cast<const D4u*>(p); }

// sum over c of a[c] * x[c].
double dot_d(const double* a, const double* x, int64_t n) {
  D4 s0 = {}, s1 = {}, s2 = {}, s3 = {}, s4 = {}, s5 = {}, s6 = {}, s7 = {};
  auto step = [&](const double* pa, const double* px) __attribute__((always_inline)) {
    s0 += load4(pa) * load4(px);
    s1 += load4(pa + 4) * load4(px + 4);
    s2 += load4(pa + 8) * load4(px + 8);
    s3 += load4(pa + 12) * load4(px + 12);
    s4 += load4(pa + 16) * load4(px + 16);
    s5 += load4(pa + 20) * load4(px + 20);
    s6 += load4(pa + 24) * load4(px + 24);
    s7 += load4(pa + 28) * load4(px + 28);
  };
  int64_t c = 0;
  for (; c + 32 <= n; c += 32) step(a + c, x + c);
  if (c < n) {
    double ta[32] = {};
    double tx[32] = {};
    std::copy(a + c, a + n, ta);
    std::copy(x + c, x + n, tx);
    step(ta, tx);
  }
  const D4 t = ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7));
  return (t[0] + t[2]) + (t[1] + t[3]);
}

// Row r of m as stored, for the row kernels (engine/row_kernels.h): BF16, F16 and
// F32 rows in place; a row of another dtype widened to float32 into buf.
struct StoredRow {
  DType dtype;
  const std::byte* data;
};
StoredRow stored_row(const RowMatrix& m, int64_t r, std::vector<float>& buf) {
  if (!m.owned.empty()) return {DType::F32, m.row(r)};
  if (rowk::in_place(m.dtype)) return {m.dtype, m.row(r)};
  const std::byte* p = m.row(r);
  buf.resize(static_cast<size_t>(m.cols));
  for (int64_t i = 0; i < m.cols; ++i) {
    double d;
    std::memcpy(&d, p + 8 * i, 8);
    buf[static_cast<size_t>(i)] = static_cast<float>(d);
  }
  return {DType::F32, reinterpret_cast<const std::byte*>(buf.data())};
}

// The matrix passes of the spectral estimates. A pass that sums rows into a
// vector (A^T y) gives each chunk of kChunk rows its own partial sum (rows in
// order) and adds the chunks in order: the same bits whatever the thread count.
constexpr int64_t kChunk = 64;

// f(i) for i in [0, n): over the threads of a new parallel region (when
// `parallel`), or on this thread alone when already inside one (layer_norms
// runs a layer per thread). Never a serialised nested region: libomp gives
// each thread entering one a team it never frees. Every f(i) writes its own
// outputs, so the bits do not depend on which thread runs it.
template <class F>
void parallel_for(int64_t n, F&& f, bool parallel = true) {
  if (!parallel || omp_in_parallel()) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t i = 0; i < n; ++i) f(i);
}

// Rows [r, r + count) of m as stored (count <= rowk::kMaxRows), for the row
// kernels; widened rows go to this thread's buffers. Returns their dtype.
DType stored_rows(const RowMatrix& m, int64_t r, int count, const std::byte** out) {
  static thread_local std::vector<float> bufs[rowk::kMaxRows];
  DType dt = DType::F32;
  for (int k = 0; k < count; ++k) {
    const StoredRow row = stored_row(m, r + k, bufs[k]);
    out[k] = row.data;
    dt = row.dtype;
  }
  return dt;
}

// y[r] = row r . x, blocks of 16 rows at a time (rowk::kMaxRows per kernel call).
void matvec(const RowMatrix& a, const double* x, double* y) {
  constexpr int64_t kRows = 16;
  parallel_for((a.rows + kRows - 1) / kRows, [&](int64_t b) {
    const int64_t end = std::min(a.rows, (b + 1) * kRows);
    for (int64_t r = b * kRows; r < end; r += rowk::kMaxRows) {
      const int count = static_cast<int>(std::min<int64_t>(rowk::kMaxRows, end - r));
      const std::byte* rows[rowk::kMaxRows];
      const DType dt = stored_rows(a, r, count, rows);
      rowk::dot(dt, rows, count, x, a.cols, y + r);
    }
  });
}

// z = A^T v (kGram: z = A^T (A v), one pass over A): per chunk, the rows added
// in order, rowk::kMaxRows per kernel call.
template <bool kGram>
void transpose_pass(const RowMatrix& a, const double* v, double* z, std::vector<double>& partial) {
  const int64_t chunks = (a.rows + kChunk - 1) / kChunk, n = a.cols;
  partial.resize(static_cast<size_t>(chunks * n));
  parallel_for(chunks, [&](int64_t ch) {
    double* p = partial.data() + ch * n;
    std::fill_n(p, n, 0.0);
    const int64_t end = std::min(a.rows, (ch + 1) * kChunk);
    for (int64_t r = ch * kChunk; r < end; r += rowk::kMaxRows) {
      const int count = static_cast<int>(std::min<int64_t>(rowk::kMaxRows, end - r));
      const std::byte* rows[rowk::kMaxRows];
      const DType dt = stored_rows(a, r, count, rows);
      double t[rowk::kMaxRows];
      if (kGram)
        rowk::dot(dt, rows, count, v, n, t);
      else
        std::copy(v + r, v + r + count, t);
      rowk::axpy(dt, rows, t, count, p, n);
    }
  });
  constexpr int64_t kBlock = 256;
  parallel_for((n + kBlock - 1) / kBlock, [&](int64_t b) {
    const int64_t c0 = b * kBlock, c1 = std::min(n, c0 + kBlock);
    for (int64_t c = c0; c < c1; ++c) z[c] = partial[c];
    for (int64_t ch = 1; ch < chunks; ++ch)
      for (int64_t c = c0; c < c1; ++c) z[c] += partial[ch * n + c];
  });
}

// ---- Lanczos on G = A^T A ----

// The fixed pseudo-random start (splitmix64): uniform in [-1, 1).
std::vector<double> start_vector(int64_t n) {
  std::vector<double> x(static_cast<size_t>(n));
  uint64_t state = 0x5347'5745'4947'4854ull;  // fixed seed: the same start every run
  for (auto& v : x) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    v = static_cast<double>(z >> 11) * 0x1p-52 - 1.0;
  }
  return x;
}

// Number of eigenvalues of the symmetric tridiagonal T (diagonal a, off-diagonal
// b) below mu (Sturm sequence of the LDL^T pivots).
int64_t count_below(const std::vector<double>& a, const std::vector<double>& b, int64_t k, double mu) {
  int64_t count = 0;
  double d = 1;
  for (int64_t i = 0; i < k; ++i) {
    d = a[i] - mu - (i > 0 ? b[i - 1] * b[i - 1] / d : 0.0);
    if (d == 0) d = -1e-300;
    count += d < 0;
  }
  return count;
}

// The largest eigenvalue theta of the k x k tridiagonal T by bisection, and the
// last component of its unit eigenvector (inverse iteration): the Lanczos
// residual of the Ritz pair is b_k |s_k|.
std::pair<double, double> top_ritz(const std::vector<double>& a, const std::vector<double>& b, int64_t k) {
  double lo = a[0], hi = a[0];
  for (int64_t i = 0; i < k; ++i) {
    const double r = (i > 0 ? std::fabs(b[i - 1]) : 0.0) + (i + 1 < k ? std::fabs(b[i]) : 0.0);
    lo = std::min(lo, a[i] - r), hi = std::max(hi, a[i] + r);
  }
  for (int it = 0; it < 200; ++it) {  // invariant: every eigenvalue < hi, the largest >= lo
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (count_below(a, b, k, mid) == k ? hi : lo) = mid;
  }
  // (mu I - T) s = s_prev with mu just above theta: positive definite, LDL^T without pivoting.
  const double mu = hi + 1e-13 * std::fabs(hi) + 1e-300;
  std::vector<double> d(k), l(k), s(k, 1.0);
  for (int64_t i = 0; i < k; ++i) {
    l[i] = i > 0 ? -b[i - 1] / d[i - 1] : 0.0;
    d[i] = mu - a[i] - (i > 0 ? b[i - 1] * b[i - 1] / d[i - 1] : 0.0);
    if (d[i] <= 0) d[i] = 1e-300;
  }
  for (int rep = 0; rep < 3; ++rep) {
    for (int64_t i = 1; i < k; ++i) s[i] -= l[i] * s[i - 1];
    for (int64_t i = 0; i < k; ++i) s[i] /= d[i];
    for (int64_t i = k - 2; i >= 0; --i) s[i] -= l[i + 1] * s[i + 1];
    double nrm = 0;
    for (double v : s) nrm += v * v;
    nrm = std::sqrt(nrm);
    for (double& v : s) v /= nrm;
  }
  return {lo, s[k - 1]};
}

// Lanczos with full reorthogonalisation on the symmetric positive semidefinite
// G (n x n) given by apply(x, y): y = G x. See spectral_norm in weights.h for
// what the result guarantees.
template <class Apply>
SpectralEstimate lanczos(int64_t n, Apply apply) {
  SpectralEstimate e;
  if (n == 0) return e;
  const int64_t kmax = std::min<int64_t>(n, kSpectralMaxSteps);
  std::vector<std::vector<double>> q;
  std::vector<double> alpha, beta, w(static_cast<size_t>(n)), coef;
  q.push_back(start_vector(n));
  {
    const double nx = std::sqrt(dot_d(q[0].data(), q[0].data(), n));
    for (double& v : q[0]) v /= nx;
  }
  for (int64_t k = 0;; ++k) {
    apply(q[k].data(), w.data());
    alpha.push_back(dot_d(q[k].data(), w.data(), n));
    for (int64_t i = 0; i < n; ++i) w[i] -= alpha[k] * q[k][i] + (k > 0 ? beta[k - 1] * q[k - 1][i] : 0.0);
    // Full reorthogonalisation against every basis vector, twice (classical
    // Gram-Schmidt: coefficients in parallel, each a fixed-order dot product;
    // then each element subtracts them in basis order).
    for (int pass = 0; pass < 2; ++pass) {
      const auto m = static_cast<int64_t>(q.size());
      coef.assign(static_cast<size_t>(m), 0.0);
      const bool parallel = m * n > 65536;
      parallel_for(
          m, [&](int64_t j) { coef[j] = dot_d(q[j].data(), w.data(), n); }, parallel);
      parallel_for((n + 255) / 256,
                   [&](int64_t b) {
                     const int64_t i0 = b * 256;
                     for (int64_t j = 0; j < m; ++j)
                       for (int64_t i = i0; i < std::min(n, i0 + 256); ++i) w[i] -= coef[j] * q[j][i];
                   },
                   parallel);
    }
    beta.push_back(std::sqrt(dot_d(w.data(), w.data(), n)));
    const auto [theta, s_last] = top_ritz(alpha, beta, k + 1);
    const double residual = beta[k] * std::fabs(s_last);
    e.iterations = static_cast<int>(k + 1);
    e.sigma = std::sqrt(std::max(theta, 0.0));
    // |sigma_i^2 - theta| <= residual for some singular value sigma_i, so
    // |sigma_i - sigma| <= residual / sigma.
    e.bound = e.sigma > 0 ? residual / e.sigma : 0.0;
    const bool converged = residual <= kSpectralTolerance * theta && k + 1 >= std::min<int64_t>(n, kSpectralMinSteps);
    if (converged || beta[k] == 0 || theta <= 0 || k + 1 >= kmax) {
      if (beta[k] == 0 || k + 1 == n) e.bound = 0;  // an invariant subspace: theta is exact
      return e;
    }
    q.emplace_back(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) q[k + 1][i] = w[i] / beta[k];
  }
}

}  // namespace

double frobenius(const RowMatrix& m) {
  std::vector<double> rows(static_cast<size_t>(m.rows));
  constexpr int64_t kRows = 16;
  parallel_for((m.rows + kRows - 1) / kRows, [&](int64_t b) {
    for (int64_t r = b * kRows; r < std::min(m.rows, (b + 1) * kRows); ++r) {
      const std::byte* row;
      const DType dt = stored_rows(m, r, 1, &row);
      rows[static_cast<size_t>(r)] = rowk::sum_squares(dt, row, m.cols);
    }
  });
  double s = 0;
  for (double r : rows) s += r;
  return std::sqrt(s);
}

double frobenius(const DenseMatrix& m) { return frobenius(rows_of(m)); }

SpectralEstimate spectral_estimate(const RowMatrix& m) {
  std::vector<double> partial;
  return lanczos(m.cols, [&](const double* x, double* y) { transpose_pass<true>(m, x, y, partial); });
}

SpectralEstimate ov_spectral_estimate(const RowMatrix& w_o, const RowMatrix& w_v, int H, int KV, int hd) {
  const int group = H / KV;
  std::vector<double> partial, v(static_cast<size_t>(w_v.rows)), z(static_cast<size_t>(w_o.cols)),
      u(static_cast<size_t>(w_o.cols));
  // x [d] -> v = W_V x [KV hd] -> z [H hd] (head h takes kv head h / group)
  // -> u = W_O^T W_O z -> v = sum over each kv head's query heads -> W_V^T v [d].
  return lanczos(w_v.cols, [&](const double* x, double* y) {
    matvec(w_v, x, v.data());
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < hd; ++i) z[h * hd + i] = v[(h / group) * hd + i];
    transpose_pass<true>(w_o, z.data(), u.data(), partial);
    std::fill(v.begin(), v.end(), 0.0);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < hd; ++i) v[(h / group) * hd + i] += u[h * hd + i];
    transpose_pass<false>(w_v, v.data(), y, partial);
  });
}

double spectral_norm(const DenseMatrix& m) { return spectral_estimate(rows_of(m)).sigma; }

double ov_spectral_norm(const DenseMatrix& w_o, const DenseMatrix& w_v, int H, int KV, int hd) {
  return ov_spectral_estimate(rows_of(w_o), rows_of(w_v), H, KV, hd).sigma;
}

namespace {

LayerNorms one_layer(const Model& model, int l) {
  const ArchSpec& a = model.arch();
  LayerNorms n;
  n.q = frobenius(projection_rows(model, l, Proj::Q));
  n.k = frobenius(projection_rows(model, l, Proj::K));
  const RowMatrix v = projection_rows(model, l, Proj::V);
  const RowMatrix o = projection_rows(model, l, Proj::O);
  n.v = frobenius(v);
  n.o = frobenius(o);
  const SpectralEstimate sv = spectral_estimate(v), so = ov_spectral_estimate(o, v, a.n_heads, a.n_kv_heads, a.d_head);
  for (const auto& [what, e] : {std::pair{"W_V", sv}, std::pair{"OV", so}})
    if (e.bound > kSpectralTolerance * e.sigma)
      warnf("{}: layer {}: the {} spectral norm did not reach its bound in {} steps: within {:.1e} relative",
            model.dir().string(), l, what, e.iterations, e.bound / e.sigma);
  n.v_spectral = sv.sigma;
  n.ov_spectral = so.sigma;
  if (a.layers[l].moe) {
    n.moe = true;
    n.mlp_in = n.mlp_gate = n.mlp_out = std::nan("");
    n.router = frobenius(router_rows(model, l));
    auto expert = [&](int e) {
      return ExpertNorms{frobenius(expert_projection_rows(model, l, e, Proj::Up)),
                         frobenius(expert_projection_rows(model, l, e, Proj::Gate)),
                         frobenius(expert_projection_rows(model, l, e, Proj::Down))};
    };
    for (int e = 0; e < a.moe.n_experts; ++e) n.experts.push_back(expert(e));
    n.has_shared = a.moe.d_shared > 0;
    if (n.has_shared) n.shared = expert(-1);
  } else {
    n.mlp_in = frobenius(projection_rows(model, l, Proj::Up));
    if (a.gated_mlp) n.mlp_gate = frobenius(projection_rows(model, l, Proj::Gate));
    n.mlp_out = frobenius(projection_rows(model, l, Proj::Down));
  }
  return n;
}

}  // namespace

// Layers in parallel, one thread each (a layer's passes then run on one
// thread: no synchronisation inside a step; the numbers do not depend on which
// thread computes them), in rounds of as many layers as threads; progress is
// reported between rounds, on the calling thread.
std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress) {
  const int n_layers = model.arch().n_layers;
  std::vector<LayerNorms> out(static_cast<size_t>(n_layers));
  const int round = std::max(1, omp_get_max_threads());
  for (int l0 = 0; l0 < n_layers; l0 += round) {
    const int l1 = std::min(n_layers, l0 + round);
    std::vector<std::exception_ptr> errors(static_cast<size_t>(l1 - l0));
#pragma omp parallel for schedule(dynamic, 1) num_threads(l1 - l0)
    for (int l = l0; l < l1; ++l) {
      try {
        if (model.stage().holds_layer(l)) out[static_cast<size_t>(l)] = one_layer(model, l);
      } catch (...) {
        errors[static_cast<size_t>(l - l0)] = std::current_exception();
      }
    }
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    if (progress)
      for (int l = l0; l < l1; ++l) progress(l);
  }
  return out;
}

std::vector<std::string> columns(bool moe) {
  std::vector<std::string> c = {"W_Q", "W_K", "W_V", "W_O", "W_in", "W_gate", "W_out", "W_V_spectral", "OV_spectral"};
  if (moe) c.push_back("W_router");
  return c;
}

std::vector<double> values(const LayerNorms& n, bool gated_mlp, bool moe) {
  const double gate = gated_mlp ? n.mlp_gate : std::nan("");
  std::vector<double> v = {n.q, n.k, n.v, n.o, n.mlp_in, gate, n.mlp_out, n.v_spectral, n.ov_spectral};
  if (moe) v.push_back(n.moe ? n.router : std::nan(""));
  return v;
}

std::vector<ExpertRow> expert_rows(const std::vector<LayerNorms>& norms) {
  std::vector<ExpertRow> rows;
  for (size_t l = 0; l < norms.size(); ++l) {
    const auto layer = static_cast<int64_t>(l);
    for (size_t e = 0; e < norms[l].experts.size(); ++e)
      rows.push_back({layer, "expert " + std::to_string(e), norms[l].experts[e]});
    if (norms[l].has_shared) rows.push_back({layer, "shared expert", norms[l].shared});
  }
  return rows;
}

nlohmann::ordered_json to_json(const std::vector<LayerNorms>& norms, const std::string& model, bool gated_mlp, bool moe,
                               const nlohmann::ordered_json& provenance) {
  nlohmann::ordered_json j;
  j["model"] = model;
  j["norm"] =
      "Frobenius; *_spectral = largest singular value (Lanczos on A^T A: never above it, and within 1e-6 "
      "relative of a singular value)";
  const auto cols = columns(moe);
  for (size_t c = 0; c < cols.size(); ++c) {
    auto& col = j["layers"][cols[c]];
    col = nlohmann::ordered_json::array();
    for (const auto& n : norms) col.push_back(values(n, gated_mlp, moe)[c]);  // NaN is written as null
  }
  if (moe) {
    j["experts_note"] = "sparse MLP layers: W_in, W_gate, W_out are per expert (experts); W_router the router's";
    auto& ej = j["experts"];
    ej = nlohmann::ordered_json::array();
    for (const auto& r : expert_rows(norms))
      ej.push_back({{"layer", r.layer},
                    {"expert", r.expert},
                    {"W_in", r.norms.mlp_in},
                    {"W_gate", r.norms.mlp_gate},
                    {"W_out", r.norms.mlp_out}});
  }
  j["provenance"] = provenance;
  return j;
}

}  // namespace sg::weights
