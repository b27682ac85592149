#include "cli/common.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "dist/comm.h"
#include "experiments/prompt_presets.h"
#include "hub/resolve.h"
#include "io/ids_file.h"
#include "model/synthetic.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/paths.h"

namespace sg::cli {

std::unique_ptr<Model> load_model(const std::string& arg) {
  const dist::Pipeline pipe = dist::pipeline();
  return Model::load(hub::resolve_model(arg), pipe.stage, pipe.stages);
}

namespace {
// The process's peak resident memory (Linux's VmHWM; 0 where unavailable).
size_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;
  return 0;
}
}  // namespace

void report_pipeline_stage(const Model& model) {
  const Model::Stage& s = model.stage();
  if (s.count == 1) return;
  fmt::print(stderr,
             "pipeline stage {}/{} (MPI rank {}): layers {}-{}, {:.1f} MB of the {:.1f} MB weight files resident, "
             "peak resident memory {:.1f} MB\n",
             s.index + 1, s.count, dist::world().rank(), s.first_layer, s.end_layer - 1,
             static_cast<double>(model.resident_weight_bytes()) / 1e6, static_cast<double>(model.bytes_on_disk()) / 1e6,
             static_cast<double>(peak_resident_bytes()) / 1e6);
}

void add_pipeline_options(CLI::App* cmd) {
  auto* whole = cmd->add_flag_function(
      "--pipeline", [](int64_t) { dist::set_pipeline_stages(dist::world().size()); },
      "Under mpirun/srun: split the model's layers over the ranks, each holding only its own layers' weights "
      "(for models larger than one machine's memory); the results are the same bits");
  cmd->add_option_function<int>(
         "--pipeline-stages", [](int stages) { dist::set_pipeline_stages(stages); },
         "Under mpirun/srun: S stages of layers per replica, the ranks forming ranks/S replicas that share the "
         "prompts")
      ->excludes(whole);
}

std::filesystem::path demo_model_dir() {
  std::filesystem::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    cache = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    cache = std::filesystem::path(home) / ".cache";
  } else {
    cache = std::filesystem::temp_directory_path();
  }
  const auto dir = cache / "streamgauge" / "demo-pythia";
  // The spec's seed names the version: regenerate whenever it changes.
  const SyntheticSpec spec = demo_spec();
  const auto stamp = dir / ("seed-" + std::to_string(spec.seed));
  if (!std::filesystem::exists(stamp)) {
    write_synthetic_model(dir, spec);
    write_byte_tokenizer(dir);
    write_file_atomic(stamp, "random weights: numbers mean nothing\n");
  }
  return dir;
}

std::filesystem::path default_out_dir(const Model& model, const std::string& experiment) {
  return std::filesystem::path("streamgauge-out") / model.name() / experiment;
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= list.size();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.push_back(std::move(item));
    start = comma + 1;
  }
  return out;
}

void add_prompt_options(CLI::App* cmd, PromptsInput& in, const std::string& default_preset) {
  in.default_preset = default_preset;
  cmd->add_option("--prompts", in.prompts,
                  fmt::format("Prompt preset ({}; default {}) or a file: one prompt per line, or JSONL with "
                              "{{\"text\": ...}} or {{\"ids\": [...]}} per line",
                              fmt::join(prompt_preset_names(), ", "), default_preset));
  cmd->add_option("--ids-file", in.ids_file, "JSONL of token ids, one sequence per line (no tokenizer needed)");
  cmd->add_option("--tokenizer", in.tokenizer, "Tokenizer file or directory (default: the model's own)");
}

void IdsInput::add_options(CLI::App* cmd) {
  cmd->add_option("--ids", ids, "A sequence of token ids, comma-separated (repeat for several sequences)");
  cmd->add_option("--ids-file", ids_file,
                  "JSONL file, one sequence per line: a JSON array of ids or an object {\"ids\": [...]}");
}

std::vector<std::vector<int32_t>> IdsInput::sequences() const {
  std::vector<std::vector<int32_t>> out;
  for (auto& s : ids) out.push_back(parse_id_list(s));
  if (!ids_file.empty()) {
    check_input_file("--ids-file", ids_file);
    for (auto& s : read_ids_file(ids_file)) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sg::cli
