#include "experiments/gains_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace sg::gains {

using compare::GainsSummary;
using compare::kMissing;
using compare::LayerSeries;
using nlohmann::ordered_json;

namespace {

// The seeds' min_gain / max_gain (np.min / np.max of the per-layer prompt-mean
// gains), defined once for the file and for the in-memory summary.
struct Extremes {
  double attn_min, attn_max, mlp_min, mlp_max;
};
Extremes extremes(const SeedSummary& s) {
  const auto [amin, amax] = std::minmax_element(s.attn_gain.begin(), s.attn_gain.end());
  const auto [mmin, mmax] = std::minmax_element(s.mlp_gain.begin(), s.mlp_gain.end());
  return {*amin, *amax, *mmin, *mmax};
}

// The banners a summary shows: the run's warnings, with a random-weight run
// said once, in one line (its own long demo banner left out).
std::vector<std::string> banners(const std::string& model, const std::vector<std::string>& warnings, bool random) {
  std::vector<std::string> out;
  for (const auto& w : warnings)
    if (!(random && w.find("RANDOM WEIGHTS") != std::string::npos)) out.push_back(w);
  if (random) out.push_back(fmt::format("{}: random weights: numbers mean nothing", model));
  return out;
}

ordered_json seed_blocks(const gains::SeedSummary& s) {
  const Extremes x = extremes(s);
  ordered_json j;
  j["attention"] = {{"gains", s.attn_gain},
                    {"min_gain", x.attn_min},
                    {"max_gain", x.attn_max},
                    {"L_star_min", s.L_star_attn},
                    {"n_contracting", s.attn_contracting},
                    {"n_expanding", s.attn_expanding}};
  j["mlp"] = {{"gains", s.mlp_gain},
              {"min_gain", x.mlp_min},
              {"max_gain", x.mlp_max},
              {"L_star_max", s.L_star_mlp},
              {"n_contracting", s.mlp_contracting},
              {"n_expanding", s.mlp_expanding},
              {"last_layer_gain", s.mlp_gain.back()}};
  j["combined"] = {{"gains", s.combined},
                   {"n_net_contracting", s.combined_contracting},
                   {"n_net_expanding", s.combined_expanding},
                   {"max_gain", s.combined[s.combined_max_layer]},
                   {"max_gain_layer", s.combined_max_layer}};
  j["hypothesis_test"] = {{"attention_contracts", s.attention_contracts},
                          {"mlp_expands", s.mlp_expands},
                          {"hypothesis_confirmed", s.hypothesis_confirmed}};
  j["funnel_test"] = {{"attention_always_contracts", s.attention_always_contracts},
                      {"mlp_mostly_contracts", s.mlp_mostly_contracts},
                      {"last_layer_expands", s.last_layer_expands},
                      {"last_layer_is_max", s.last_layer_is_max},
                      {"funnel_confirmed", s.funnel_confirmed}};
  return j;
}

// ---- reading gains.json ----

// The JSON value at a dotted path ("mlp.min_gain"), or nullptr if absent.
const nlohmann::json* lookup(const nlohmann::json& doc, const std::string& path) {
  const nlohmann::json* cur = &doc;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(key);
    if (it == cur->end()) return nullptr;
    cur = &*it;
    if (dot == std::string::npos) return cur;
    start = dot + 1;
  }
}

struct Reader {
  const nlohmann::json& doc;
  const std::string& source;

