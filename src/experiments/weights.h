#pragma once
// Per-layer weight norms (seed 000 cites ||W_V|| growing from 5 to 28 in late
// layers of Pythia-1.4B, from earlier "restriction maps" work): Frobenius norms
// of every projection, spectral norms of W_V and of the OV circuit.
#include <functional>
#include <nlohmann/json.hpp>
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

double frobenius(const DenseMatrix& m);
// Largest singular value by power iteration on A^T A (deterministic start).
double spectral_norm(const DenseMatrix& m);
// Largest singular value of W_O * expand(W_V): query head h reads kv head h / (H / KV).
double ov_spectral_norm(const DenseMatrix& w_o, const DenseMatrix& w_v, int n_heads, int n_kv_heads, int d_head);

// progress(layer) is called after each layer. A stage of the layer pipeline
// (Model::Stage) computes its own layers' only; the others stay zero.
std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress = {});

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
