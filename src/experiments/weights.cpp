#include "experiments/weights.h"

#include <cmath>
#include <vector>

namespace sg::weights {

// Row sums of squares in parallel, each in element order, then added in row
// order: the same bits whatever the thread count (an OpenMP reduction's order
// follows the threads).
double frobenius(const DenseMatrix& m) {
  std::vector<double> rows(static_cast<size_t>(m.rows));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < m.rows; ++r) {
    const float* row = m.data.data() + r * m.cols;
    double s = 0;
    for (int64_t c = 0; c < m.cols; ++c) s += static_cast<double>(row[c]) * row[c];
    rows[static_cast<size_t>(r)] = s;
  }
  double s = 0;
  for (double r : rows) s += r;
  return std::sqrt(s);
}

namespace {

// y = A x for A [rows, cols], and y = A^T x.
void matvec(const DenseMatrix& a, const std::vector<double>& x, std::vector<double>& y) {
  y.assign(a.rows, 0.0);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < a.rows; ++r) {
    double s = 0;
    const float* row = a.data.data() + r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) s += row[c] * x[c];
    y[r] = s;
  }
}
void matvec_t(const DenseMatrix& a, const std::vector<double>& x, std::vector<double>& y) {
  y.assign(a.cols, 0.0);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* row = a.data.data() + r * a.cols;
    for (int64_t c = 0; c < a.cols; ++c) y[c] += row[c] * x[r];
  }
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// Power iteration for the top singular value of an operator given by apply
// (x -> A x) and apply_t (y -> A^T y), on vectors of size n.
template <typename F, typename G>
double power_iteration(int64_t n, F apply, G apply_t) {
  std::vector<double> x(n), y, z;
  for (int64_t i = 0; i < n; ++i) x[i] = 1.0 + 0.001 * static_cast<double>(i % 97);  // fixed start
  double sigma = 0;
  for (int it = 0; it < 300; ++it) {
    const double nx = norm(x);
    if (nx == 0) return 0;
    for (double& v : x) v /= nx;
    apply(x, y);
    const double next = norm(y);
    apply_t(y, z);
    x.swap(z);
    if (it > 5 && std::fabs(next - sigma) <= 1e-10 * next) return next;
    sigma = next;
  }
  return sigma;
}

}  // namespace

double spectral_norm(const DenseMatrix& m) {
  return power_iteration(
      m.cols, [&](const auto& x, auto& y) { matvec(m, x, y); }, [&](const auto& y, auto& x) { matvec_t(m, y, x); });
}

double ov_spectral_norm(const DenseMatrix& w_o, const DenseMatrix& w_v, int H, int KV, int hd) {
  const int group = H / KV;
  // x [d] -> v = W_V x [KV*hd] -> z [H*hd] (head h takes kv head h / group) -> W_O z [d].
  auto apply = [&](const std::vector<double>& x, std::vector<double>& y) {
    std::vector<double> v, z(static_cast<size_t>(H) * hd);
    matvec(w_v, x, v);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < hd; ++i) z[h * hd + i] = v[(h / group) * hd + i];
    matvec(w_o, z, y);
  };
  auto apply_t = [&](const std::vector<double>& y, std::vector<double>& x) {
    std::vector<double> z, v(static_cast<size_t>(KV) * hd, 0.0);
    matvec_t(w_o, y, z);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < hd; ++i) v[(h / group) * hd + i] += z[h * hd + i];
    matvec_t(w_v, v, x);
  };
  return power_iteration(w_v.cols, apply, apply_t);
}

std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress) {
  const ArchSpec& a = model.arch();
  std::vector<LayerNorms> out(a.n_layers);
  for (int l = 0; l < a.n_layers; ++l) {
    if (!model.stage().holds_layer(l)) continue;  // a layer another pipeline stage holds
    LayerNorms& n = out[l];
    n.q = frobenius(projection_matrix(model, l, Proj::Q));
    n.k = frobenius(projection_matrix(model, l, Proj::K));
    const DenseMatrix v = projection_matrix(model, l, Proj::V);
    const DenseMatrix o = projection_matrix(model, l, Proj::O);
    n.v = frobenius(v);
    n.o = frobenius(o);
    n.v_spectral = spectral_norm(v);
    n.ov_spectral = ov_spectral_norm(o, v, a.n_heads, a.n_kv_heads, a.d_head);
    if (a.layers[l].moe) {
      n.moe = true;
      n.mlp_in = n.mlp_gate = n.mlp_out = std::nan("");
      n.router = frobenius(router_matrix(model, l));
      auto expert = [&](int e) {
        return ExpertNorms{frobenius(expert_matrix(model, l, e, Proj::Up)),
                           frobenius(expert_matrix(model, l, e, Proj::Gate)),
                           frobenius(expert_matrix(model, l, e, Proj::Down))};
      };
      for (int e = 0; e < a.moe.n_experts; ++e) n.experts.push_back(expert(e));
      n.has_shared = a.moe.d_shared > 0;
      if (n.has_shared) n.shared = expert(-1);
    } else {
      n.mlp_in = frobenius(projection_matrix(model, l, Proj::Up));
      if (a.gated_mlp) n.mlp_gate = frobenius(projection_matrix(model, l, Proj::Gate));
      n.mlp_out = frobenius(projection_matrix(model, l, Proj::Down));
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
  j["norm"] = "Frobenius; *_spectral = largest singular value";
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