  const nlohmann::json& required(const std::string& path) const {
    const auto* v = lookup(doc, path);
    if (!v || v->is_null()) fail("{}: missing required field '{}'", source, path);
    return *v;
  }
  double number(const nlohmann::json& v, const std::string& path) const {
    if (!v.is_number()) fail("{}: field '{}' must be a number", source, path);
    double d = v.get<double>();
    if (!std::isfinite(d)) fail("{}: field '{}' is not finite", source, path);
    return d;
  }
  double req_number(const std::string& path) const { return number(required(path), path); }
  double opt_number(const std::string& path) const {
    const auto* v = lookup(doc, path);
    return v && !v->is_null() ? number(*v, path) : kMissing;
  }
  int integer(const nlohmann::json& v, const std::string& path, int min) const {
    if (!v.is_number_integer()) fail("{}: field '{}' must be an integer", source, path);
    auto i = v.get<int64_t>();
    if (i < min || i > 1000000) fail("{}: field '{}' = {} is out of range", source, path, i);
    return static_cast<int>(i);
  }
  int req_int(const std::string& path, int min) const { return integer(required(path), path, min); }
  int opt_int(const std::string& path, int min) const {
    const auto* v = lookup(doc, path);
    return v && !v->is_null() ? integer(*v, path, min) : -1;
  }
  LayerSeries gains(const nlohmann::json& v, const std::string& path, int n_layers) const {
    if (!v.is_array()) fail("{}: field '{}' must be an array of gains", source, path);
    if (static_cast<int>(v.size()) != n_layers)
      fail("{}: field '{}' has {} values but n_layers is {}", source, path, v.size(), n_layers);
    LayerSeries s;
    for (int l = 0; l < n_layers; ++l) {
      const auto& g = v[static_cast<size_t>(l)];
      double d = kMissing;  // null: the layer was not measured
      if (!g.is_null()) {
        d = number(g, fmt::format("{}[{}]", path, l));
        if (d <= 0) fail("{}: field '{}[{}]' = {} is not a positive gain", source, path, l, d);
      }
      s.layers.push_back(l);
      s.values.push_back(d);
    }
    return s;
  }
};

double nan_min(const LayerSeries& s) {
  double m = kMissing;
  for (double v : s.values)
    if (!std::isnan(v) && (std::isnan(m) || v < m)) m = v;
  return m;
}

int nan_argmax(const LayerSeries& s) {
  int best = -1;
  for (size_t i = 0; i < s.values.size(); ++i)
    if (!std::isnan(s.values[i]) && (best < 0 || s.values[i] > s.values[static_cast<size_t>(best)]))
      best = static_cast<int>(i);
  return best < 0 ? -1 : s.layers[static_cast<size_t>(best)];
}

double value_at(const LayerSeries& s, int layer) {
  for (size_t i = 0; i < s.layers.size(); ++i)
    if (s.layers[i] == layer) return s.values[i];
  return kMissing;
}

// A summary value that disagrees with the per-layer gains is kept (it is what
// the file says) but flagged, since the table and the figures would disagree.
void check_consistent(compare::GainsSummary& s, const char* field, double given, double derived) {
  if (std::isnan(given) || std::isnan(derived)) return;
  if (std::fabs(given - derived) > 1e-6 * std::max(1.0, std::fabs(derived)))
    s.notes.push_back(fmt::format("{} = {} but the per-layer gains give {}", field, given, derived));
}

}  // namespace

// ---- writing ----

