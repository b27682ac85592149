// streamgauge gains [MODEL]: seeds 000/001's attention and MLP gains per layer,
// phases, hypothesis and funnel tests, with figures, CSV, JSON and a report.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "dist/comm.h"
#include "experiments/compare.h"
#include "experiments/gains_outputs.h"
#include "report/terminal.h"
#include "util/error.h"

namespace sg::cli {

void add_gains(CLI::App& app) {
  struct Opts {
    std::string model, out, reference;
    PromptsInput prompts;
    gains::Options options;
    bool no_weights = false, no_figures = false, fast = false;
    int64_t chunk_tokens = 8192;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "gains", "Attention and MLP gain per layer (seeds 000/001): phases, funnel test, figures, report");
  cmd->footer(
      "For every layer l and prompt: attention gain = mean_t ||blocks.l.hook_attn_out|| / (mean_t\n"
      "||blocks.l.ln1.hook_out|| + 1e-10), MLP gain likewise from ln2.hook_out and hook_mlp_out; then the mean\n"
      "over prompts. All prompts run together through the padding-free batch; nothing but per-token norms is\n"
      "kept. Without MODEL a small random-weight demo model runs (its numbers mean nothing).\n\n"
      "Outputs (in --out): gains.json (the seeds' keys + more), layers.csv, gains.png/svg, funnel.png/svg,\n"
      "report.html (a mixture of experts: also experts.csv, each expert's share of the tokens per layer).\n"
      "In Python: pandas.read_csv('layers.csv'), json.load(open('gains.json')).\n\n"
      "Examples:\n"
      "  streamgauge gains                                   # the offline demo\n"
      "  streamgauge gains EleutherAI/pythia-1.4b             # from the HuggingFace cache\n"
      "  streamgauge gains path/to/pythia-6.9b --prompts ffn-6.9b --reference pythia-1.4b");
  cmd->add_option("MODEL", opts->model, fmt::format("{} (default: the random demo)", kModelHelp));
  add_prompt_options(cmd, opts->prompts, "ffn-1.4b");
  add_pipeline_options(cmd);
  cmd->add_option("--out", opts->out, "Output directory (default: ./streamgauge-out/<model>/gains)");
  cmd->add_option("--reference", opts->reference,
                  "Add seed 001's cross-model table against a previous gains.json or a preset (pythia-1.4b, "
                  "pythia-6.9b)");
  cmd->add_flag("--skip-first", opts->options.skip_first,
                "Also report every metric without each prompt's first token (attention-sink activations)");
  cmd->add_option("--bootstrap", opts->options.bootstrap, "Bootstrap resamples of the prompts for the 95% intervals")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str();
  cmd->add_option("--bootstrap-seed", opts->options.bootstrap_seed, "Seed of the bootstrap")->capture_default_str();
  cmd->add_flag("--fast", opts->fast,
                "BF16 matrix products with float32 accumulation for BF16 checkpoints (activations rounded to "
                "BF16; about 2x faster, small deviations from the exact float32 path)");
  cmd->add_flag("--no-weights", opts->no_weights, "Skip the per-layer weight norms");
  cmd->add_flag("--no-figures", opts->no_figures, "Skip the figures (no gnuplot needed)");
  cmd->add_option("--chunk-tokens", opts->chunk_tokens, "Most tokens per forward pass (memory bound)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  cmd->callback([opts] {
    // Every path first: a bad one is refused before the model is loaded.
    std::vector<std::string> files = {"gains.json", "layers.csv", "experts.csv", "report.html"};
    if (!opts->no_figures) files.insert(files.end(), {"gains.png", "gains.svg", "funnel.png", "funnel.svg"});
    opts->prompts.check();
    std::optional<compare::GainsSummary> reference;
    if (!opts->reference.empty()) reference = gains::load_reference(opts->reference);
    if (!opts->out.empty()) check_output_dir("--out", opts->out, files);

    const std::string model_arg = opts->model.empty() ? demo_model_dir().string() : opts->model;
    auto model = load_model(model_arg);
    const std::filesystem::path out =
        opts->out.empty() ? default_out_dir(*model, "gains") : std::filesystem::path(opts->out);
    if (opts->out.empty()) check_output_dir("the default output directory", out, files);
    const gains::Run run = gains::run(*model, opts->prompts.resolve(*model),
                                      {.options = opts->options,
                                       .fast = opts->fast,
                                       .weights = !opts->no_weights,
                                       .chunk_tokens = opts->chunk_tokens});
    report_pipeline_stage(*model);
    const PromptSet& prompts = run.prompts;
    if (!dist::world().root()) return;  // several MPI ranks: rank 0 reports

    gains::write_outputs(run, out, reference, !opts->no_figures);

    // Terminal: the seeds' tables.
    const auto& s = run.result.seed;
    for (auto& w : run.warnings) fmt::print("!! {}\n\n", w);
    fmt::print("{} — {} layers, hidden {}, {} ({})\n{}\n\n", model->name(), s.n_layers, model->arch().d_model,
               plural(prompts.prompts.size(), "prompt"), prompts.source, prompts.special_tokens_note);
    fmt::print("{}\n", report::format_text_table(seed_layer_table(s)));
    if (run.result.module)
      fmt::print("{}\n{}\n", gains::post_norm_note(), report::format_text_table(module_gains_table(run.result)));
    if (run.result.experts)
      fmt::print("{}\n{}\n", gains::expert_usage_note(),
                 report::format_text_table(gains::expert_usage_table(*run.result.experts)));
    if (run.result.skip_first)
      fmt::print("Without each prompt's first token (--skip-first):\n{}\n",
                 report::format_text_table(seed_layer_table(*run.result.skip_first)));
    fmt::print("Attention: {}/{} contracting, min gain {:.4f} at layer {}\n", s.attn_contracting, s.n_layers,
               s.attn_gain[s.L_star_attn], s.L_star_attn);
    fmt::print("MLP:       {}/{} expanding, max gain {:.4f} at layer {}\n", s.mlp_expanding, s.n_layers,
               s.mlp_gain[s.L_star_mlp], s.L_star_mlp);
    fmt::print("Hypothesis (attention contracts, FFN expands) confirmed: {}\n\n",
               s.hypothesis_confirmed ? "True" : "False");
    fmt::print("{}\n", report::format_text_table(funnel_table(s)));
    fmt::print("Cumulative gain bottleneck: layer {} ({:.4g})\n", s.bottleneck, s.cumulative[s.bottleneck]);
    if (run.result.L_star_entropy)
      fmt::print("Minimum attention entropy (L*_entropy): layer {}\n", *run.result.L_star_entropy);
    if (reference)
      fmt::print("\nCROSS-MODEL COMPARISON\n{}", report::format_text_table(gains::comparison_table(*reference, run)));
    fmt::print("\nWrote {}/: gains.json, layers.csv{}{}, report.html ({:.2f} s for the forward passes)\n",
               display_dir(out), run.result.experts ? ", experts.csv" : "",
               opts->no_figures ? "" : ", gains.png/svg, funnel.png/svg", run.seconds);
  });
}

}  // namespace sg::cli
