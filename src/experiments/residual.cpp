#include "experiments/residual.h"

#include <fmt/format.h>

#include <cmath>

#include "util/error.h"

namespace sg::residual {

std::vector<double> consecutive_ratios(const std::vector<double>& norms) {
  std::vector<double> out;
  for (size_t i = 1; i < norms.size(); ++i) out.push_back(seed_ratio(norms[i], norms[i - 1]));
  return out;
}

std::vector<double> elementwise_mean(const std::vector<std::vector<double>>& rows) {
  if (rows.empty()) fail("mean of no rows");
  std::vector<double> out(rows[0].size(), 0.0);
  for (const auto& r : rows) {
    if (r.size() != out.size()) fail("rows of different lengths ({} and {})", out.size(), r.size());
    for (size_t i = 0; i < r.size(); ++i) out[i] += r[i];
  }
  for (double& v : out) v /= static_cast<double>(rows.size());
  return out;
}

// --- the seed's view ---

std::vector<int> hf_hidden_state_points(const std::string& model_type, int n_layers) {
  // One convention for every supported base class (golden README section 6):
  // all_hidden_states gets the input of every decoder layer, then the final
  // norm's output replaces what would have been the last layer's output.
  // (Gemma: the embedding entry is after its sqrt(d) scaling, as hook_embed.)
  // Phi3Model, Olmo2Model, Gemma3TextModel, Qwen2MoeModel and PhiModel too (section 6).
  static const char* const kClassicConvention[] = {"gpt_neox", "gptj",  "gpt2",      "llama",  "qwen2",
                                                   "mistral",  "qwen3", "gemma",     "gemma2", "gemma3_text",
                                                   "phi3",     "olmo2", "qwen2_moe", "phi"};
  bool known = false;
  for (const char* t : kClassicConvention) known = known || model_type == t;
  if (!known) fail("model_type \"{}\": its HF output_hidden_states convention is not recorded", model_type);
  if (n_layers < 1) fail("model_type \"{}\": {} layers", model_type, n_layers);
  std::vector<int> points;
  for (int k = 0; k < n_layers; ++k) points.push_back(k);  // embed, resid_post[0..L-2]
  points.push_back(n_layers + 1);                          // final_norm
  return points;
}

namespace {
// "2 (L-2)": a block index, and where it sits counted from the end.
std::string block_index(int b, int n_layers) { return fmt::format("{} (L-{})", b, n_layers - b); }
}  // namespace

RatioMeaning explain_ratio(int numerator_point, int denominator_point, int n_layers) {
  check_point(numerator_point, n_layers);
  check_point(denominator_point, n_layers);
  if (numerator_point <= denominator_point)
    fail("ratio of point {} over {} runs backwards", numerator_point, denominator_point);
  RatioMeaning m;
  m.numerator_point = numerator_point;
  m.denominator_point = denominator_point;
  m.formula = fmt::format("||{}|| / ||{}||", point_short_name(numerator_point, n_layers),
                          point_short_name(denominator_point, n_layers));
  // Point k > 0 is the output of block k-1, so the span from point d to point
  // n covers blocks d..n-1 (the last of them is the final norm when n = L+1).
  const int first_block = denominator_point;
  const bool with_final = numerator_point == n_layers + 1;
  const int last_block = with_final ? n_layers - 1 : numerator_point - 1;
  std::string blocks;  // empty: no block in the span
  if (first_block == last_block)
    blocks = "block " + block_index(first_block, n_layers);
  else if (first_block < last_block)
    blocks = fmt::format("blocks {} to {}", block_index(first_block, n_layers), block_index(last_block, n_layers));
  if (!with_final)
    m.meaning = "gain of " + blocks;
  else if (blocks.empty())
    m.meaning = "gain of the final norm alone";
  else
    m.meaning = blocks + " and the final norm together";
  return m;
}

ArchFigures seed_arch_figures(const ArchSpec& arch) {
  if (arch.n_heads < 1 || arch.d_model < arch.n_heads)
    fail("architecture with {} heads and d_model {}: no head density", arch.n_heads, arch.d_model);
  ArchFigures f;
  f.n_heads = arch.n_heads;
  f.d_model = arch.d_model;
  f.d_head = arch.d_model / arch.n_heads;  // the seed's d_model // n_heads, not config head_dim
  f.n_layers = arch.n_layers;
  f.rho = static_cast<double>(f.n_heads) / f.d_head;
  return f;
}

namespace {

TrueGains true_gains(const std::vector<std::vector<double>>& norms, int n_layers) {
  TrueGains g;
  g.norms = norms;
  for (const auto& n : norms) {
    g.layer_gains.push_back(consecutive_ratios(n));
    // Points L and L-1 are the last block's output and input; L+1 is the final norm.
    g.last_block_gain.push_back(seed_ratio(n[n_layers], n[n_layers - 1]));
    g.final_norm_gain.push_back(seed_ratio(n[n_layers + 1], n[n_layers]));
  }
  g.mean_norms = elementwise_mean(g.norms);
  g.mean_layer_gains = elementwise_mean(g.layer_gains);
  g.last_block = mean_std(g.last_block_gain);
  g.final_norm = mean_std(g.final_norm_gain);
  return g;
}

}  // namespace

ModelResult analyze(const std::string& label, const ArchSpec& arch, const std::vector<PromptNorms>& norms) {
  if (norms.empty()) fail("{}: no prompts", label);
  const int L = arch.n_layers;
  for (const auto& p : norms)
    if (static_cast<int>(p.last.size()) != n_points(L) || static_cast<int>(p.mean.size()) != n_points(L))
      fail("{}: expected {} residual norms per prompt", label, n_points(L));

  ModelResult r;
  r.model = label;
  r.model_type = arch.model_type;
  r.arch = seed_arch_figures(arch);
  r.hf_points = hf_hidden_state_points(arch.model_type, L);

  // compute_residual_gains_detailed: last-token norms of the tuple's entries,
  // layer_gains = consecutive ratios, gain_with_ln = layer_gains[-1],
  // gain_no_ln = layer_gains[-2] if there are two, else layer_gains[-1].
  SeedGains& s = r.seed;
  std::vector<std::vector<double>> last, mean;
  for (const auto& p : norms) {
    last.push_back(p.last);
    mean.push_back(p.mean);
    std::vector<double> entries;
    for (int k : r.hf_points) entries.push_back(p.last[k]);
    s.layer_gains.push_back(consecutive_ratios(entries));
    s.norms.push_back(std::move(entries));
    const auto& lg = s.layer_gains.back();
    s.gain_with_ln.push_back(lg.back());
    s.gain_no_ln.push_back(lg.size() >= 2 ? lg[lg.size() - 2] : lg.back());
  }
  s.with_ln = mean_std(s.gain_with_ln);
  s.no_ln = mean_std(s.gain_no_ln);
  s.all_layer_gains = elementwise_mean(s.layer_gains);
  s.is_dampening_with_ln = s.with_ln.mean < 1.0;
  s.is_dampening_no_ln = s.no_ln.mean < 1.0;
  s.n_hidden_states = static_cast<int>(r.hf_points.size());
  const auto& hp = r.hf_points;
  const size_t n = hp.size();
  s.with_ln_meaning = explain_ratio(hp[n - 1], hp[n - 2], L);
  s.no_ln_meaning = n >= 3 ? explain_ratio(hp[n - 2], hp[n - 3], L) : s.with_ln_meaning;

  r.true_last = true_gains(last, L);
  r.true_mean = true_gains(mean, L);
  return r;
}

// --- H25 ---

H25Result evaluate_h25(const std::vector<H25Input>& inputs) {
  H25Result h;
  for (const auto& in : inputs) {
    H25Row row;
    row.model = in.model;
    row.rho = in.rho;
    row.gain = in.gain;
    row.predicts_dampen = in.rho >= kH25RhoThreshold;
    row.dampens = in.gain < 1.0;
    row.correct = row.predicts_dampen == row.dampens;
    h.correct += row.correct;
    h.rows.push_back(row);
  }
  h.total = static_cast<int>(inputs.size());
  h.accuracy = h.total > 0 ? 100.0 * h.correct / h.total : 0.0;
  h.verdict = h.accuracy >= 100 ? "VALIDATED" : h.accuracy >= 50 ? "PARTIALLY_VALIDATED" : "FALSIFIED";
  return h;
}

}  // namespace sg::residual