ordered_json to_json(const Result& r, const RunInfo& info) {
  const SeedSummary& s = r.seed;
  ordered_json j;
  // Seeds 000/001 summary keys.
  j["model"] = info.model;
  j["n_layers"] = info.n_layers;
  j["hidden_dim"] = info.d_model;
  j["n_prompts"] = info.n_prompts;
  const ordered_json blocks = seed_blocks(s);
  for (auto& [k, v] : blocks.items()) j[k] = v;
  j["n_params"] = info.n_params;
  j["n_params_non_embedding"] = info.n_params_non_embedding;
  j["random_weights"] = info.random_weights;
  j["warnings"] = info.warnings;

  // Beyond the seeds, under their own keys.
  j["norms"] = {{"attn_in", s.attn_norm_in},
                {"attn_out", s.attn_norm_out},
                {"mlp_in", s.mlp_norm_in},
                {"mlp_out", s.mlp_norm_out}};
  j["phases"] = {{"labels", s.phase}, {"net", s.net}};
  j["ratio_mlp_attn"] = s.ratio;
  j["cumulative"] = {{"gains", s.cumulative}, {"bottleneck_layer", s.bottleneck}};
  j["per_prompt"] = {{"attention_gains", r.prompt_attn_gain}, {"mlp_gains", r.prompt_mlp_gain}};
  ordered_json dist, boot, upd;
  std::vector<double> entropy;
  for (auto& e : r.layers) {
    dist["attention"].push_back({e.attn_token_gain.q10, e.attn_token_gain.median, e.attn_token_gain.q90});
    dist["mlp"].push_back({e.mlp_token_gain.q10, e.mlp_token_gain.median, e.mlp_token_gain.q90});
    boot["attention"].push_back({e.attn_ci.lo, e.attn_ci.hi});
    boot["mlp"].push_back({e.mlp_ci.lo, e.mlp_ci.hi});
    boot["combined"].push_back({e.combined_ci.lo, e.combined_ci.hi});
    upd["attention_ratio"].push_back(e.attn_update_ratio);
    upd["attention_cos"].push_back(e.attn_update_cos);
    upd["mlp_ratio"].push_back(e.mlp_update_ratio);
    upd["mlp_cos"].push_back(e.mlp_update_cos);
    entropy.push_back(e.attn_entropy);
  }
  j["token_gain_quantiles"] = {
      {"columns", {"q10", "median", "q90"}}, {"attention", dist["attention"]}, {"mlp", dist["mlp"]}};
  j["bootstrap_ci95"] = {{"resamples", info.options.bootstrap},
                         {"seed", info.options.bootstrap_seed},
                         {"attention", boot["attention"]},
                         {"mlp", boot["mlp"]},
                         {"combined", boot["combined"]}};
  j["update_to_residual"] = upd;
  j["attention_entropy"] = {{"per_layer", entropy}, {"L_star_entropy", r.L_star_entropy.value_or(-1)}};
  if (r.skip_first) j["skip_first"] = seed_blocks(*r.skip_first);
  if (r.module) j["module_output_gains"] = {{"attention", r.module->attn_gain}, {"mlp", r.module->mlp_gain}};
  if (r.experts)
    j["expert_usage"] = {{"layers", r.experts->layers},
                         {"fraction_of_tokens", r.experts->fraction},
                         {"router_entropy", r.experts->router_entropy},
                         {"max_entropy", r.experts->max_entropy}};
  if (info.weights) {
    ordered_json w;
    for (auto& n : *info.weights) {
      w["W_Q"].push_back(n.q), w["W_K"].push_back(n.k), w["W_V"].push_back(n.v), w["W_O"].push_back(n.o);
      w["W_in"].push_back(n.mlp_in), w["W_out"].push_back(n.mlp_out);
      if (info.gated_mlp) w["W_gate"].push_back(n.mlp_gate);
      w["W_V_spectral"].push_back(n.v_spectral), w["OV_spectral"].push_back(n.ov_spectral);
    }
    j["weight_norms"] = {{"frobenius_and_spectral", w}};
  }
  j["definitions"] = {
      {"gain",
       "per prompt: mean over tokens of ||out|| / (mean over tokens of ||in|| + 1e-10); then the mean "
       "over prompts (seeds 000/001)"},
      {"attention",
       "in = blocks.{l}.ln1.hook_out, out = blocks.{l}.hook_attn_out (what is added to the residual "
       "stream: after the post-attention norm where the model has one)"},
      {"mlp",
       "in = blocks.{l}.ln2.hook_out, out = blocks.{l}.hook_mlp_out (after the post-MLP norm where the model "
       "has one)"},
      {"combined", "prompt-mean attention gain x prompt-mean MLP gain (product after averaging, as both seeds)"},
      {"counts", "contracting: gain < 1; expanding: gain >= 1 (seed 001); hypothesis_test uses seed 000's gain > 1"},
      {"funnel_confirmed",
       "attention_always_contracts and mlp_mostly_contracts and last_layer_expands (seed 001's "
       "code; last_layer_is_max is reported but not part of it)"},
      {"update_to_residual",
       "per token ||delta|| / ||resid_pre|| and cos(delta, resid_pre), delta = hook_attn_out "
       "or hook_mlp_out, resid_pre = blocks.{l}.hook_resid_pre; mean over tokens, then prompts"},
      {"attention_entropy", "nats; per query row -sum p log p, mean over heads and query positions, then prompts"},
      {"token_gain_quantiles",
       "per token ||out_t|| / (||in_t|| + 1e-10), pooled over all prompts' tokens "
       "(numpy linear percentiles)"},
  };
  if (r.module)
    j["definitions"]["module_output_gains"] =
        "post-normed models (Gemma 2): the same gains with out = the sublayer's own output before its norm "
        "(blocks.{l}.attn.hook_out / blocks.{l}.mlp.hook_out), what forward hooks on the attention and MLP modules "
        "read; the headline gains above use the residual update (after the norm)";
  if (r.experts)
    j["definitions"]["expert_usage"] =
        "sparse mixture-of-experts layers (layers): fraction_of_tokens[i][e] = tokens the router sends to expert e "
        "(blocks.{l}.mlp.hook_router_weights not 0) / all tokens of all prompts (each row sums to the experts per "
        "token); router_entropy[i] = mean over all tokens of -sum_e p_e ln p_e (nats), p = "
        "blocks.{l}.mlp.hook_router_probs (softmax over all experts); max_entropy = ln(experts), a uniform router";
  j["provenance"] = info.provenance;
  return j;
}

