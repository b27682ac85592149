// streamgauge generate MODEL --ids ... -n N: greedy continuation.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/engine.h"
#include "util/error.h"

namespace sg::cli {

void add_generate(CLI::App& app) {
  struct Opts {
    std::string model;
    IdsInput ids;
    int n = 32;
    std::vector<int32_t> stop;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Greedy continuation of a prompt (a check that the model runs right)");
  cmd->footer("Example:\n  streamgauge generate MODEL --ids 1,403,407 -n 20");
  cmd->add_option("MODEL", opts->model, "Model directory or ORG/NAME[@REVISION] in the HuggingFace cache")->required();
  opts->ids.add_options(cmd);
  cmd->add_option("-n,--max-new-tokens", opts->n, "Tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--stop", opts->stop, "Stop after emitting this token id (repeatable)");
  cmd->callback([opts] {
    auto seqs = opts->ids.sequences();
    if (seqs.empty()) fail("generate needs a prompt: --ids 1,2,3");
    auto model = load_model(opts->model);
    Engine engine(*model);
    for (auto& prompt : seqs) {
      const auto out = engine.generate(prompt, opts->n, opts->stop);
      fmt::print("{}\n", fmt::join(out, ","));
    }
  });
}

}  // namespace sg::cli
