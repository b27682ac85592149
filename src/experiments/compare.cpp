#include "experiments/compare.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "util/error.h"

namespace sg::compare {

// ---- the table ----

const std::vector<Metric>& metrics() {
  // Each metric once, with the seed-001 expression it reproduces.
  static const std::vector<Metric> all = {
      {"n_layers", "Layers", "model.config.num_hidden_layers",
       [](const GainsSummary& s) { return static_cast<double>(s.n_layers); }},
      {"attn_contracting_pct", "Attn contracting %", "100 * np.sum(mean_attn_gains < 1) / n_layers",
       [](const GainsSummary& s) {
         return s.attn_n_contracting < 0 ? kMissing : 100.0 * s.attn_n_contracting / s.n_layers;
       }},
      {"attn_min_gain", "Attn min gain", "np.nanmin(mean_attn_gains)",
       [](const GainsSummary& s) { return s.attn_min_gain; }},
      {"attn_max_gain", "Attn max gain", "np.nanmax(mean_attn_gains)",
       [](const GainsSummary& s) { return s.attn_max_gain; }},
      {"mlp_contracting_pct", "MLP contracting %", "100 * np.sum(mean_mlp_gains < 1) / n_layers",
       [](const GainsSummary& s) {
         return s.mlp_n_contracting < 0 ? kMissing : 100.0 * s.mlp_n_contracting / s.n_layers;
       }},
      {"mlp_min_gain", "MLP min gain", "np.nanmin(mean_mlp_gains)",
       [](const GainsSummary& s) { return s.mlp_min_gain; }},
      // Seed 001 prints one row "MLP max gain (last layer)" holding the 1.4B
      // maximum beside the 6.9B last layer; they coincide there but not in
      // general, so they are two metrics here.
      {"mlp_max_gain", "MLP max gain", "np.nanmax(mean_mlp_gains)",
       [](const GainsSummary& s) { return s.mlp_max_gain; }},
      {"mlp_last_layer_gain", "MLP last-layer gain", "mean_mlp_gains[-1]",
       [](const GainsSummary& s) { return s.mlp_last_layer_gain; }},
      {"combined_max_gain", "Combined max gain", "np.nanmax(mean_attn_gains * mean_mlp_gains)",
       [](const GainsSummary& s) { return s.combined_max_gain; }},
  };
  return all;
}

const Metric& find_metric(const std::string& name) {
  std::string names;
  for (const auto& m : metrics()) {
    if (name == m.name) return m;
    names += names.empty() ? m.name : std::string(", ") + m.name;
  }
  fail("unknown metric '{}' (known: {})", name, names);
}

double normalised_depth(int layer, int n_layers) {
  // Seed 001: normalized_layers = layers / (n_layers - 1); a one-layer model sits at 0.
  return n_layers > 1 ? static_cast<double>(layer) / (n_layers - 1) : 0.0;
}

// ---- segmentation ----

const char* const kSegmentationCriterion =
    "BIC(k) = RSS_k/sigma^2 + 3(k-1) ln n on y = ln(gain), piecewise constant in k segments "
    "(optimal fit by dynamic programming; penalty: leading term of Zhang & Siegmund's modified BIC); "
    "sigma^2 from 1.4826 MAD(diff y)/sqrt(2), then RSS_k/(n-k) of the chosen fit until k is stable; "
    "lowest BIC wins, ties to fewer segments";

double segmentation_bic(double rss, size_t n, size_t k, double noise_variance) {
  return rss / noise_variance + 3.0 * (static_cast<double>(k) - 1.0) * std::log(static_cast<double>(n));
}

namespace {

struct Samples {
  std::vector<int> layers;
  std::vector<double> y;  // ln(gain), centred on its mean for numerical stability
  double centre = 0;
};

Samples log_samples(const LayerSeries& g) {
  Samples s;
  for (size_t i = 0; i < g.values.size(); ++i) {
    if (std::isnan(g.values[i])) continue;
    if (!(g.values[i] > 0)) fail("cannot segment a non-positive gain ({} at layer {})", g.values[i], g.layers[i]);
    s.layers.push_back(g.layers[i]);
    s.y.push_back(std::log(g.values[i]));
  }
  if (s.y.empty()) fail("cannot segment: no per-layer gains");
  for (double v : s.y) s.centre += v;
  s.centre /= static_cast<double>(s.y.size());
  for (double& v : s.y) v -= s.centre;
  return s;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

double noise_variance_of(const std::vector<double>& y) {
  constexpr double kFloor = 1e-6;  // in standard deviation
  if (y.size() < 3) return kFloor * kFloor;
  std::vector<double> d;
  for (size_t i = 1; i < y.size(); ++i) d.push_back(y[i] - y[i - 1]);
  double md = median(d);
  for (double& v : d) v = std::fabs(v - md);
  // Differences of i.i.d. noise have variance 2 sigma^2; 1.4826 MAD estimates sd.
  double sigma = std::max(1.4826 * median(d) / std::sqrt(2.0), kFloor);
  return sigma * sigma;
}

// Prefix sums giving the least-squares cost of a constant on y[i, j) in O(1).
struct Costs {
  std::vector<double> s1, s2;
  explicit Costs(const std::vector<double>& y) : s1(y.size() + 1), s2(y.size() + 1) {
    for (size_t i = 0; i < y.size(); ++i) {
      s1[i + 1] = s1[i] + y[i];
      s2[i + 1] = s2[i] + y[i] * y[i];
    }
  }
  double sum(size_t i, size_t j) const { return s1[j] - s1[i]; }
  double cost(size_t i, size_t j) const {
    double n = static_cast<double>(j - i), m = sum(i, j);
    return std::max(0.0, (s2[j] - s2[i]) - m * m / n);  // rounding can go a hair below 0
  }
};

Segmentation from_bounds(const Samples& s, const Costs& c, const std::vector<size_t>& bounds, double noise_variance) {
  Segmentation out;
  out.n_samples = s.y.size();
  for (size_t b = 0; b + 1 < bounds.size(); ++b) {
    size_t i = bounds[b], j = bounds[b + 1];
    Segment seg;
    seg.first_layer = s.layers[i];
    seg.last_layer = s.layers[j - 1];
    seg.n_samples = j - i;
    seg.mean_log_gain = c.sum(i, j) / static_cast<double>(j - i) + s.centre;
    seg.gain = std::exp(seg.mean_log_gain);
    out.segments.push_back(seg);
    out.rss += c.cost(i, j);
  }
  out.noise_variance = noise_variance;
  out.bic = segmentation_bic(out.rss, out.n_samples, out.segments.size(), noise_variance);
  return out;
}

// best[k][j]: least cost of y[0, j) in k segments; from[k][j]: where the last one starts.
struct Dp {
  std::vector<std::vector<double>> best;
  std::vector<std::vector<size_t>> from;
};

Dp run_dp(const Costs& c, size_t n, size_t k_max) {
  const double inf = std::numeric_limits<double>::infinity();
  Dp dp{std::vector<std::vector<double>>(k_max + 1, std::vector<double>(n + 1, inf)),
        std::vector<std::vector<size_t>>(k_max + 1, std::vector<size_t>(n + 1, 0))};
  dp.best[0][0] = 0;
  for (size_t k = 1; k <= k_max; ++k)
    for (size_t j = k; j <= n; ++j)
      for (size_t i = k - 1; i < j; ++i) {
        double v = dp.best[k - 1][i] + c.cost(i, j);
        if (v < dp.best[k][j]) {  // strict: the earliest start wins ties (deterministic)
          dp.best[k][j] = v;
          dp.from[k][j] = i;
        }
      }
  return dp;
}

std::vector<size_t> backtrack(const Dp& dp, size_t n, size_t k) {
  std::vector<size_t> bounds(k + 1);
  bounds[k] = n;
  for (size_t kk = k, j = n; kk > 0; --kk) {
    j = dp.from[kk][j];
    bounds[kk - 1] = j;
  }
  return bounds;
}

}  // namespace

Segmentation fit_segments(const LayerSeries& gains, size_t k) {
  Samples s = log_samples(gains);
  size_t n = s.y.size();
  if (k < 1 || k > n) fail("cannot fit {} segments to {} samples", k, n);
  Costs c(s.y);
  Dp dp = run_dp(c, n, k);
  return from_bounds(s, c, backtrack(dp, n, k), noise_variance_of(s.y));
}

Segmentation segment_by_bic(const LayerSeries& gains, size_t k_max) {
  Samples s = log_samples(gains);
  size_t n = s.y.size();
  k_max = std::clamp<size_t>(k_max, 1, n);
  Costs c(s.y);
  Dp dp = run_dp(c, n, k_max);  // one DP gives the best fit for every k <= k_max
  // Choose k for the current variance, re-estimate the variance from that
  // fit, and repeat until k no longer changes (a few rounds at most).
  auto choose = [&](double var) {
    size_t best = 1;
    for (size_t k = 2; k <= k_max; ++k)
      if (segmentation_bic(dp.best[k][n], n, k, var) < segmentation_bic(dp.best[best][n], n, best, var)) best = k;
    return best;
  };
  double var = noise_variance_of(s.y);
  size_t best_k = choose(var);
  for (int round = 0; round < 20 && best_k < n; ++round) {
    double next_var = std::max(dp.best[best_k][n] / static_cast<double>(n - best_k), 1e-12);
    size_t next_k = choose(next_var);
    var = next_var;
    if (next_k == best_k) break;
    best_k = next_k;
  }
  Segmentation out = from_bounds(s, c, backtrack(dp, n, best_k), var);
  for (size_t k = 1; k <= k_max; ++k) out.bic_by_k.push_back(segmentation_bic(dp.best[k][n], n, k, var));
  return out;
}

Segmentation evaluate_phases(const LayerSeries& gains, const std::vector<SeedPhase>& phases, double noise_variance) {
  Samples s = log_samples(gains);
  Segmentation out;
  size_t used = 0;
  for (const auto& p : phases) {
    Segment seg;
    seg.first_layer = p.first_layer;
    seg.last_layer = p.last_layer;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < s.y.size(); ++i)
      if (s.layers[i] >= p.first_layer && s.layers[i] <= p.last_layer) {
        ++seg.n_samples;
        sum += s.y[i];
        sum2 += s.y[i] * s.y[i];
      }
    if (seg.n_samples) {
      double n = static_cast<double>(seg.n_samples);
      seg.mean_log_gain = sum / n + s.centre;
      seg.gain = std::exp(seg.mean_log_gain);
      out.rss += std::max(0.0, sum2 - sum * sum / n);
    } else {
      seg.mean_log_gain = seg.gain = kMissing;
    }
    used += seg.n_samples;
    out.segments.push_back(seg);
  }
  out.n_samples = used;
  out.noise_variance = noise_variance;
  out.bic = used ? segmentation_bic(out.rss, used, phases.size(), out.noise_variance) : kMissing;
  return out;
}

// ---- scaling fit ----

const char* basis_name(ParamBasis b) {
  switch (b) {
    case ParamBasis::Total: return "total";
    case ParamBasis::NonEmbedding: return "non-embedding";
    case ParamBasis::Nominal: return "nominal";
  }
  return "?";
}

double params_of(const GainsSummary& s, ParamBasis b) {
  switch (b) {
    case ParamBasis::Total: return s.n_params;
    case ParamBasis::NonEmbedding: return s.n_params_non_embedding;
    case ParamBasis::Nominal: return s.n_params_nominal;
  }
  return kMissing;
}

double student_t_cdf(double t, int df) {
  if (df < 1) fail("Student t needs at least one degree of freedom");
  if (std::isnan(t)) return kMissing;
  if (std::isinf(t)) return t > 0 ? 1.0 : 0.0;
  // A(t|df) = P(|T| <= |t|), Abramowitz & Stegun 26.7.3 (odd df) and 26.7.4 (even df).
  double theta = std::atan(std::fabs(t) / std::sqrt(static_cast<double>(df)));
  double c2 = std::cos(theta) * std::cos(theta), sn = std::sin(theta);
  double a;
  if (df % 2 == 1) {
    double sum = 0, term = std::cos(theta);  // cos θ, then (2/3) cos^3 θ, ...
    if (df > 1) {
      sum = term;
      for (int k = 3; k <= df - 2; k += 2) {
        term *= c2 * (k - 1) / k;
        sum += term;
      }
    }
    a = 2.0 / std::numbers::pi * (theta + sn * sum);
  } else {
    double sum = 1, term = 1;  // 1 + (1/2) cos^2 θ + (1·3)/(2·4) cos^4 θ + ...
    for (int k = 2; k <= df - 2; k += 2) {
      term *= c2 * (k - 1) / k;
      sum += term;
    }
    a = sn * sum;
  }
  return t >= 0 ? 0.5 + 0.5 * a : 0.5 - 0.5 * a;
}

double student_t_quantile(double p, int df) {
  if (!(p > 0 && p < 1)) fail("t quantile needs 0 < p < 1 (got {})", p);
  if (p == 0.5) return 0;
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, df) < p) hi *= 2;  // df = 1, p = 0.9995 needs hi ~ 640
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

