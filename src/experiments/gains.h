#pragma once
// Experiment `gains`: how much each attention and MLP sublayer amplifies or
// damps what it reads (seeds 000 "FFN Expansion Analysis", Pythia-1.4B, and 001
// "funnel" analysis, Pythia-6.9B), plus measurements beyond the seeds.
// Pure functions of per-token statistics (engine/reducers.h).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "measure/sublayer_stats.h"

namespace sg::gains {

// ---- Seed definitions ---------------------------------------------------------

// Seed 000 compute_gains / seed 001 ActivationCapture.compute_gains, one prompt:
// gain = mean_t ||out_t|| / (mean_t ||in_t|| + 1e-10).
double sublayer_gain(double mean_out_norm, double mean_in_norm);

// Seed 000 section 6 phase label of one layer.
std::string phase_label(double attn_gain, double mlp_gain);
// Seed 000 section 6 net marker of a combined gain: [NET-] < 0.9, [NET+] > 1.1, else [~1.0].
std::string net_marker(double combined_gain);

struct SeedSummary {
  int n_layers = 0;
  // Prompt means (seed 000 avg_gains / seed 001 np.nanmean(axis=0)).
  std::vector<double> attn_gain, mlp_gain, attn_norm_in, attn_norm_out, mlp_norm_in, mlp_norm_out;
  std::vector<double> combined;    // attn_gain[l] * mlp_gain[l], product AFTER averaging (both seeds)
  std::vector<double> ratio;       // mlp / (attn + 1e-10) (seed 000 panel 3)
  std::vector<double> cumulative;  // cumprod(combined) (seed 001 panel 4)
  std::vector<std::string> phase, net;

  int L_star_attn = 0;     // argmin attention gain (first on ties)
  int L_star_mlp = 0;      // argmax MLP gain
  int attn_max_layer = 0;  // argmax attention gain
  int mlp_min_layer = 0;   // argmin MLP gain
  int combined_max_layer = 0;
  int bottleneck = 0;  // argmin cumulative (seed 001 "Bottleneck")
  // Counts: contracting = gain < 1; expanding = gain >= 1 (seed 001; seed 000
  // prints gain > 1, which differs only for a gain of exactly 1).
  int attn_contracting = 0, attn_expanding = 0, mlp_contracting = 0, mlp_expanding = 0;
  int combined_contracting = 0, combined_expanding = 0;

  // Seed 000 hypothesis test, with seed 000's own strict "> 1" expanding counts.
  bool attention_contracts = false, mlp_expands = false, hypothesis_confirmed = false;
  // Seed 001 funnel test. funnel_confirmed is the seed code's conjunction of the
  // first three (its text also lists last_layer_is_max, its code does not use it).
  bool attention_always_contracts = false, mlp_mostly_contracts = false, last_layer_expands = false,
       last_layer_is_max = false, funnel_confirmed = false;
};

// Summary of per-prompt gains ([prompt][layer]); NaN entries (a prompt with no
// token left) are skipped in the means, as seed 001's np.nanmean does.
SeedSummary summarize(const std::vector<std::vector<double>>& attn_gain,
                      const std::vector<std::vector<double>>& mlp_gain, const std::vector<std::vector<double>>& attn_in,
                      const std::vector<std::vector<double>>& attn_out, const std::vector<std::vector<double>>& mlp_in,
                      const std::vector<std::vector<double>>& mlp_out);

// ---- Full result ---------------------------------------------------------------

struct Interval {
  double lo = 0, hi = 0;
};

struct Distribution {  // of per-token gains, pooled over prompts
  double median = 0, q10 = 0, q90 = 0;
};

struct LayerExtras {
  Distribution attn_token_gain, mlp_token_gain;
  Interval attn_ci, mlp_ci, combined_ci;               // bootstrap over prompts, 95%
  double attn_update_ratio = 0, mlp_update_ratio = 0;  // mean ||delta|| / ||resid_pre||
  double attn_update_cos = 0, mlp_update_cos = 0;      // mean cos(delta, resid_pre)
  double attn_entropy = 0;                             // nats, mean over heads and queries
};

struct Options {
  int bootstrap = 1000;  // resamples of the prompts
  uint64_t bootstrap_seed = 0;
  bool skip_first = false;  // also compute everything without each prompt's first token
  bool entropy = true;
};

// Models whose sublayer outputs are normed before the residual add (Gemma 2):
// the headline gains divide what is ADDED to the residual stream
// (hook_attn_out, after the norm) by the sublayer's input; these divide the
// sublayer's OWN output (attn.hook_out / mlp.hook_out, before the norm), which
// is what the seeds' forward hooks on the attention and MLP modules would read
// on such a model. Layers without a post-norm have the same number in both.
struct ModuleGains {
  std::vector<double> attn_gain, mlp_gain;  // prompt means, per layer (as SeedSummary's)
};

// Sparse mixture-of-experts models: where the router sends the tokens, per
// sparse layer, pooled over every token of every prompt. Not a seed metric (the
// seeds study dense models): issue 19's, defined here and computed in gains.cpp.
struct ExpertUsage {
  std::vector<int> layers;                    // the sparse layers
  std::vector<std::vector<double>> fraction;  // [sparse layer][expert]: tokens routed to it / tokens (sum: top k)
  std::vector<double> router_entropy;         // [sparse layer] nats: mean over tokens of -sum_e p_e ln p_e
  double max_entropy = 0;                     // ln(experts): a uniform router
};

struct Result {
  SeedSummary seed;                       // every token, the seeds' numbers
  std::optional<ModuleGains> module;      // post-normed models only
  std::optional<ExpertUsage> experts;     // sparse mixture-of-experts models only
  std::optional<SeedSummary> skip_first;  // first token of each prompt excluded
  std::vector<LayerExtras> layers;
  std::optional<int> L_star_entropy;  // argmin of the mean attention entropy
  // Per prompt, per layer (for CSV/JSON consumers).
  std::vector<std::vector<double>> prompt_attn_gain, prompt_mlp_gain;
};

Result analyze(const SublayerStats& stats, const Options& options);

// numpy.percentile's default (linear interpolation) of a sample, q in [0, 100].
double percentile(std::vector<double> values, double q);

}  // namespace sg::gains
