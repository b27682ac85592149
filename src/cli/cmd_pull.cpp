// streamgauge pull ORG/NAME[@REVISION]: download a model into the HuggingFace
// cache (the one Python's transformers uses), then print its snapshot folder.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/common.h"
#include "hub/pull.h"
#include "hub/resolve.h"
#include "hub/transfer_progress.h"
#include "util/progress.h"

namespace sg::cli {

void add_pull(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "pull",
      "Download a model from the HuggingFace hub into the HuggingFace cache (shared with Python's\n"
      "transformers; HF_HUB_CACHE / HF_HOME / ~/.cache/huggingface/hub) and print its snapshot folder.\n"
      "Endpoint: HF_ENDPOINT; token: HF_TOKEN or the file `huggingface-cli login` writes.");
  struct Args {
    std::string model, include, cache_dir;
    int jobs = 4;
  };
  auto args = std::make_shared<Args>();
  cmd->footer(
      "Examples:\n  streamgauge pull EleutherAI/pythia-160m\n"
      "  streamgauge pull EleutherAI/pythia-160m@step3000 --include '*.safetensors,*.json'");
  cmd->add_option("MODEL", args->model, "ORG/NAME[@REVISION] (revision: branch, tag or commit; default main)")
      ->required();
  cmd->add_option("--include", args->include,
                  "comma-separated glob patterns of the files to fetch (default: " +
                      fmt::format("{}", fmt::join(hub::default_include_patterns(), ",")) + ")");
  cmd->add_option("-j,--jobs", args->jobs, "files downloaded in parallel")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd->add_option("--cache-dir", args->cache_dir, "the hub cache folder (default: as huggingface_hub)");
  cmd->callback([args] {
    // The cache is where pull writes: a bad one is refused before any download.
    if (!args->cache_dir.empty())
      check_output_dir("--cache-dir", args->cache_dir);
    else
      check_output_dir("the HuggingFace cache", hub::hub_cache_dir());
    hub::PullOptions options;
    options.include = split_list(args->include);
    options.cache_dir = args->cache_dir;
    options.jobs = args->jobs;
    const hub::PullResult r = hub::pull(args->model, options);
    if (Progress::enabled())
      fmt::print(stderr, "{}: {} files at commit {}, {} downloaded ({})\n", args->model, r.files.size(),
                 r.commit.substr(0, 12), r.downloaded, hub::format_bytes(r.bytes));
    fmt::print("{}\n", r.snapshot.string());
  });
}

}  // namespace sg::cli
