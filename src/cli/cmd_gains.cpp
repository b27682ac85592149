// streamgauge gains [MODEL]: seeds 000/001's attention and MLP gains per layer,
// phases, hypothesis and funnel tests, with figures, CSV, JSON and a report.
#include <fmt/format.h>

#include <chrono>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/gains_outputs.h"
#include "cli/prompts.h"
#include "engine/engine.h"
#include "engine/matmul.h"
#include "experiments/compare.h"
#include "measure/run_prompts.h"
#include "report/csv.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/error.h"
#include "util/progress.h"

namespace sg::cli {

namespace {

constexpr const char* kRandomWarning =
    "DEMO MODEL WITH RANDOM WEIGHTS: these numbers mean nothing. Point streamgauge at a real model: "
    "streamgauge gains path/to/model (or ORG/NAME from the HuggingFace cache, e.g. EleutherAI/pythia-1.4b; "
    "streamgauge pull ORG/NAME downloads one).";

}  // namespace

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
      "report.html. In Python: pandas.read_csv('layers.csv'), json.load(open('gains.json')).\n\n"
      "Examples:\n"
      "  streamgauge gains                                   # the offline demo\n"
      "  streamgauge gains EleutherAI/pythia-1.4b             # from the HuggingFace cache\n"
      "  streamgauge gains path/to/pythia-6.9b --prompts ffn-6.9b --reference pythia-1.4b");
  cmd->add_option("MODEL", opts->model, fmt::format("{} (default: the random demo)", kModelHelp));
  opts->prompts.add_options(cmd, "ffn-1.4b");
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
    std::vector<std::string> files = {"gains.json", "layers.csv", "report.html"};
    if (!opts->no_figures) files.insert(files.end(), {"gains.png", "gains.svg", "funnel.png", "funnel.svg"});
    opts->prompts.check();
    std::optional<compare::GainsSummary> reference;
    if (!opts->reference.empty()) reference = load_reference(opts->reference);
    if (!opts->out.empty()) check_output_dir("--out", opts->out, files);

    std::vector<std::string> warnings;
    const std::string model_arg = opts->model.empty() ? demo_model_dir().string() : opts->model;
    auto model = load_model(model_arg);
    if (model->random_weights()) warnings.push_back(kRandomWarning);
    const std::filesystem::path out =
        opts->out.empty() ? default_out_dir(*model, "gains") : std::filesystem::path(opts->out);
    if (opts->out.empty()) check_output_dir("the default output directory", out, files);
    const PromptSet prompts = opts->prompts.resolve(*model);

    // Forward: all prompts together, per-token norms reduced on the fly.
    const auto t0 = std::chrono::steady_clock::now();
    if (opts->fast && model->weight_dtype() != DType::BF16)
      warnings.push_back(
          fmt::format("--fast has no effect: the weights are {}, not BF16", dtype_name(model->weight_dtype())));
    const bool fast = opts->fast && model->weight_dtype() == DType::BF16;
    if (fast) fmt::print(stderr, "streamgauge: --fast: {}\n", matmul::describe(true));
    Engine engine(*model, fast ? MatmulPrecision::BF16 : MatmulPrecision::F32);
    SublayerStatsReducer reducer(model->arch().n_layers, opts->options.entropy);
    Reducer* reducers[] = {&reducer};
    run_prompts(engine, prompts.sequences(), reducers, {.max_tokens = opts->chunk_tokens, .progress_label = "gains"});
    GainsRun run;
    run.model = model.get();
    run.prompts = &prompts;
    run.options = opts->options;
    run.result = gains::analyze(reducer.stats(), opts->options);
    run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    run.warnings = warnings;
    run.precision = (fast ? "BF16 matrix products (--fast): BF16 weights and activations, float32 accumulation; "
                          : "float32 (16-bit weights widened exactly), norms accumulated in float64; ") +
                    matmul::describe(fast);
    if (!opts->no_weights) {
      Progress progress("weight norms", model->arch().n_layers);
      run.weights = weights::layer_norms(*model, [&](int) { progress.tick(); });
    }

    // Outputs.
    const auto doc = gains_json(run);
    std::optional<report::Table> comparison;
    std::optional<double> ref_last;
    if (reference) {
      comparison = comparison_table(*reference, run);
      if (reference->preset) ref_last = reference->mlp_last_layer_gain;
    }
    create_output_dir(out);
    report::write_json(out / "gains.json", doc);
    report::write_csv(out / "layers.csv", layers_table(run));
    if (!opts->no_figures) write_gains_figures(run, out, ref_last);
    write_gains_report(run, out, doc, comparison, !opts->no_figures);

    // Terminal: the seeds' tables.
    const auto& s = run.result.seed;
    for (auto& w : warnings) fmt::print("!! {}\n\n", w);
    fmt::print("{} — {} layers, hidden {}, {} ({})\n{}\n\n", model->name(), s.n_layers, model->arch().d_model,
               plural(prompts.prompts.size(), "prompt"), prompts.source, prompts.special_tokens_note);
    fmt::print("{}\n", report::format_text_table(seed_layer_table(s)));
    if (run.result.module)
      fmt::print("{}\n{}\n", post_norm_note(), report::format_text_table(module_gains_table(run.result)));
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
    if (comparison) fmt::print("\nCROSS-MODEL COMPARISON\n{}", report::format_text_table(*comparison));
    fmt::print("\nWrote {}/: gains.json, layers.csv{}, report.html ({:.2f} s for the forward passes)\n",
               display_dir(out), opts->no_figures ? "" : ", gains.png/svg, funnel.png/svg", run.seconds);
  });
}

}  // namespace sg::cli
