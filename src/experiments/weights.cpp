#include "experiments/weights.h"

#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

// 64-byte vectors by value never cross a call here (always_inline); GCC notes
// their AVX-512 calling convention anyway.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace sg::weights {

namespace {

// ---- row kernels: float32 rows (16-bit weights widened exactly), double sums ----
// Sums over a row keep sixteen lane sums (element c goes to lane c % 16, in
// element order) and add them in one fixed tree at the end: GCC vector types
// lowered to whatever registers the target has (two halves on AVX2, one
// register on AVX-512), without FMA (-ffp-contract=off), so the bits are the
// same on every x86-64 CPU and for every thread count.
using D8 = double __attribute__((vector_size(64)));
using F8 = float __attribute__((vector_size(32)));
typedef double D8u __attribute__((vector_size(64), aligned(8), may_alias));
typedef float F8u __attribute__((vector_size(32), aligned(4), may_alias));

[[gnu::always_inline]] inline D8 load_d(const double* p) { return *reinterpret_cast<const D8u*>(p); }
[[gnu::always_inline]] inline D8 load_f(const float* p) {
  return __builtin_convertvector(*reinterpret_cast<const F8u*>(p), D8);
}
[[gnu::always_inline]] inline double total(const D8& a, const D8& b) {
  const D8 s = a + b;
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

// sum a[c] * x[c], x in double or float.
template <class X>
double dot(const float* a, const X* x, int64_t n) {
  D8 s0 = {}, s1 = {};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    if constexpr (std::is_same_v<X, double>) {
      s0 += load_f(a + c) * load_d(x + c);
      s1 += load_f(a + c + 8) * load_d(x + c + 8);
    } else {
      s0 += load_f(a + c) * load_f(x + c);
      s1 += load_f(a + c + 8) * load_f(x + c + 8);
    }
  }
  for (int l = 0; c < n; ++c, ++l) {
    const double p = static_cast<double>(a[c]) * static_cast<double>(x[c]);
    if (l < 8)
      s0[l] += p;
    else
      s1[l - 8] += p;
  }
  return total(s0, s1);
}

double dot_d(const double* a, const double* b, int64_t n) {
  D8 s0 = {}, s1 = {};
  int64_t c = 0;
  for (; c + 16 <= n; c += 16) {
    s0 += load_d(a + c) * load_d(b + c);
    s1 += load_d(a + c + 8) * load_d(b + c + 8);
  }
  for (int l = 0; c < n; ++c, ++l) {
    if (l < 8)
      s0[l] += a[c] * b[c];
    else
      s1[l - 8] += a[c] * b[c];
  }
  return total(s0, s1);
}

// Row r of m as float32: in place for aligned float32 storage, else widened
// (exactly) into buf.
const float* row_f32(const RowMatrix& m, int64_t r, std::vector<float>& buf) {
  const std::byte* p = m.row(r);
  const auto n = static_cast<size_t>(m.cols);
  if (m.dtype == DType::F32 && reinterpret_cast<uintptr_t>(p) % alignof(float) == 0)
    return reinterpret_cast<const float*>(p);
  if (buf.size() < n) buf.resize(n);
  float* out = buf.data();
  switch (m.dtype) {
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) out[i] = std::bit_cast<float>(static_cast<uint32_t>(load_u16(p + 2 * i)) << 16);
      break;
    case DType::F16: {
      size_t i = 0;
      for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i))));
      for (; i < n; ++i) out[i] = f16_to_f32(load_u16(p + 2 * i));
      break;
    }
    case DType::F32: std::memcpy(out, p, n * 4); break;
    default:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
  }
  return out;
}

// The matrix passes of the spectral estimates. A pass that sums rows into a
// vector (A^T y) gives each chunk of kChunk rows its own partial sum (rows in
// order) and adds the chunks in order: the same bits whatever the thread count.
constexpr int64_t kChunk = 64;

// y[r] = row r . x
void matvec(const RowMatrix& a, const double* x, double* y) {
#pragma omp parallel
  {
    std::vector<float> buf;
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < a.rows; ++r) y[r] = dot(row_f32(a, r, buf), x, a.cols);
  }
}

// z = A^T v (kGram: z = A^T (A v), one pass over A).
template <bool kGram>
void transpose_pass(const RowMatrix& a, const double* v, double* z, std::vector<double>& partial) {
  const int64_t chunks = (a.rows + kChunk - 1) / kChunk, n = a.cols;
  partial.resize(static_cast<size_t>(chunks * n));
#pragma omp parallel
  {
    std::vector<float> buf;
#pragma omp for schedule(dynamic, 1)
    for (int64_t ch = 0; ch < chunks; ++ch) {
      double* p = partial.data() + ch * n;
      std::fill_n(p, n, 0.0);
      for (int64_t r = ch * kChunk; r < std::min(a.rows, (ch + 1) * kChunk); ++r) {
        const float* row = row_f32(a, r, buf);
        const double t = kGram ? dot(row, v, n) : v[r];
        for (int64_t c = 0; c < n; ++c) p[c] += t * static_cast<double>(row[c]);
      }
    }
    constexpr int64_t kBlock = 256;
#pragma omp for schedule(static)
    for (int64_t c0 = 0; c0 < n; c0 += kBlock) {
      const int64_t c1 = std::min(n, c0 + kBlock);
      for (int64_t c = c0; c < c1; ++c) z[c] = partial[c];
      for (int64_t ch = 1; ch < chunks; ++ch)
        for (int64_t c = c0; c < c1; ++c) z[c] += partial[ch * n + c];
    }
  }
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
#pragma omp parallel for schedule(static) if (m * n > 65536)
      for (int64_t j = 0; j < m; ++j) coef[j] = dot_d(q[j].data(), w.data(), n);
#pragma omp parallel for schedule(static) if (m * n > 65536)
      for (int64_t i0 = 0; i0 < n; i0 += 256)
        for (int64_t j = 0; j < m; ++j)
          for (int64_t i = i0; i < std::min(n, i0 + 256); ++i) w[i] -= coef[j] * q[j][i];
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
#pragma omp parallel
  {
    std::vector<float> buf;
#pragma omp for schedule(dynamic, 16)
    for (int64_t r = 0; r < m.rows; ++r) {
      const float* row = row_f32(m, r, buf);
      rows[static_cast<size_t>(r)] = dot(row, row, m.cols);
    }
  }
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

std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress) {
  const ArchSpec& a = model.arch();
  std::vector<LayerNorms> out(a.n_layers);
  for (int l = 0; l < a.n_layers; ++l) {
    LayerNorms& n = out[l];
    n.q = frobenius(projection_rows(model, l, Proj::Q));
    n.k = frobenius(projection_rows(model, l, Proj::K));
    const RowMatrix v = projection_rows(model, l, Proj::V);
    const RowMatrix o = projection_rows(model, l, Proj::O);
    n.v = frobenius(v);
    n.o = frobenius(o);
    n.v_spectral = spectral_estimate(v).sigma;
    n.ov_spectral = ov_spectral_estimate(o, v, a.n_heads, a.n_kv_heads, a.d_head).sigma;
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
    if (progress) progress(l);
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