LogLogFit fit_loglog(const std::vector<double>& x, const std::vector<double>& y, double confidence) {
  if (x.size() != y.size()) fail("scaling fit: {} sizes but {} values", x.size(), y.size());
  if (x.size() < 2) fail("scaling fit: needs at least two models (got {})", x.size());
  if (!(confidence > 0 && confidence < 1)) fail("scaling fit: confidence must be in (0, 1)");
  std::vector<double> lx, ly;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!(x[i] > 0) || !std::isfinite(x[i])) fail("scaling fit: parameter count {} is not positive", x[i]);
    if (!(y[i] > 0) || !std::isfinite(y[i])) fail("scaling fit: value {} is not positive, no logarithm", y[i]);
    lx.push_back(std::log(x[i]));
    ly.push_back(std::log(y[i]));
  }
  LogLogFit f;
  f.n = x.size();
  f.confidence = confidence;
  double n = static_cast<double>(f.n), my = 0;
  for (size_t i = 0; i < f.n; ++i) {
    f.x_mean += lx[i] / n;
    my += ly[i] / n;
  }
  double sxy = 0, syy = 0;
  for (size_t i = 0; i < f.n; ++i) {
    f.sxx += (lx[i] - f.x_mean) * (lx[i] - f.x_mean);
    sxy += (lx[i] - f.x_mean) * (ly[i] - my);
    syy += (ly[i] - my) * (ly[i] - my);
  }
  if (!(f.sxx > 1e-24)) fail("scaling fit: all models have the same parameter count");
  f.alpha = sxy / f.sxx;
  f.a = my - f.alpha * f.x_mean;
  f.exact = f.n == 2;
  if (f.exact) return f;  // two points: zero residual degrees of freedom, no interval
  double rss = 0;
  for (size_t i = 0; i < f.n; ++i) {
    double r = ly[i] - (f.a + f.alpha * lx[i]);
    rss += r * r;
  }
  int df = static_cast<int>(f.n) - 2;
  f.residual_sd = std::sqrt(rss / df);
  f.se_alpha = f.residual_sd / std::sqrt(f.sxx);
  f.t_quantile = student_t_quantile(0.5 + confidence / 2, df);
  f.alpha_low = f.alpha - f.t_quantile * f.se_alpha;
  f.alpha_high = f.alpha + f.t_quantile * f.se_alpha;
  f.r_squared = syy > 0 ? 1 - rss / syy : 1.0;
  return f;
}

