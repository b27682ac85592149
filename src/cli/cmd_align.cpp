// streamgauge align MODEL [--pairs FILE.jsonl | --preset zh-en-math] [--n 200]
//   [--seed 42] [--perms 500] [--drop-top-dims k] [--out DIR] [--save-deltas]
// Seed 003 (attn_vs_ffn_alignment.py): which sublayers build the cross-lingual
// alignment of the last-token residual stream. The texts of both sides run
// through the engine in chunks, keeping only the last-token rows of
// hook_resid_pre / hook_attn_out / hook_mlp_out (engine/last_token.h); the
// numbers come from experiments/alignment_stats.h. This file gathers inputs,
// prints the seed's lines and writes align.json, layers.csv, the figure,
// report.html and (--save-deltas) the seed's attn_mlp_deltas.npz.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "dist/comm.h"
#include "experiments/align_outputs.h"
#include "util/error.h"

namespace sg::cli {
namespace {

namespace fs = std::filesystem;

struct Opts {
  std::string model, out;
  align::PairsInput pairs;
  size_t perms = 500;
  size_t drop_top_dims = 0;
  bool save_deltas = false, no_figures = false;
};

void run(const Opts& o) {
  // Every path first: a bad one is refused before the model is loaded.
  if (o.perms < 1) fail("--perms must be at least 1");
  const auto files = align::output_files(!o.no_figures, o.save_deltas);
  if (!o.pairs.pairs.empty()) check_input_file("--pairs", o.pairs.pairs);
  if (!o.out.empty()) check_output_dir("--out", o.out, files);
  auto model = load_model(o.model);
  const ArchSpec& arch = model->arch();
  const align::RunOptions options{.n_perms = o.perms, .drop_top_dims = o.drop_top_dims};
  align::check(*model, options);
  align::Inputs in = align::load_inputs(o.pairs, *model);
  const fs::path out = o.out.empty() ? default_out_dir(*model, "align") : fs::path(o.out);
  if (o.out.empty()) check_output_dir("the default output directory", out, files);

  fmt::print("Model: {}, {} layers, d={}{}\n", model->name(), arch.n_layers, arch.d_model,
             arch.parallel_residual ? " (parallel residual)" : "");
  const align::Run run = align::run(*model, std::move(in), options);
  report_pipeline_stage(*model);
  if (!dist::world().root()) return;  // several MPI ranks: rank 0 reports
  const align::AlignResult& r = run.result;
  fmt::print("Ran {} pairs ({} tokens, last-token rows kept) in {:.1f} s\n", run.inputs.set.pairs.size(),
             static_cast<long long>(run.n_tokens), run.capture_seconds);

  const std::string rule(70, '=');
  fmt::print("\n{}\nANALYSIS: Attention vs FFN Contribution to Cross-Lingual Alignment\n{}\n", rule, rule);
  if (!r.post_attn_is_model_state) fmt::print("note: {}\n", r.post_attn_note);
  for (const auto& l : r.layers) fmt::print("{}\n", align::seed_layer_line(l));
  fmt::print("(*** ATTN / *** MLP: that sublayer moves the z-score by more than 1.5, the seed's marker)\n");
  fmt::print("\n{}\nSUMMARY\n{}\n{}", rule, rule, align::summary_text(r.summary));
  if (r.summary_standardized)
    fmt::print("\nBeyond the seed, every dimension standardised over the 2N vectors:{}",
               align::summary_text(*r.summary_standardized));
  if (r.summary_top_dims_removed)
    fmt::print("\nBeyond the seed, the {} largest-variance dimensions removed:{}", o.drop_top_dims,
               align::summary_text(*r.summary_top_dims_removed));
  fmt::print("\n(statistics: {} permutations x 5 states x {} layers in {:.2f} s)\n", o.perms, arch.n_layers,
             run.stats_seconds);

  align::write_outputs(run, out, !o.no_figures, o.save_deltas);
  fmt::print("\nwrote {}/{{{}}}\n", display_dir(out), fmt::join(files, ", "));
}

}  // namespace

void add_align(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "align",
      "Which sublayers build cross-lingual alignment: matched-vs-scrambled z of the last-token residual "
      "stream before and after each attention and MLP (seed 003)");
  cmd->footer(
      "Pairs: --preset zh-en-math (default; the seed's 200 Chinese/English math problems) or --pairs FILE.jsonl\n"
      "with {\"a\": ..., \"b\": ...} text lines (needs the model's tokenizer) or {\"a_ids\": [...], \"b_ids\": [...]}\n"
      "token-id lines. 'a' plays the seed's zh side, 'b' its en side. Print a preset with `streamgauge pairs`.\n\n"
      "Example:\n  streamgauge align Qwen/Qwen2.5-3B --save-deltas");
  cmd->add_option("MODEL", o->model, kModelHelp)->required();
  auto* pairs = cmd->add_option("--pairs", o->pairs.pairs, "JSONL file of pairs (text or token ids)");
  auto* preset = cmd->add_option("--preset", o->pairs.preset,
                                 fmt::format("Built-in pairs ({})", fmt::join(align::preset_names(), ", ")))
                     ->capture_default_str();
  auto* n = cmd->add_option("--n", o->pairs.n, "Number of preset pairs (n // 5 per category, as the seed)")
                ->check(CLI::Range(1, 1000000))
                ->capture_default_str();
  auto* seed = cmd->add_option("--seed", o->pairs.seed, "Seed of the preset's generator (Python random.Random)")
                   ->capture_default_str();
  pairs->excludes(preset)->excludes(n)->excludes(seed);
  cmd->add_option("--perms", o->perms, "Permutations of the scrambled baseline (numpy RandomState(42))")
      ->capture_default_str();
  cmd->add_option("--drop-top-dims", o->drop_top_dims,
                  "Also report z with the k largest-variance dimensions removed (beyond the seed; 0 = off)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output directory (default: ./streamgauge-out/<model>/align)");
  cmd->add_option("--tokenizer", o->pairs.tokenizer,
                  "Tokenizer file or directory for text pairs (default: the model's own)")
      ->check(CLI::ExistingPath);
  cmd->add_flag("--save-deltas", o->save_deltas,
                "Also write attn_mlp_deltas.npz (the seed's arrays: {zh,en}_{attn,mlp}_delta_L{l}, float32 [N, d])");
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figure");
  add_pipeline_options(cmd);
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
