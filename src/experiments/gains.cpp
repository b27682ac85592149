#include "experiments/gains.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "experiments/seed_math.h"
#include "util/error.h"

namespace sg::gains {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// First index of the minimum / maximum, NaN skipped (np.nanargmin / nanargmax).
int nan_argmin(const std::vector<double>& v) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(v.size()); ++i)
    if (!std::isnan(v[i]) && (best < 0 || v[i] < v[best])) best = i;
  return std::max(best, 0);
}
int nan_argmax(const std::vector<double>& v) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(v.size()); ++i)
    if (!std::isnan(v[i]) && (best < 0 || v[i] > v[best])) best = i;
  return std::max(best, 0);
}

// Elementwise mean over prompts skipping NaN (np.nanmean(axis=0)).
std::vector<double> nan_mean(const std::vector<std::vector<double>>& per_prompt, size_t n_layers) {
  std::vector<double> out(n_layers, kNaN);
  for (size_t l = 0; l < n_layers; ++l) {
    double sum = 0;
    int n = 0;
    for (auto& p : per_prompt)
      if (!std::isnan(p[l])) sum += p[l], ++n;
    if (n) out[l] = sum / n;
  }
  return out;
}

int count_if(const std::vector<double>& v, bool (*pred)(double)) {
  return static_cast<int>(std::count_if(v.begin(), v.end(), pred));
}

}  // namespace

double sublayer_gain(double mean_out_norm, double mean_in_norm) {
  // Seed 000: gains['attn_gain'].append(norm_out / (norm_in + 1e-10)), norms = torch.norm(x, dim=-1).mean()
  return seed_ratio(mean_out_norm, mean_in_norm);
}

std::string phase_label(double ag, double mg) {
  // Seed 000 section 6, in the seed's order of tests (a gain of exactly 1 falls through to EXPAND).
  if (ag < 1 && mg < 1) return "COMPRESS";
  if (ag < 1 && mg > 1) return "ATTN-/MLP+";
  if (ag > 1 && mg < 1) return "ATTN+/MLP-";
  return "EXPAND";
}

std::string net_marker(double cg) {
  // Seed 000 section 6: cg < 0.9 -> [NET-], cg > 1.1 -> [NET+], else [~1.0].
  if (cg < 0.9) return "[NET-]";
  if (cg > 1.1) return "[NET+]";
  return "[~1.0]";
}

SeedSummary summarize(const std::vector<std::vector<double>>& attn_gain,
                      const std::vector<std::vector<double>>& mlp_gain, const std::vector<std::vector<double>>& attn_in,
                      const std::vector<std::vector<double>>& attn_out, const std::vector<std::vector<double>>& mlp_in,
                      const std::vector<std::vector<double>>& mlp_out) {
  if (attn_gain.empty()) fail("no prompts to summarize");
  SeedSummary s;
  const size_t L = attn_gain.front().size();
  s.n_layers = static_cast<int>(L);
  s.attn_gain = nan_mean(attn_gain, L);
  s.mlp_gain = nan_mean(mlp_gain, L);
  s.attn_norm_in = nan_mean(attn_in, L);
  s.attn_norm_out = nan_mean(attn_out, L);
  s.mlp_norm_in = nan_mean(mlp_in, L);
  s.mlp_norm_out = nan_mean(mlp_out, L);
  double cum = 1;
  for (size_t l = 0; l < L; ++l) {
    // Seed 000: combined = np.array(attn_gains) * np.array(mlp_gains) on the averaged gains.
    s.combined.push_back(s.attn_gain[l] * s.mlp_gain[l]);
    // Seed 000 panel 3: gain_ratio = mlp_gains / (attn_gains + 1e-10).
    s.ratio.push_back(seed_ratio(s.mlp_gain[l], s.attn_gain[l]));
    // Seed 001 panel 4: cumulative_gain = np.cumprod(combined_gains).
    cum *= s.combined[l];
    s.cumulative.push_back(cum);
    s.phase.push_back(phase_label(s.attn_gain[l], s.mlp_gain[l]));
    s.net.push_back(net_marker(s.combined[l]));
  }
  s.L_star_attn = nan_argmin(s.attn_gain);  // seed 000: np.argmin(attn_gains)
  s.L_star_mlp = nan_argmax(s.mlp_gain);    // seed 000: np.argmax(mlp_gains)
  s.attn_max_layer = nan_argmax(s.attn_gain);
  s.mlp_min_layer = nan_argmin(s.mlp_gain);
  s.combined_max_layer = nan_argmax(s.combined);
  s.bottleneck = nan_argmin(s.cumulative);  // seed 001: np.argmin(cumulative_gain)

  auto lt1 = [](double g) { return g < 1; };
  auto ge1 = [](double g) { return g >= 1; };
  auto gt1 = [](double g) { return g > 1; };
  // Seed 001: np.sum(gains < 1), np.sum(gains >= 1).
  s.attn_contracting = count_if(s.attn_gain, lt1);
  s.attn_expanding = count_if(s.attn_gain, ge1);
  s.mlp_contracting = count_if(s.mlp_gain, lt1);
  s.mlp_expanding = count_if(s.mlp_gain, ge1);
  s.combined_contracting = count_if(s.combined, lt1);
  s.combined_expanding = count_if(s.combined, ge1);

  // Seed 000 hypothesis_test: attn_contracting > attn_expanding and
  // mlp_expanding > mlp_contracting, its expanding counts being "gain > 1".
  s.attention_contracts = s.attn_contracting > count_if(s.attn_gain, gt1);
  s.mlp_expands = count_if(s.mlp_gain, gt1) > s.mlp_contracting;
  s.hypothesis_confirmed = s.attention_contracts && s.mlp_expands;

  // Seed 001 funnel test.
  const int n = s.n_layers;
  s.attention_always_contracts = s.attn_contracting == n;
  s.mlp_mostly_contracts = s.mlp_contracting >= n - 3;  // "Allow up to 3 expanding"
  s.last_layer_expands = s.mlp_gain.back() > 1.0;
  s.last_layer_is_max = s.L_star_mlp == n - 1;
  s.funnel_confirmed = s.attention_always_contracts && s.mlp_mostly_contracts && s.last_layer_expands;
  return s;
}