LogLogFit fit_metric(const std::vector<GainsSummary>& inputs, const Metric& metric, ParamBasis basis,
                     double confidence) {
  std::vector<double> x, y;
  for (const auto& s : inputs) {
    const double v = metric.value(s);
    if (!(v > 0)) fail("{}: {} = {} cannot be fitted on a log scale", s.source, metric.name, v);
    x.push_back(params_of(s, basis));
    y.push_back(v);
  }
  return fit_loglog(x, y, confidence);
}

SeedScalingCheck check_seed002() {
  const auto& c = seed002_claim();
  SeedScalingCheck check;
  check.fit = fit_loglog({c.params_small, c.params_large}, {c.gain_small, c.gain_large});
  for (size_t i = 0; i < c.quoted_predictions.size(); ++i) {
    const auto [p, quoted] = c.quoted_predictions[i];
    const double law = predict(check.fit, p).value;
    check.rows.push_back({c.prediction_labels[i], p, law, quoted, std::fabs(law - quoted) < 0.1 * quoted});
  }
  return check;
}

Prediction predict(const LogLogFit& f, double params) {
  if (!(params > 0) || !std::isfinite(params)) fail("cannot predict at {} parameters", params);
  Prediction p;
  p.params = params;
  double x0 = std::log(params), yhat = f.a + f.alpha * x0;
  p.value = std::exp(yhat);
  if (f.exact) return p;
  double n = static_cast<double>(f.n), d = (x0 - f.x_mean) * (x0 - f.x_mean) / f.sxx;
  double se_mean = f.residual_sd * std::sqrt(1 / n + d);
  double se_pred = f.residual_sd * std::sqrt(1 + 1 / n + d);
  p.mean_low = std::exp(yhat - f.t_quantile * se_mean);
  p.mean_high = std::exp(yhat + f.t_quantile * se_mean);
  p.pred_low = std::exp(yhat - f.t_quantile * se_pred);
  p.pred_high = std::exp(yhat + f.t_quantile * se_pred);
  return p;
}

}  // namespace sg::compare
