#pragma once
// Per-layer weight norms (seed 000 cites ||W_V|| growing from 5 to 28 in late
// layers of Pythia-1.4B, from earlier "restriction maps" work): Frobenius norms
// of every projection, spectral norms of W_V and of the OV circuit.
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/weight_matrices.h"

namespace sg::weights {

// Frobenius norms of one gated MLP's matrices (an expert of a sparse MLP).
struct ExpertNorms {
  double mlp_in = 0, mlp_gate = 0, mlp_out = 0;
};

struct LayerNorms {
  // Frobenius; a sparse MLP layer has no single MLP: mlp_* are NaN there and
  // its experts' norms are in `experts` (and `shared`, `router`).
  double q = 0, k = 0, v = 0, o = 0, mlp_in = 0, mlp_gate = 0, mlp_out = 0;
  double v_spectral = 0;   // largest singular value of W_V
  double ov_spectral = 0;  // largest singular value of W_O W_V (all heads; GQA: kv heads repeated)
  bool moe = false;
  double router = 0;                 // Frobenius norm of the router [experts, d]
  std::vector<ExpertNorms> experts;  // every routed expert, in order
  bool has_shared = false;
  ExpertNorms shared;  // the shared expert
};

// Rows summed in row order, each row's squares in a fixed lane order (the same
// bits for every thread count and CPU); float64 sums of the exact float32 values.
double frobenius(const RowMatrix& m);
double frobenius(const DenseMatrix& m);

// Largest singular value sigma_max of a matrix (or of the OV circuit) by
// Lanczos with full reorthogonalisation on A^T A: one pass over the matrix per
// step (three for the OV circuit: W_V, W_O^T W_O, W_V^T; engine/row_kernels.h,
// float64 FMA chains), the weights read as
// stored (16-bit rows widened exactly on the fly), float64 vectors, a fixed
// pseudo-random start, and every sum in a fixed order (the same bits for every
// thread count and CPU).
//
// Accuracy. The estimate sigma is the square root of the top Ritz value theta of
// A^T A, a Rayleigh quotient: sigma <= sigma_max always (up to rounding, ~1e-15
// relative). It stops when the Ritz residual r = ||A^T A y - theta y|| (y the
// unit Ritz vector; r = beta_k |s_k| from the Lanczos recurrence) is at most
// kSpectralTolerance * theta; then some singular value sigma_i of A satisfies
// |sigma_i - sigma| <= r / sigma <= kSpectralTolerance * sigma (`bound`). That
// sigma_i is sigma_max unless the start vector is (numerically) orthogonal to the
// top singular vectors -- the guarantee of every Krylov method, a random start
// makes a miss improbable. In practice the value is far closer than the bound:
// the Ritz value's error is ~ r^2 / gap. After kSpectralMaxSteps steps (or n)
// the last estimate is returned with its bound (n steps: exact).
inline constexpr double kSpectralTolerance = 1e-6;
inline constexpr int kSpectralMinSteps = 8;
inline constexpr int kSpectralMaxSteps = 400;
struct SpectralEstimate {
  double sigma = 0;  // the estimate of sigma_max
  double bound = 0;  // |sigma_i - sigma| <= bound for a singular value sigma_i (0: exact)
  int iterations = 0;
};
SpectralEstimate spectral_estimate(const RowMatrix& m);
// W_O * expand(W_V): query head h reads kv head h / (H / KV).
SpectralEstimate ov_spectral_estimate(const RowMatrix& w_o, const RowMatrix& w_v, int n_heads, int n_kv_heads,
                                      int d_head);
double spectral_norm(const DenseMatrix& m);
double ov_spectral_norm(const DenseMatrix& w_o, const DenseMatrix& w_v, int n_heads, int n_kv_heads, int d_head);

// progress(layer) is called after each layer. A stage of the layer pipeline
// (Model::Stage) computes its own layers' only; the others stay zero.
std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress = {});

// layer_norms through the on-disk cache (weights_cache.cpp): a second run on the
// same checkpoint reads them back. `source` is "computed", "computed (cache
// off)" or "read from cache" (for the provenance block).
struct CachedNorms {
  std::vector<LayerNorms> layers;
  std::string source;
};
CachedNorms cached_layer_norms(const Model& model, const std::function<void(int)>& progress = {});
// Its two halves: the cache's entry for the model (nullopt: none, or the cache
// is off), and storing every layer's norms (returns the `source` to record).
std::optional<CachedNorms> cached_norms(const Model& model);
std::string cache_norms(const Model& model, const std::vector<LayerNorms>& norms);

// The columns of weights.csv and weights.json, in order, and one layer's value
// of each (W_gate is NaN for an ungated MLP: an empty CSV field, null in JSON;
// a model with sparse MLP layers adds W_router, NaN on its dense layers).
std::vector<std::string> columns(bool moe);
std::vector<double> values(const LayerNorms& n, bool gated_mlp, bool moe);
// A sparse model's experts, one row each per layer (the shared expert last): experts.csv.
struct ExpertRow {
  int64_t layer = 0;
  std::string expert;  // "expert 3", "shared expert"
  ExpertNorms norms;
};
std::vector<ExpertRow> expert_rows(const std::vector<LayerNorms>& norms);

// weights.json, the one schema of the `weights` experiment's result: {"model",
// "norm", "layers": {column: [per layer]}, then for a sparse model
// "experts_note" and "experts": [{layer, expert, W_in, W_gate, W_out}], then
// "provenance"} (the caller's provenance block).
nlohmann::ordered_json to_json(const std::vector<LayerNorms>& norms, const std::string& model, bool gated_mlp, bool moe,
                               const nlohmann::ordered_json& provenance);

}  // namespace sg::weights