double percentile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * (v.size() - 1);
  const size_t i = static_cast<size_t>(std::floor(pos));
  if (i + 1 >= v.size()) return v.back();
  return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

namespace {

struct PerPrompt {
  std::vector<std::vector<double>> attn_in, attn_out, mlp_in, mlp_out, attn_gain, mlp_gain;
  std::vector<std::vector<double>> attn_module_gain, mlp_module_gain;  // ModuleGains, per prompt
};

// Seed 000 compute_gains for every prompt: mean norms over the prompt's tokens
// (optionally without its first token), then the gains.
PerPrompt per_prompt(const SublayerStats& st, bool skip_first) {
  PerPrompt p;
  const size_t P = st.n_sequences(), L = st.n_layers;
  for (auto* v : {&p.attn_in, &p.attn_out, &p.mlp_in, &p.mlp_out, &p.attn_gain, &p.mlp_gain, &p.attn_module_gain,
                  &p.mlp_module_gain})
    v->assign(P, std::vector<double>(L, kNaN));
  for (size_t s = 0; s < P; ++s) {
    const int64_t begin = st.offsets[s] + (skip_first ? 1 : 0), end = st.offsets[s + 1];
    if (end <= begin) continue;  // nothing left: NaN, skipped by the means
    for (size_t l = 0; l < L; ++l) {
      const bool attn_raw = l < st.attn_raw.size() && st.attn_raw[l], mlp_raw = l < st.mlp_raw.size() && st.mlp_raw[l];
      double ai = 0, ao = 0, mi = 0, mo = 0, ar = 0, mr = 0;
      for (int64_t t = begin; t < end; ++t) {
        const auto& x = st.layers[l][t];
        ai += x.attn_in, ao += x.attn_out, mi += x.mlp_in, mo += x.mlp_out;
        ar += attn_raw ? x.attn_raw : x.attn_out, mr += mlp_raw ? x.mlp_raw : x.mlp_out;
      }
      const double n = static_cast<double>(end - begin);
      p.attn_in[s][l] = ai / n, p.attn_out[s][l] = ao / n, p.mlp_in[s][l] = mi / n, p.mlp_out[s][l] = mo / n;
      p.attn_gain[s][l] = sublayer_gain(p.attn_out[s][l], p.attn_in[s][l]);
      p.mlp_gain[s][l] = sublayer_gain(p.mlp_out[s][l], p.mlp_in[s][l]);
      p.attn_module_gain[s][l] = sublayer_gain(ar / n, p.attn_in[s][l]);
      p.mlp_module_gain[s][l] = sublayer_gain(mr / n, p.mlp_in[s][l]);
    }
  }
  return p;
}

SeedSummary summarize_prompts(const PerPrompt& p) {
  return summarize(p.attn_gain, p.mlp_gain, p.attn_in, p.attn_out, p.mlp_in, p.mlp_out);
}

}  // namespace

