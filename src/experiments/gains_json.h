#pragma once
// gains.json: the one schema of the `gains` experiment's result, written and
// read here and nowhere else. The seeds' summary keys (seeds 000/001) first,
// then ours, then provenance. `compare` consumes the summary of a result,
// decoded from a file (summary_from_json) or taken from a run in memory
// (summary_of); the two agree (tested on a round trip).
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/compare.h"
#include "experiments/gains.h"
#include "experiments/weights.h"

namespace sg::gains {

// What gains.json says about a run beyond its Result.
struct RunInfo {
  std::string model;  // Model::name()
  int n_layers = 0, d_model = 0;
  size_t n_prompts = 0;
  int64_t n_params = 0, n_params_non_embedding = 0;
  bool random_weights = false;
  bool gated_mlp = false;             // a W_gate column among the weight norms
  std::vector<std::string> warnings;  // shown in the terminal, the JSON and the report
  Options options;
  std::optional<std::vector<weights::LayerNorms>> weights;
  nlohmann::ordered_json provenance;  // paths, hashes, prompts, timing (the caller's)
};

nlohmann::ordered_json to_json(const Result& result, const RunInfo& info);

// Reads a gains.json document. Required: model, n_layers, n_params,
// n_params_non_embedding, attention{gains,min_gain,max_gain,n_contracting},
// mlp{gains,min_gain,max_gain,n_contracting}. Optional (derived from the gains
// with the seed's definitions when absent): mlp.last_layer_gain,
// combined{gains,max_gain,max_gain_layer,n_net_contracting,n_net_expanding},
// L_star_*, n_expanding, hidden_dim, n_prompts, n_params_nominal; a string
// array `warnings` and a boolean `random_weights` become report banners.
// Gains may be null (missing) but not zero or negative. Errors are one-line
// sg::Error messages starting with `source` and naming the field.
compare::GainsSummary summary_from_json(const nlohmann::json& doc, const std::string& source);

// The same summary straight from a run (no JSON in between).
compare::GainsSummary summary_of(const Result& result, const RunInfo& info);

}  // namespace sg::gains
