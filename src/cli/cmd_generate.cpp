// streamgauge generate MODEL (--prompt TEXT | --ids ...) -n N: greedy continuation.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/engine.h"
#include "tokenize/tokenizer.h"
#include "util/error.h"

namespace sg::cli {

void add_generate(CLI::App& app) {
  struct Opts {
    std::string model, prompt, tokenizer;
    bool has_prompt = false;
    IdsInput ids;
    int n = 32;
    std::vector<int32_t> stop;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("generate", "Greedy continuation of a prompt (a check that the model runs right)");
  cmd->footer(
      "With --prompt the text is tokenized as HF's tokenizer(text) does (special tokens included) and the\n"
      "continuation is printed as text; with --ids the new token ids are printed, comma-separated.\n"
      "Generation stops after -n tokens, at the tokenizer's EOS or BOS (text mode; not printed), or at a\n"
      "--stop id.\n\n"
      "Examples:\n  streamgauge generate MODEL --prompt 'Once upon a time' -n 40\n"
      "  streamgauge generate MODEL --ids 1,403,407 -n 20");
  cmd->add_option("MODEL", opts->model, kModelHelp)
      ->required();
  cmd->add_option("--prompt", opts->prompt, "Prompt text");
  opts->ids.add_options(cmd);
  cmd->add_option("--tokenizer", opts->tokenizer, "Tokenizer file or directory (default: the model's own)");
  cmd->add_option("-n,--max-new-tokens", opts->n, "Tokens to generate")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--stop", opts->stop, "Stop after emitting this token id (repeatable)");
  cmd->callback([opts, cmd] {
    const bool text_mode = cmd->count("--prompt") > 0;
    if (text_mode == opts->ids.given()) fail("generate needs exactly one of --prompt TEXT or --ids/--ids-file");
    auto model = load_model(opts->model);
    Engine engine(*model);
    if (!text_mode) {
      for (auto& prompt : opts->ids.sequences())
        fmt::print("{}\n", fmt::join(engine.generate(prompt, opts->n, opts->stop), ","));
      return;
    }
    auto tok = Tokenizer::load(opts->tokenizer.empty() ? model->dir() : std::filesystem::path(opts->tokenizer));
    const auto prompt_ids = tok->encode(opts->prompt, true);
    if (prompt_ids.empty()) fail("--prompt: the prompt has no tokens");
    auto stop = opts->stop;
    // EOS ends the text; so does BOS (a new document), as llama2.c stops.
    for (auto special : {tok->eos_id(), tok->bos_id()})
      if (special) stop.push_back(*special);
    auto all = prompt_ids;
    auto out = engine.generate(prompt_ids, opts->n, stop);
    if (!out.empty() && std::find(stop.begin(), stop.end(), out.back()) != stop.end()) out.pop_back();
    all.insert(all.end(), out.begin(), out.end());
    // Decode the whole sequence and print what follows the decoded prompt, so
    // that decoders which strip a leading space do not eat the continuation's.
    const std::string head = tok->decode(prompt_ids), full = tok->decode(all);
    const std::string continuation = full.compare(0, head.size(), head) == 0 ? full.substr(head.size()) : tok->decode(out);
    fmt::print("{}{}\n", opts->prompt, continuation);
  });
}

}  // namespace sg::cli