Result analyze(const SublayerStats& st, const Options& o) {
  if (st.n_sequences() == 0) fail("no prompts were measured");
  const size_t P = st.n_sequences(), L = st.n_layers;
  Result r;
  const PerPrompt pp = per_prompt(st, false);
  r.seed = summarize_prompts(pp);
  if (o.skip_first) r.skip_first = summarize_prompts(per_prompt(st, true));
  r.prompt_attn_gain = pp.attn_gain;
  r.prompt_mlp_gain = pp.mlp_gain;
  if (st.any_raw()) {
    // The same prompt means as the seeds' gains (summarize), of the module gains.
    const SeedSummary m =
        summarize(pp.attn_module_gain, pp.mlp_module_gain, pp.attn_in, pp.attn_out, pp.mlp_in, pp.mlp_out);
    r.module = ModuleGains{m.attn_gain, m.mlp_gain};
  }
  if (st.any_moe()) {
    ExpertUsage u;
    const int64_t tokens = st.offsets.back();
    for (size_t l = 0; l < L; ++l) {
      if (l >= st.routed.size() || st.routed[l].empty()) continue;
      u.layers.push_back(static_cast<int>(l));
      std::vector<double> f;
      for (int64_t c : st.routed[l]) f.push_back(static_cast<double>(c) / static_cast<double>(tokens));
      u.fraction.push_back(f);
      double h = 0;  // in token order: the same sum whatever the chunking
      for (int64_t t = 0; t < tokens; ++t) h += st.layers[l][t].router_entropy;
      u.router_entropy.push_back(h / static_cast<double>(tokens));
      u.max_entropy = std::log(static_cast<double>(st.routed[l].size()));
    }
    r.experts = u;
  }
  r.layers.resize(L);

  // Bootstrap over prompts (fixed seed): resample prompts with replacement and
  // recompute the prompt-mean gains; 2.5 / 97.5 percentiles.
  std::mt19937_64 rng(o.bootstrap_seed);
  std::uniform_int_distribution<size_t> pick(0, P - 1);
  std::vector<std::vector<double>> boot_attn(L), boot_mlp(L), boot_comb(L);
  for (int b = 0; b < o.bootstrap; ++b) {
    std::vector<size_t> idx(P);
    for (auto& i : idx) i = pick(rng);
    for (size_t l = 0; l < L; ++l) {
      double a = 0, m = 0;
      for (size_t i : idx) a += pp.attn_gain[i][l], m += pp.mlp_gain[i][l];
      a /= P, m /= P;
      boot_attn[l].push_back(a), boot_mlp[l].push_back(m), boot_comb[l].push_back(a * m);
    }
  }

  std::vector<double> entropy(L);
  for (size_t l = 0; l < L; ++l) {
    LayerExtras& e = r.layers[l];
    if (o.bootstrap > 0) {
      e.attn_ci = {percentile(boot_attn[l], 2.5), percentile(boot_attn[l], 97.5)};
      e.mlp_ci = {percentile(boot_mlp[l], 2.5), percentile(boot_mlp[l], 97.5)};
      e.combined_ci = {percentile(boot_comb[l], 2.5), percentile(boot_comb[l], 97.5)};
    }
    // Per-token gains, pooled over all prompts' tokens.
    std::vector<double> ta, tm;
    for (const auto& x : st.layers[l]) {
      ta.push_back(sublayer_gain(x.attn_out, x.attn_in));
      tm.push_back(sublayer_gain(x.mlp_out, x.mlp_in));
    }
    e.attn_token_gain = {percentile(ta, 50), percentile(ta, 10), percentile(ta, 90)};
    e.mlp_token_gain = {percentile(tm, 50), percentile(tm, 10), percentile(tm, 90)};
    // Update-to-residual ratio and cosine: per prompt mean over tokens, then mean over prompts.
    double ur_a = 0, ur_m = 0, c_a = 0, c_m = 0, ent = 0;
    for (size_t s = 0; s < P; ++s) {
      double a = 0, m = 0, ca = 0, cm = 0, h = 0;
      for (int64_t t = st.offsets[s]; t < st.offsets[s + 1]; ++t) {
        const auto& x = st.layers[l][t];
        a += x.resid_pre > 0 ? x.attn_out / x.resid_pre : kNaN;
        m += x.resid_pre > 0 ? x.mlp_out / x.resid_pre : kNaN;
        ca += x.attn_cos, cm += x.mlp_cos, h += x.attn_entropy;
      }
      const double n = static_cast<double>(st.length(s));
      ur_a += a / n, ur_m += m / n, c_a += ca / n, c_m += cm / n, ent += h / n;
    }
    e.attn_update_ratio = ur_a / P, e.mlp_update_ratio = ur_m / P;
    e.attn_update_cos = c_a / P, e.mlp_update_cos = c_m / P;
    e.attn_entropy = ent / P;
    entropy[l] = e.attn_entropy;
  }
  if (o.entropy) r.L_star_entropy = nan_argmin(entropy);
  return r;
}

}  // namespace sg::gains
