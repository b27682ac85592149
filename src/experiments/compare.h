#pragma once
// The `compare` experiment (issue 7; seeds 001 and 002): cross-model tables of
// the gains summaries, an objective phase segmentation of the per-layer MLP
// gain, and a log-log scaling fit of a metric against parameter count. Pure
// functions from parsed `gains` results to numbers; no files, no formatting.
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace sg::compare {

constexpr double kMissing = std::numeric_limits<double>::quiet_NaN();

// Per-layer values of one gain. A gains.json result has every layer; a seed
// preset has only the layers the seed published (`layers` is then sparse).
struct LayerSeries {
  std::vector<int> layers;     // increasing layer indices
  std::vector<double> values;  // same length; NaN = missing
  bool complete(int n_layers) const { return static_cast<int>(layers.size()) == n_layers; }
};

// A phase as a seed labelled it by eye (presets only), e.g. "final explosion" L31.
struct SeedPhase {
  std::string label;
  int first_layer = 0, last_layer = 0;
};

// One model's `gains` summary: the keys of the seeds' JSON summaries (000/001)
// plus parameter counts. Counts are -1 and gains NaN when unknown.
struct GainsSummary {
  std::string model;   // e.g. "EleutherAI/pythia-6.9b"
  std::string source;  // the file it came from, or "preset:<name>"
  bool preset = false;
  int n_layers = 0, hidden_dim = -1, n_prompts = -1;
  double n_params = kMissing, n_params_non_embedding = kMissing;
  double n_params_nominal = kMissing;  // the size in the model's name (1.4e9), as seed 002 uses

  LayerSeries attention, mlp, combined;
  int attn_n_contracting = -1, attn_L_star_min = -1;
  double attn_min_gain = kMissing, attn_max_gain = kMissing;
  int mlp_n_contracting = -1, mlp_n_expanding = -1, mlp_L_star_max = -1;
  double mlp_min_gain = kMissing, mlp_max_gain = kMissing, mlp_last_layer_gain = kMissing;
  int combined_n_net_contracting = -1, combined_n_net_expanding = -1, combined_max_gain_layer = -1;
  double combined_max_gain = kMissing;

  std::vector<SeedPhase> seed_phases;  // presets only
  std::vector<std::string> notes;      // caveats to show with this input (presets, inconsistencies)
  std::vector<std::string> warnings;   // banners, e.g. "random weights: numbers mean nothing"
};

// A gains.json file is read by gains::summary_from_json (experiments/gains_json.h),
// a run in memory summarised by gains::summary_of.

// --- presets: the numbers published in seeds 001/002 (compare_presets.cpp) ---
std::vector<std::string> preset_names();
std::optional<GainsSummary> preset(const std::string& name);

// Seed 002's scaling claim, in its own rounded numbers (section 3).
struct SeedScalingClaim {
  double gain_small, gain_large;                              // 3.60, 6.24 (last-layer MLP gain)
  double params_small, params_large;                          // 1.4e9, 6.9e9 (the names' sizes)
  double quoted_alpha;                                        // 0.35
  std::vector<std::pair<double, double>> quoted_predictions;  // (params, gain): 12e9 ~7.5 ...
  std::vector<std::string> prediction_labels;                 // "Pythia-12B", ...
};
const SeedScalingClaim& seed002_claim();

// --- the cross-model table (seed 001's "CROSS-MODEL COMPARISON") ---
struct Metric {
  const char* name;        // command-line name, e.g. "mlp_last_layer_gain"
  const char* label;       // table label, e.g. "MLP last-layer gain"
  const char* definition;  // the seed formula it reproduces
  double (*value)(const GainsSummary&);
};
// Every metric, in the seed's table order. Each is defined once, here.
const std::vector<Metric>& metrics();
// Throws sg::Error listing the valid names if `name` is unknown.
const Metric& find_metric(const std::string& name);

// Seed 001, panel 2: normalised depth l / (L - 1) (0 = first layer, 1 = last).
double normalised_depth(int layer, int n_layers);

// --- phase segmentation ---
struct Segment {
  int first_layer = 0, last_layer = 0;  // inclusive, in layer indices
  size_t n_samples = 0;
  double mean_log_gain = 0;  // mean of ln(gain) over the segment
  double gain = 0;           // exp(mean_log_gain): the segment's geometric-mean gain
};
struct Segmentation {
  std::vector<Segment> segments;
  double rss = 0;                // residual sum of squares of ln(gain)
  double bic = 0;                // criterion value of this segmentation
  std::vector<double> bic_by_k;  // bic_by_k[k-1]: best k-segment fit (k = 1..k_max)
  size_t n_samples = 0;
  double noise_variance = 0;  // the sigma^2 the criterion used
};

// The criterion, stated once (also written into compare's output):
//   BIC(k) = RSS_k / sigma^2 + 3 (k - 1) ln n
// for y = ln(gain) piecewise constant in k segments: the Gaussian likelihood
// with known variance and the leading penalty of Zhang & Siegmund's modified
// BIC for change points (each change point costs its location and a new mean;
// the plain 2 ln n per segment over-segments noisy steps ~15% of the time, the
// variance-fitted n ln(RSS/n) form ~30%, measured on the test's step function).
// sigma^2 starts from the robust difference estimate (1.4826 MAD(diff y))^2 / 2
// and is re-estimated as RSS_k / (n - k) of the chosen fit until k is stable;
// it is floored at 1e-12 (float32 resolution in log units).
extern const char* const kSegmentationCriterion;
double segmentation_bic(double rss, size_t n, size_t k, double noise_variance);

// The optimal (least-squares) piecewise-constant fit of ln(values) with
// exactly k contiguous segments, by dynamic programming over the samples;
// O(k n^2). Samples with NaN values are skipped. Requires 1 <= k <= n.
Segmentation fit_segments(const LayerSeries& gains, size_t k);
// fit_segments for k = 1..min(k_max, n), keeping the k with the lowest BIC
// (the smaller k on a tie).
Segmentation segment_by_bic(const LayerSeries& gains, size_t k_max);
// The same model evaluated on a given partition (e.g. a seed's eyeballed
// phases) with a given noise variance (pass segment_by_bic's, so the BICs
// compare); layers outside every phase are ignored. Phases without samples
// get NaN gains.
Segmentation evaluate_phases(const LayerSeries& gains, const std::vector<SeedPhase>& phases, double noise_variance);

// --- scaling fit ---
enum class ParamBasis { Total, NonEmbedding, Nominal };
const char* basis_name(ParamBasis b);  // "total", "non-embedding", "nominal"
// The input's parameter count in this basis (NaN if it does not have it).
double params_of(const GainsSummary& s, ParamBasis b);

// Student's t distribution with an integer number of degrees of freedom:
// exact finite series (Abramowitz & Stegun 26.7.3-4), quantile by bisection.
double student_t_cdf(double t, int df);
double student_t_quantile(double p, int df);

struct Prediction {
  double params = 0, value = 0;
  // exp of the t interval of the fitted mean / of a new model's ln(value)
  // (prediction interval); NaN when the fit is exact (two points).
  double mean_low = kMissing, mean_high = kMissing;
  double pred_low = kMissing, pred_high = kMissing;
};
struct LogLogFit {
  size_t n = 0;
  double a = 0, alpha = 0;  // ln(metric) = a + alpha ln(params)
  bool exact = false;       // n == 2: the line passes through both points, no interval
  double confidence = 0.95;
  double se_alpha = kMissing, t_quantile = kMissing;
  double alpha_low = kMissing, alpha_high = kMissing;
  double residual_sd = kMissing, r_squared = kMissing;
  double x_mean = 0, sxx = 0;  // of ln(params), for predictions
};
// Ordinary least squares of ln(y) on ln(x). Throws sg::Error if fewer than two
// points, a non-positive or non-finite value, or all x equal.
LogLogFit fit_loglog(const std::vector<double>& x, const std::vector<double>& y, double confidence = 0.95);
Prediction predict(const LogLogFit& fit, double params);

// The scaling fit of one metric over the inputs: ln(metric) on ln(parameter
// count in `basis`). Throws sg::Error naming the input whose value cannot be
// fitted on a log scale.
LogLogFit fit_metric(const std::vector<GainsSummary>& inputs, const Metric& metric, ParamBasis basis,
                     double confidence);

// Seed 002's own computation: its two-point law through its quoted gains, and
// whether each of its quoted predictions follows from that law (within 10%).
struct SeedScalingCheck {
  LogLogFit fit;
  struct Row {
    std::string label;
    double params = 0, law = 0, quoted = 0;
    bool consistent = false;
  };
  std::vector<Row> rows;
};
SeedScalingCheck check_seed002();

}  // namespace sg::compare