// ---- reading ----

compare::GainsSummary summary_from_json(const nlohmann::json& doc, const std::string& source) {
  if (!doc.is_object()) fail("{}: not a gains result (expected a JSON object)", source);
  Reader r{doc, source};
  compare::GainsSummary s;
  s.source = source;
  const auto& model = r.required("model");
  if (!model.is_string()) fail("{}: field 'model' must be a string", source);
  s.model = model.get<std::string>();
  s.n_layers = r.req_int("n_layers", 1);
  s.hidden_dim = r.opt_int("hidden_dim", 1);
  s.n_prompts = r.opt_int("n_prompts", 0);
  s.n_params = r.req_number("n_params");
  s.n_params_non_embedding = r.req_number("n_params_non_embedding");
  s.n_params_nominal = r.opt_number("n_params_nominal");
  for (auto [name, v] : {std::pair{"n_params", s.n_params},
                         {"n_params_non_embedding", s.n_params_non_embedding},
                         {"n_params_nominal", s.n_params_nominal}})
    if (v <= 0) fail("{}: field '{}' must be positive", source, name);

  s.attention = r.gains(r.required("attention.gains"), "attention.gains", s.n_layers);
  s.attn_min_gain = r.req_number("attention.min_gain");
  s.attn_max_gain = r.req_number("attention.max_gain");
  s.attn_n_contracting = r.req_int("attention.n_contracting", 0);
  s.attn_L_star_min = r.opt_int("attention.L_star_min", 0);

  s.mlp = r.gains(r.required("mlp.gains"), "mlp.gains", s.n_layers);
  s.mlp_min_gain = r.req_number("mlp.min_gain");
  s.mlp_max_gain = r.req_number("mlp.max_gain");
  s.mlp_n_contracting = r.req_int("mlp.n_contracting", 0);
  s.mlp_n_expanding = r.opt_int("mlp.n_expanding", 0);
  s.mlp_L_star_max = r.opt_int("mlp.L_star_max", 0);
  // Seed 001: 'last_layer_gain': mean_mlp_gains[-1] (seed 000 does not write it).
  double last = s.mlp.values.back();
  s.mlp_last_layer_gain = r.opt_number("mlp.last_layer_gain");
  check_consistent(s, "mlp.last_layer_gain", s.mlp_last_layer_gain, last);
  if (std::isnan(s.mlp_last_layer_gain)) s.mlp_last_layer_gain = last;
  if (s.attn_n_contracting > s.n_layers || s.mlp_n_contracting > s.n_layers)
    fail("{}: a contracting-layer count exceeds n_layers = {}", source, s.n_layers);

  // Seeds 000/001: combined = attn_gains * mlp_gains, layer by layer.
  if (const auto* c = lookup(doc, "combined.gains"); c && !c->is_null()) {
    s.combined = r.gains(*c, "combined.gains", s.n_layers);
  } else {
    s.combined = s.attention;
    for (size_t i = 0; i < s.combined.values.size(); ++i) s.combined.values[i] *= s.mlp.values[i];
  }
  // Seed 001: 'max_gain': np.nanmax(combined_gains), 'max_gain_layer': np.nanargmax.
  int argmax = nan_argmax(s.combined);
  double derived_max = argmax < 0 ? kMissing : value_at(s.combined, argmax);
  s.combined_max_gain = r.opt_number("combined.max_gain");
  check_consistent(s, "combined.max_gain", s.combined_max_gain, derived_max);
  if (std::isnan(s.combined_max_gain)) s.combined_max_gain = derived_max;
  s.combined_max_gain_layer = r.opt_int("combined.max_gain_layer", 0);
  if (s.combined_max_gain_layer < 0) s.combined_max_gain_layer = argmax;
  s.combined_n_net_contracting = r.opt_int("combined.n_net_contracting", 0);
  s.combined_n_net_expanding = r.opt_int("combined.n_net_expanding", 0);

  check_consistent(s, "attention.min_gain", s.attn_min_gain, nan_min(s.attention));
  check_consistent(s, "mlp.min_gain", s.mlp_min_gain, nan_min(s.mlp));

  const auto* rw = lookup(doc, "random_weights");
  std::vector<std::string> warnings;
  if (const auto* w = lookup(doc, "warnings"); w && w->is_array())
    for (const auto& x : *w)
      if (x.is_string()) warnings.push_back(x.get<std::string>());
  s.warnings = banners(s.model, warnings, rw && rw->is_boolean() && rw->get<bool>());
  return s;
}

