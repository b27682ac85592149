#pragma once
// Pieces every subcommand shares: resolving a MODEL argument, checking input and
// output paths up front, token-id inputs.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"

namespace sg::cli {

// MODEL: a model directory, or ORG/NAME[@REVISION] in the HuggingFace cache.
std::unique_ptr<Model> load_model(const std::string& arg);
// Its --help text.
inline constexpr const char* kModelHelp = "Model directory or ORG/NAME[@REVISION] in the HuggingFace cache";

// The offline demo model (random weights, Pythia architecture, byte-level
// tokenizer), generated deterministically on first use into
// $XDG_CACHE_HOME/streamgauge/demo-pythia (or ~/.cache/...).
std::filesystem::path demo_model_dir();

// "1 prompt", "3 prompts".
std::string plural(size_t n, const std::string& noun);
// A directory as printed in messages: no trailing separator.
std::string display_dir(const std::filesystem::path& dir);

// Default output directory: ./streamgauge-out/<model name>/<experiment>.
std::filesystem::path default_out_dir(const Model& model, const std::string& experiment);

// Up-front checks of the paths a command is given, made before any model is
// loaded or anything computed, so a bad path costs nothing. Each throws
// sg::Error (exit code 2) naming the option, the path and the reason (the
// strerror() of the call that failed). `option` is the option's name
// ("--out") or what the path is ("the default output directory").
//
// An output file, e.g. capture --out FILE: "-" is standard output; what
// happens to a regular file, a symlink, a FIFO or a device: util/atomic_file.h.
void check_output_file(const std::string& option, const std::filesystem::path& path);
// An output directory (--out DIR): an existing directory we may write in, or a
// missing one whose nearest existing ancestor is a directory we may write in;
// never "-", an existing non-directory or a dangling link. Nothing is created:
// create_output_dir() makes it when the outputs are written, so a run that
// fails leaves no empty directory behind. `files`: the names the command will
// write in it; those that exist already must be writable outputs (not a
// directory, ...).
void check_output_dir(const std::string& option, const std::filesystem::path& dir,
                      const std::vector<std::string>& files = {});
// Creates the output directory (and its parents) if missing.
void create_output_dir(const std::filesystem::path& dir);
// An input file: exists, is not a directory, may be read. Nothing is opened, so
// a FIFO keeps its data for the real read.
void check_input_file(const std::string& option, const std::filesystem::path& path);

// --ids (repeatable) and --ids-file options, added to a subcommand.
struct IdsInput {
  std::vector<std::string> ids;
  std::string ids_file;
  void add_options(CLI::App* cmd);
  bool given() const { return !ids.empty() || !ids_file.empty(); }
  std::vector<std::vector<int32_t>> sequences() const;
};

}  // namespace sg::cli
