// streamgauge pairs PRESET [--n N] [--seed S]: a built-in pair set printed as
// JSONL on stdout, in the form `align --pairs` reads back ("a" = zh, "b" = en), so
// users can inspect, edit and feed it back.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdio>

#include "cli/commands.h"
#include "experiments/problems.h"
#include "util/error.h"

namespace sg::cli {

void add_pairs(CLI::App& app) {
  struct Opts {
    std::string preset;
    int n = 200;
    int64_t seed = 42;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("pairs", "Print a built-in parallel-text preset as JSONL (the input form of align --pairs)");
  cmd->footer(
      "Examples:\n  streamgauge pairs zh-en-math --n 200 > pairs.jsonl   # edit, then:\n"
      "  streamgauge align MODEL --pairs pairs.jsonl");
  cmd->add_option("preset", opts->preset, fmt::format("Preset name ({})", fmt::join(align::preset_names(), ", ")))
      ->required();
  cmd->add_option("--n", opts->n, "Number of pairs (zh-en-math: n // 5 per category, as the seed script)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--seed", opts->seed, "Seed of the generator (Python random.Random(seed))")->capture_default_str();
  cmd->callback([opts] {
    const align::PairSet set = align::preset_pairs(opts->preset, static_cast<size_t>(opts->n), opts->seed);
    if (set.pairs.size() != static_cast<size_t>(opts->n)) {
      warnf("--n {} gives {} pairs (the preset draws n // 5 per category)", opts->n, set.pairs.size());
    }
    const std::string text = align::pairs_to_jsonl(set);
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
      fail("cannot write the pairs to standard output");
    }
  });
}

}  // namespace sg::cli
