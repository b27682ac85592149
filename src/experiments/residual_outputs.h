#pragma once
// The residual experiment's run (seed 004) from models and prompts to the files
// `streamgauge residual` writes and `streamgauge.residual()` returns:
// residual.json (the seed's keys per model, then ours, with provenance; its
// schema is written here and nowhere else), layers.csv, residual.png/.svg and
// report.html. Every number comes from experiments/residual.h.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/prompts.h"
#include "experiments/residual.h"
#include "model/model.h"
#include "report/figure.h"
#include "report/table.h"

namespace sg::residual {

// What is kept of one model once it is released.
struct ModelRun {
  ModelResult r;
  std::string arg;  // the model as the user named it (provenance; set by the caller)
  std::string dir, weight_dtype, config_sha256;
  int64_t n_params = 0;
  PromptSet prompts;
};

// Runs the prompts through one model (measure/run_prompts.h's chunks) and
// analyses the norms; `label` names the model in the results (unique per study).
// between_layers: engine/engine.h's RunOptions::between_layers (the Python
// binding's Ctrl-C).
ModelRun run_model(const Model& model, PromptSet prompts, const std::string& label,
                   const std::function<void()>& between_layers = {});

// Several models side by side, with H25 evaluated on the seed's metric and on
// the true last-block gain.
struct Study {
  std::vector<ModelRun> models;
  H25Result h25_seed, h25_true;
};
Study study(std::vector<ModelRun> models);

// residual.json.
nlohmann::json to_json(const Study& study);
// The seed's comparison table (rho, gain with / without final norm) and ours.
report::Table seed_table(const std::vector<ModelRun>& models);
report::Table true_table(const std::vector<ModelRun>& models);
report::Table h25_table(const H25Result& seed, const H25Result& truth);
std::string verdict_line(const char* which, const H25Result& h);
// layers.csv: one row per model, prompt and true point; an empty prompt is
// the mean over prompts.
report::Table layers_table(const std::vector<ModelRun>& models);
// The seed's three panels, each with the true last-block gain added.
report::Figure figure(const std::vector<ModelRun>& models);
// residual.json, layers.csv, the figure (unless figures is false) and
// report.html into dir (created if missing).
void write_outputs(const Study& study, const std::filesystem::path& dir, bool figures);

}  // namespace sg::residual
