#pragma once
// Pieces every subcommand shares: resolving a MODEL argument, checking input and
// output paths up front, token-id inputs.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "experiments/prompts.h"
#include "model/model.h"
#include "report/terminal.h"
#include "util/paths.h"

namespace sg::cli {

// MODEL: a model directory, or ORG/NAME[@REVISION] in the HuggingFace cache.
std::unique_ptr<Model> load_model(const std::string& arg);
// (In the layer pipeline, dist::pipeline(), this rank's stage of it.)
// Its --help text.
inline constexpr const char* kModelHelp = "Model directory or ORG/NAME[@REVISION] in the HuggingFace cache";

// The offline demo model (random weights, Pythia architecture, byte-level
// tokenizer), generated deterministically on first use into
// $XDG_CACHE_HOME/streamgauge/demo-pythia (or ~/.cache/...).
std::filesystem::path demo_model_dir();

using report::plural;  // "1 prompt", "3 prompts"
// Default output directory: ./streamgauge-out/<model name>/<experiment>.
std::filesystem::path default_out_dir(const Model& model, const std::string& experiment);

// "a, b,,c" -> {"a", "b", "c"}: a comma-separated option value, blanks around
// items trimmed, empty items dropped.
std::vector<std::string> split_list(const std::string& list);

// --prompts PRESET|FILE, --ids-file and --tokenizer (experiments/prompts.h);
// default_preset is used when neither --prompts nor --ids-file is given.
void add_prompt_options(CLI::App* cmd, PromptsInput& in, const std::string& default_preset);

// --pipeline and --pipeline-stages S: split the model's layers over the MPI
// ranks (dist::Pipeline); set while the command line is parsed.
void add_pipeline_options(CLI::App* cmd);
// In the layer pipeline, one line on standard error from each rank once its
// work on `model` is done: its stage's layers, the weight file bytes it holds
// in memory and its peak resident memory. Nothing outside the pipeline.
void report_pipeline_stage(const Model& model);

// --ids (repeatable) and --ids-file options, added to a subcommand.
struct IdsInput {
  std::vector<std::string> ids;
  std::string ids_file;
  void add_options(CLI::App* cmd);
  bool given() const { return !ids.empty() || !ids_file.empty(); }
  std::vector<std::vector<int32_t>> sequences() const;
};

}  // namespace sg::cli