// ---- from memory ----

GainsSummary summary_of(const Result& r, const RunInfo& info) {
  const SeedSummary& s = r.seed;
  GainsSummary g;
  g.model = info.model;
  g.source = "this run";
  g.n_layers = s.n_layers;
  g.hidden_dim = info.d_model;
  g.n_prompts = static_cast<int>(info.n_prompts);
  g.n_params = static_cast<double>(info.n_params);
  g.n_params_non_embedding = static_cast<double>(info.n_params_non_embedding);
  auto series = [&](const std::vector<double>& v) {
    LayerSeries out;
    for (size_t l = 0; l < v.size(); ++l) out.layers.push_back(static_cast<int>(l)), out.values.push_back(v[l]);
    return out;
  };
  g.attention = series(s.attn_gain);
  g.mlp = series(s.mlp_gain);
  g.combined = series(s.combined);
  const Extremes x = extremes(s);
  g.attn_min_gain = x.attn_min;
  g.attn_max_gain = x.attn_max;
  g.attn_n_contracting = s.attn_contracting;
  g.attn_L_star_min = s.L_star_attn;
  g.mlp_min_gain = x.mlp_min;
  g.mlp_max_gain = x.mlp_max;
  g.mlp_n_contracting = s.mlp_contracting;
  g.mlp_n_expanding = s.mlp_expanding;
  g.mlp_L_star_max = s.L_star_mlp;
  g.mlp_last_layer_gain = s.mlp_gain.back();
  g.combined_max_gain_layer = s.combined_max_layer;
  g.combined_max_gain = s.combined[static_cast<size_t>(s.combined_max_layer)];
  g.combined_n_net_contracting = s.combined_contracting;
  g.combined_n_net_expanding = s.combined_expanding;
  g.warnings = banners(g.model, info.warnings, info.random_weights);
  return g;
}

}  // namespace sg::gains
