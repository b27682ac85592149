#pragma once
// The `residual` experiment (issue 5; seed 004 "Clean Residual Gain Validation
// - WITHOUT Final LayerNorm"): the residual stream's norm at the embedding,
// after every block and after the final norm; the seed's two "last layer gain"
// numbers reproduced exactly from HuggingFace's `output_hidden_states` tuple
// and explained; the true last-block and final-norm gains beside them; the
// head density rho and hypothesis H25.
//
// Stages (DESIGN.md): measure/stream_norms.h's reducer turns activations into
// per-prompt norms on the fly; everything here is a pure function of those
// norms and the architecture. No files, no formatting here.
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/seed_math.h"
#include "measure/stream_norms.h"
#include "model/arch.h"

namespace sg::residual {

// Every gain in this experiment is the seed's ratio (seed_math.h: seed 004's
// compute_residual_gains_detailed, `gain = norms[i] / (norms[i-1] + 1e-10)`), so
// the seed's numbers and ours differ only in which norms they divide.

// Ratios of consecutive entries: out[i] = seed_ratio(norms[i+1], norms[i]).
std::vector<double> consecutive_ratios(const std::vector<double>& norms);

// np.mean(rows, axis=0); all rows must have one length.
std::vector<double> elementwise_mean(const std::vector<std::vector<double>>& rows);

// --- the seed's view: HF output_hidden_states ---
// Which true points HF's `output_hidden_states` tuple holds, in order, for a
// model_type. Golden README section 6 (read in GPTNeoXModel, GPTJModel,
// GPT2Model, LlamaModel, Qwen2Model forward): L+1 entries = embed, outputs of
// blocks 0..L-2, then the FINAL-NORMED output of block L-1; the raw output of
// the last block is not in the tuple. Throws sg::Error for other model types.
std::vector<int> hf_hidden_state_points(const std::string& model_type, int n_layers);

// What one of the seed's ratios really divides, in capture-point terms.
struct RatioMeaning {
  int numerator_point = 0, denominator_point = 0;  // true points
  std::string formula;                             // "||final_norm|| / ||resid_post[2]||"
  std::string meaning;  // "gain of block 2 (L-2)", "block 3 (L-1) and the final norm together"
};
RatioMeaning explain_ratio(int numerator_point, int denominator_point, int n_layers);

// seed compute_rho(config): d_head = d_model // n_heads, rho = n_heads / d_head.
struct ArchFigures {
  int n_heads = 0, d_model = 0, d_head = 0, n_layers = 0;
  double rho = 0;
};
ArchFigures seed_arch_figures(const ArchSpec& arch);

// compute_residual_gains_detailed, on the norms of the HF tuple.
struct SeedGains {
  std::vector<std::vector<double>> norms;        // [prompt][tuple entry], last token
  std::vector<std::vector<double>> layer_gains;  // [prompt][entry-1]
  std::vector<double> gain_with_ln, gain_no_ln;  // per prompt
  MeanStd with_ln, no_ln;
  std::vector<double> all_layer_gains;  // mean over prompts
  bool is_dampening_with_ln = false, is_dampening_no_ln = false;
  int n_hidden_states = 0;
  RatioMeaning with_ln_meaning, no_ln_meaning;
};

// Our figures on one kind of norm (last token, or mean over tokens).
struct TrueGains {
  std::vector<std::vector<double>> norms;            // [prompt][point], L+2
  std::vector<std::vector<double>> layer_gains;      // [prompt][point-1], L+1 ratios
  std::vector<double> mean_norms, mean_layer_gains;  // over prompts
  // ||resid_post[L-1]|| / ||resid_pre[L-1]|| (= resid_post[L-2], or the
  // embedding when L = 1): the gain the seed meant by gain_no_ln.
  std::vector<double> last_block_gain;
  // ||ln_final|| / ||resid_post[L-1]||: the final norm's own gain.
  std::vector<double> final_norm_gain;
  MeanStd last_block, final_norm;
};

struct ModelResult {
  std::string model;  // label (unique in a run)
  std::string model_type;
  ArchFigures arch;
  std::vector<int> hf_points;  // hf_hidden_state_points
  SeedGains seed;
  TrueGains true_last;  // last token: the seed's choice, comparable with its numbers
  TrueGains true_mean;  // mean over tokens
};

// Throws sg::Error if there are no prompts or a norm vector is not L+2 long.
ModelResult analyze(const std::string& label, const ArchSpec& arch, const std::vector<PromptNorms>& norms);

// --- H25 ---
// Prediction "dampen if rho >= 0.2, else expand", actual "dampen if gain < 1";
// accuracy = 100 * correct / total (0 when empty); VALIDATED at 100,
// PARTIALLY_VALIDATED at >= 50, else FALSIFIED (the seed's H25 cell).
constexpr double kH25RhoThreshold = 0.2;
struct H25Row {
  std::string model;
  double rho = 0, gain = 0;
  bool predicts_dampen = false, dampens = false, correct = false;
};
struct H25Result {
  std::vector<H25Row> rows;
  int correct = 0, total = 0;
  double accuracy = 0;  // percent
  std::string verdict;
};
struct H25Input {
  std::string model;
  double rho, gain;
};
H25Result evaluate_h25(const std::vector<H25Input>& inputs);

}  // namespace sg::residual
