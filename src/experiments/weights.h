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

struct LayerNorms {
  double q = 0, k = 0, v = 0, o = 0, mlp_in = 0, mlp_gate = 0, mlp_out = 0;  // Frobenius
  double v_spectral = 0;                                                     // largest singular value of W_V
  double ov_spectral = 0;  // largest singular value of W_O W_V (all heads; GQA: kv heads repeated)
};

double frobenius(const DenseMatrix& m);
// Largest singular value by power iteration on A^T A (deterministic start).
double spectral_norm(const DenseMatrix& m);
// Largest singular value of W_O * expand(W_V): query head h reads kv head h / (H / KV).
double ov_spectral_norm(const DenseMatrix& w_o, const DenseMatrix& w_v, int n_heads, int n_kv_heads, int d_head);

// progress(layer) is called after each layer.
std::vector<LayerNorms> layer_norms(const Model& model, const std::function<void(int)>& progress = {});

// The columns of weights.csv and weights.json, in order, and one layer's value
// of each (W_gate is NaN for an ungated MLP: an empty CSV field, null in JSON).
const std::vector<std::string>& columns();
std::vector<double> values(const LayerNorms& n, bool gated_mlp);

// weights.json, the one schema of the `weights` experiment's result: {"model",
// "norm", "layers": {column: [per layer]}, "provenance"} (the caller's
// provenance block).
nlohmann::ordered_json to_json(const std::vector<LayerNorms>& norms, const std::string& model, bool gated_mlp,
                               const nlohmann::ordered_json& provenance);

}  // namespace sg::weights
