#pragma once
// One gains run (seeds 000/001) from a model and a prompt set to the files
// `streamgauge gains` writes and `streamgauge.gains()` returns: gains.json (the
// seeds' summary keys + our extra metrics + provenance; experiments/gains_json.h
// owns its schema), layers.csv, the seeds' figures and report.html. Every number
// comes from experiments/gains.h.
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/compare.h"
#include "experiments/gains.h"
#include "experiments/gains_json.h"
#include "experiments/prompts.h"
#include "experiments/weights.h"
#include "model/model.h"
#include "report/table.h"

namespace sg::gains {

struct Run {
  const Model* model = nullptr;  // owned by the caller
  PromptSet prompts;
  gains::Options options;
  gains::Result result;
  std::optional<std::vector<weights::LayerNorms>> weights;
  std::string weights_source;         // computed or read from the cache (weights::CachedNorms)
  double weights_seconds = 0;         // the weight norms' time
  std::vector<std::string> warnings;  // shown in the terminal, the JSON and the report
  double seconds = 0;                 // forward + reduction time
  std::string precision;              // how the matrix products were computed
};

struct RunOptions {
  Options options;
  bool fast = false;            // BF16 products for a BF16 checkpoint (ignored, with a warning, otherwise)
  bool weights = true;          // the per-layer weight norms
  int64_t chunk_tokens = 8192;  // most tokens per forward pass
  // Called between layers (forwards and weight norms): an exception it throws
  // abandons the run (the Python binding's Ctrl-C).
  std::function<void()> between_layers = {};
};

// Runs the prompts through the model (chunks of at most chunk_tokens, per-token
// norms reduced on the fly), analyses them and, unless told not to, measures
// the weight norms. Shows progress on stderr.
Run run(const Model& model, PromptSet prompts, const RunOptions& options);

// gains.json (experiments/gains_json.h owns the schema) and what it needs to know of the run.
nlohmann::ordered_json gains_json(const Run& run);
gains::RunInfo run_info(const Run& run);
// One row per layer, every per-layer metric.
report::Table layers_table(const Run& run);
// Seed 000's per-layer table (Layer | Attn Gain | MLP Gain | Combined | Phase).
report::Table seed_layer_table(const gains::SeedSummary& s);
// Seed 001's funnel test, PASS/FAIL per criterion.
report::Table funnel_table(const gains::SeedSummary& s);
// Post-normed models (Result::module): both gains per layer, and what they mean.
report::Table module_gains_table(const gains::Result& r);
std::string post_norm_note();
// Sparse mixture-of-experts models (Result::experts): per sparse layer, the
// router entropy and the most, least and never used experts; every expert's
// fraction of tokens (experts.csv); and what they mean.
report::Table expert_usage_table(const gains::ExpertUsage& usage);
report::Table experts_table(const gains::ExpertUsage& usage);
std::string expert_usage_note();
// --reference: a preset name (pythia-1.4b, pythia-6.9b) or a gains.json file,
// read and checked before the run; throws sg::Error naming it if it is neither.
compare::GainsSummary load_reference(const std::string& reference);
// Seed 001's cross-model comparison of the reference and this run.
report::Table comparison_table(const compare::GainsSummary& reference, const Run& run);

// gains.png/svg (seed 000's four panels) and funnel.png/svg (seed 001's four).
void write_gains_figures(const Run& run, const std::filesystem::path& dir,
                         std::optional<double> reference_last_mlp_gain);
void write_gains_report(const Run& run, const std::filesystem::path& dir, const nlohmann::ordered_json& doc,
                        const std::optional<report::Table>& comparison, bool figures);
// All of them into dir (created if missing): gains.json, layers.csv (and, for
// a mixture of experts, experts.csv), the
// figures (unless figures is false) and report.html, with seed 001's
// comparison against `reference` when given.
void write_outputs(const Run& run, const std::filesystem::path& dir,
                   const std::optional<compare::GainsSummary>& reference, bool figures);

}  // namespace sg::gains
