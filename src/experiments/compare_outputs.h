#pragma once
// The compare experiment's run (seeds 001/002) from gains results (files,
// presets or runs in memory) to the files `streamgauge compare` writes and
// `streamgauge.compare()` returns: compare.json (its schema is written here and
// nowhere else), compare.csv, the overlay, segment and scaling figures and
// report.html. Every number comes from experiments/compare.h.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "experiments/compare.h"
#include "report/table.h"

namespace sg::compare {

struct Input {
  GainsSummary s;
  std::string label;   // short, unique: the legend and column name (set by label_inputs)
  std::string sha256;  // of the file; empty for presets and runs in memory
};

// A gains.json file or a preset name ("pythia-1.4b" or "preset:pythia-1.4b").
// Throws sg::Error naming the argument if it is neither.
Input load_input(const std::string& arg);
// Short labels (the model name after its last '/'), told apart by source when
// two inputs share a model; refuses an input given twice.
void label_inputs(std::vector<Input>& inputs);
// load_input on each argument, then label_inputs.
std::vector<Input> load_inputs(const std::vector<std::string>& args);

struct Options {
  std::vector<double> predict;                                 // parameter counts to predict at
  std::vector<std::string> metrics = {"mlp_last_layer_gain"};  // fitted against parameter count
  ParamBasis basis = ParamBasis::Total;
  double confidence = 0.95;
  size_t max_segments = 8;
};
// "total", "non-embedding" or "nominal"; throws sg::Error naming --params.
ParamBasis parse_basis(const std::string& name);
// Refuses options that cannot work with these inputs, before anything is printed.
void check(const std::vector<Input>& inputs, const Options& options);

// One model's phase segmentation of ln(MLP gain).
struct ModelPhases {
  size_t n_samples = 0;  // per-layer MLP gains known
  bool complete = false;
  std::string skipped;                  // why there is no segmentation (too few samples)
  std::optional<Segmentation> optimal;  // by BIC
  std::optional<Segmentation> seed;     // the seed's phases (presets), same noise variance
  std::vector<std::string> seed_labels;
};

struct Study {
  std::vector<Input> inputs;
  Options options;
  std::vector<ModelPhases> phases;                        // one per input
  std::vector<std::pair<const Metric*, LogLogFit>> fits;  // empty with fewer than two inputs
  std::optional<SeedScalingCheck> seed002;                // when both seed presets are inputs
};
Study study(std::vector<Input> inputs, const Options& options);

// compare.json.
nlohmann::json to_json(const Study& study);
// Seed 001's layout: one row per metric, one column per model.
report::Table metric_table(const Study& study);
// compare.csv: one row per model (the tidy form pandas wants).
report::Table csv_table(const Study& study);
// "L0-3 1.234 | L4 2.000".
std::string segments_text(const Segmentation& seg);
// A metric's value as the tables show it.
std::string format_value(const Metric& m, double v);
// "1.4B".
std::string format_params(double p);
// The files write_outputs() writes.
std::vector<std::string> output_files(bool figures);
// compare.json, compare.csv, the figures (unless figures is false) and
// report.html into dir (created if missing).
void write_outputs(const Study& study, const std::filesystem::path& dir, bool figures);

}  // namespace sg::compare
