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
      "Generation stops after -n tokens, at the tokenizer's EOS or BOS (text mode; not printed), at a\n"
      "--stop id, or when the model's positions (max_position_embeddings) are used up, which it says.\n"
      "Each new token costs one token's forward (a KV cache); the output streams as it is produced.\n\n"
      "Examples:\n  streamgauge generate MODEL --prompt 'Once upon a time' -n 40\n"
      "  streamgauge generate MODEL --ids 1,403,407 -n 20");
  cmd->add_option("MODEL", opts->model, kModelHelp)->required();
  cmd->add_option("--prompt", opts->prompt, "Prompt text");
  opts->ids.add_options(cmd);
  cmd->add_option("--tokenizer", opts->tokenizer, "Tokenizer file or directory (default: the model's own)");
  cmd->add_option("-n,--max-new-tokens", opts->n, "Tokens to generate")
      ->check(CLI::Range(0, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--stop", opts->stop, "Stop after emitting this token id (repeatable)");
  cmd->callback([opts, cmd] {
    const bool text_mode = cmd->count("--prompt") > 0;
    if (text_mode == opts->ids.given()) fail("generate needs exactly one of --prompt TEXT or --ids/--ids-file");
    auto model = load_model(opts->model);
    Engine engine(*model);
    auto report_end = [&](const Generation& g) {
      if (g.end == Generation::End::PositionLimit)
        fmt::print(stderr,
                   "streamgauge: stopped after {} new tokens: the model has {} positions "
                   "(max_position_embeddings)\n",
                   g.tokens.size(), model->arch().max_positions);
    };
    if (!text_mode) {
      for (auto& prompt : opts->ids.sequences()) {
        bool first = true;
        const Generation g = engine.generate(prompt, opts->n, opts->stop, [&](int32_t id) {
          fmt::print("{}{}", first ? "" : ",", id);
          first = false;
          std::fflush(stdout);
        });
        fmt::print("\n");
        report_end(g);
      }
      return;
    }
    auto tok = Tokenizer::load(opts->tokenizer.empty() ? model->dir() : std::filesystem::path(opts->tokenizer));
    const auto prompt_ids = tok->encode(opts->prompt, true);
    if (prompt_ids.empty()) fail("--prompt: the prompt has no tokens");
    auto stop = opts->stop;
    // EOS ends the text; so does BOS (a new document), as llama2.c stops.
    for (auto special : {tok->eos_id(), tok->bos_id()})
      if (special) stop.push_back(*special);
    // Streaming: after each token, decode the whole sequence and print what
    // follows the text printed so far (decoding piecewise would lose the spaces
    // some decoders strip at the start, and split multi-byte characters). Text
    // ending in U+FFFD may be a character still incomplete: it waits.
    auto all = prompt_ids;
    const std::string head = tok->decode(prompt_ids);
    size_t printed = head.size();
    fmt::print("{}", opts->prompt);
    std::fflush(stdout);
    auto flush_text = [&](bool final) {
      const std::string full = tok->decode(all);
      const bool pending = full.size() >= 3 && full.compare(full.size() - 3, 3, "\xEF\xBF\xBD") == 0;
      if ((pending && !final) || full.size() <= printed || full.compare(0, head.size(), head) != 0) return;
      fmt::print("{}", full.substr(printed));
      printed = full.size();
      std::fflush(stdout);
    };
    const Generation g = engine.generate(prompt_ids, opts->n, stop, [&](int32_t id) {
      if (std::find(stop.begin(), stop.end(), id) != stop.end()) return;  // EOS / BOS: not printed
      all.push_back(id);
      flush_text(false);
    });
    flush_text(true);
    fmt::print("\n");
    report_end(g);
  });
}

}  // namespace sg::cli
