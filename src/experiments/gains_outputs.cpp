#include "experiments/gains_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "dist/comm.h"
#include "engine/engine.h"
#include "engine/matmul.h"
#include "experiments/compare.h"
#include "experiments/weights_cache.h"
#include "measure/run_prompts.h"
#include "measure/sublayer_stats.h"
#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/error.h"
#include "util/paths.h"
#include "util/progress.h"

namespace sg::gains {

using nlohmann::ordered_json;
using report::cell;

namespace {

report::Panel panel(std::string title, std::string x_label, std::string y_label) {
  report::Panel p;
  p.title = std::move(title), p.x_label = std::move(x_label), p.y_label = std::move(y_label);
  return p;
}

report::LineSeries line(std::string label, std::vector<double> x, std::vector<double> y,
                        report::LineStyle style = report::LineStyle::LinesPoints) {
  report::LineSeries l;
  l.label = std::move(label), l.x = std::move(x), l.y = std::move(y), l.style = style;
  return l;
}

report::RefLine ref(double y, std::string label) {
  report::RefLine r;
  r.y = y, r.label = std::move(label);
  return r;
}

std::vector<double> layer_axis(int n) {
  std::vector<double> x(n);
  for (int i = 0; i < n; ++i) x[i] = i;
  return x;
}

constexpr const char* kRandomWarning =
    "DEMO MODEL WITH RANDOM WEIGHTS: these numbers mean nothing. Point streamgauge at a real model: "
    "streamgauge gains path/to/model (or ORG/NAME from the HuggingFace cache, e.g. EleutherAI/pythia-1.4b; "
    "streamgauge pull ORG/NAME downloads one).";

// Every layer's weight norms on rank 0 (only it reports), through the cache
// (weights::cached_layer_norms). In the layer pipeline, rank 0 looks in the
// cache; on a miss each layer's norms are computed by the stage holding it
// (replica 0's) and gathered, so no rank reads weights beyond its own.
weights::CachedNorms weight_norms(const Model& model, const std::function<void()>& between_layers) {
  const dist::Comm& world = dist::world();
  const dist::Pipeline pipe = dist::pipeline();
  const Model::Stage& stage = model.stage();
  auto compute = [&] {
    Progress progress("weight norms", static_cast<size_t>(stage.end_layer - stage.first_layer));
    return weights::layer_norms(model, [&](int) {
      progress.tick();
      if (between_layers) between_layers();
    });
  };
  if (!pipe.on()) {
    if (!world.root()) return {};
    if (auto hit = weights::cached_norms(model)) return std::move(*hit);
    auto layers = compute();
    auto source = weights::cache_norms(model, layers);
    return {std::move(layers), std::move(source)};
  }
  std::optional<weights::CachedNorms> hit = world.root() ? weights::cached_norms(model) : std::nullopt;
  const std::byte found{hit ? uint8_t{1} : uint8_t{0}};
  if (world.allgather_bytes(std::span(&found, world.root() ? 1 : 0))[0].at(0) == std::byte{1}) {
    if (!world.root()) return {};
    return std::move(*hit);
  }
  std::vector<weights::LayerNorms> mine;
  if (pipe.replica == 0) {
    const auto all = compute();
    mine.assign(all.begin() + stage.first_layer, all.begin() + stage.end_layer);
  }
  constexpr const char* kPart = "pipeline-stage";  // (the cache's text format, under a key of its own)
  const std::string text = weights::cache::serialize(kPart, mine);
  const auto parts = world.gather_bytes(std::as_bytes(std::span(text)));
  if (!world.root()) return {};
  std::vector<weights::LayerNorms> layers;
  for (int s = 0; s < pipe.stages; ++s) {
    const auto& part = parts[static_cast<size_t>(pipe.rank_of(0, s))];
    auto theirs = weights::cache::parse(std::string(reinterpret_cast<const char*>(part.data()), part.size()), kPart);
    if (!theirs) fail("internal: stage {}'s weight norms arrived damaged", s + 1);
    layers.insert(layers.end(), theirs->begin(), theirs->end());
  }
  if (layers.size() != static_cast<size_t>(model.arch().n_layers)) fail("internal: weight norms of missing layers");
  auto source = weights::cache_norms(model, layers);
  return {std::move(layers), std::move(source)};
}

}  // namespace

Run run(const Model& model, PromptSet prompts, const RunOptions& o) {
  Run run;
  run.model = &model;
  run.prompts = std::move(prompts);
  run.options = o.options;
  if (model.random_weights()) run.warnings.push_back(kRandomWarning);
  if (o.fast && model.weight_dtype() != DType::BF16)
    run.warnings.push_back(
        fmt::format("--fast has no effect: the weights are {}, not BF16", dtype_name(model.weight_dtype())));
  const bool fast = o.fast && model.weight_dtype() == DType::BF16;
  if (fast) fmt::print(stderr, "streamgauge: --fast: {}\n", matmul::describe(true));

  // Forward: the prompts in chunks, per-token norms reduced on the fly.
  const auto t0 = std::chrono::steady_clock::now();
  Engine engine(model, fast ? MatmulPrecision::BF16 : MatmulPrecision::F32);
  SublayerStatsReducer reducer(model.arch().n_layers, o.options.entropy);
  Reducer* reducers[] = {&reducer};
  run_prompts(engine, run.prompts.sequences(), reducers,
              {.max_tokens = o.chunk_tokens, .progress_label = "gains", .between_layers = o.between_layers});
  run.result = analyze(reducer.stats(), o.options);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  run.precision = (fast ? "BF16 matrix products (--fast): BF16 weights and activations, float32 accumulation; "
                        : "float32 (16-bit weights widened exactly), norms accumulated in float64; ") +
                  matmul::describe(fast);
  if (o.weights) {
    const auto w0 = std::chrono::steady_clock::now();
    weights::CachedNorms norms = weight_norms(model, o.between_layers);
    run.weights = std::move(norms.layers);
    run.weights_source = std::move(norms.source);
    run.weights_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - w0).count();
  }
  return run;
}

ordered_json gains_json(const Run& run) { return gains::to_json(run.result, run_info(run)); }

gains::RunInfo run_info(const Run& run) {
  const Model& m = *run.model;
  gains::RunInfo info;
  info.model = m.name();
  info.n_layers = m.arch().n_layers;
  info.d_model = m.arch().d_model;
  info.n_prompts = run.prompts.prompts.size();
  info.n_params = m.n_params();
  info.n_params_non_embedding = m.n_params_non_embedding();
  info.random_weights = m.random_weights();
  info.gated_mlp = m.arch().gated_mlp;
  info.warnings = run.warnings;
  info.options = run.options;
  info.weights = run.weights;
  ordered_json prompts = ordered_json::array();
  for (auto& p : run.prompts.prompts) prompts.push_back({{"text", p.text}, {"ids", p.ids}});
  info.provenance = report::provenance({
      {"model_path", std::filesystem::absolute(m.dir()).string()},
      {"config_sha256", report::sha256_file(m.dir() / "config.json")},
      {"weight_dtype", std::string(dtype_name(m.weight_dtype()))},
      {"compute_precision", run.precision},
      {"prompts_source", run.prompts.source},
      {"special_tokens", run.prompts.special_tokens_note},
      {"tokenizer", run.prompts.tokenizer},
      {"prompts", prompts},
      {"seconds", run.seconds},
  });
  if (run.weights) {
    info.provenance["weight_norms_source"] = run.weights_source;
    info.provenance["weight_norms_seconds"] = run.weights_seconds;
  }
  return info;
}

report::Table layers_table(const Run& run) {
  const auto& r = run.result;
  const auto& s = r.seed;
  std::vector<std::string> cols = {"layer",
                                   "attn_gain",
                                   "mlp_gain",
                                   "combined_gain",
                                   "ratio_mlp_attn",
                                   "cumulative_gain",
                                   "phase",
                                   "net",
                                   "attn_norm_in",
                                   "attn_norm_out",
                                   "mlp_norm_in",
                                   "mlp_norm_out",
                                   "attn_gain_ci_lo",
                                   "attn_gain_ci_hi",
                                   "mlp_gain_ci_lo",
                                   "mlp_gain_ci_hi",
                                   "combined_gain_ci_lo",
                                   "combined_gain_ci_hi",
                                   "attn_token_gain_q10",
                                   "attn_token_gain_median",
                                   "attn_token_gain_q90",
                                   "mlp_token_gain_q10",
                                   "mlp_token_gain_median",
                                   "mlp_token_gain_q90",
                                   "attn_update_ratio",
                                   "attn_update_cos",
                                   "mlp_update_ratio",
                                   "mlp_update_cos",
                                   "attn_entropy"};
  if (r.skip_first) cols.insert(cols.end(), {"attn_gain_skip_first", "mlp_gain_skip_first"});
  if (r.module) cols.insert(cols.end(), {"attn_module_gain", "mlp_module_gain"});
  if (r.experts) cols.insert(cols.end(), {"router_entropy", "expert_fraction_max", "expert_fraction_min"});
  if (run.weights)
    cols.insert(cols.end(), {"W_Q_fro", "W_K_fro", "W_V_fro", "W_O_fro", "W_in_fro", "W_gate_fro", "W_out_fro",
                             "W_V_spectral", "OV_spectral"});
  report::Table t(cols);
  for (int l = 0; l < s.n_layers; ++l) {
    const auto& e = r.layers[l];
    std::vector<report::Cell> row = {cell(l),
                                     cell(s.attn_gain[l]),
                                     cell(s.mlp_gain[l]),
                                     cell(s.combined[l]),
                                     cell(s.ratio[l]),
                                     cell(s.cumulative[l]),
                                     cell(s.phase[l]),
                                     cell(s.net[l]),
                                     cell(s.attn_norm_in[l]),
                                     cell(s.attn_norm_out[l]),
                                     cell(s.mlp_norm_in[l]),
                                     cell(s.mlp_norm_out[l]),
                                     cell(e.attn_ci.lo),
                                     cell(e.attn_ci.hi),
                                     cell(e.mlp_ci.lo),
                                     cell(e.mlp_ci.hi),
                                     cell(e.combined_ci.lo),
                                     cell(e.combined_ci.hi),
                                     cell(e.attn_token_gain.q10),
                                     cell(e.attn_token_gain.median),
                                     cell(e.attn_token_gain.q90),
                                     cell(e.mlp_token_gain.q10),
                                     cell(e.mlp_token_gain.median),
                                     cell(e.mlp_token_gain.q90),
                                     cell(e.attn_update_ratio),
                                     cell(e.attn_update_cos),
                                     cell(e.mlp_update_ratio),
                                     cell(e.mlp_update_cos),
                                     cell(e.attn_entropy)};
    if (r.skip_first) row.insert(row.end(), {cell(r.skip_first->attn_gain[l]), cell(r.skip_first->mlp_gain[l])});
    if (r.module) row.insert(row.end(), {cell(r.module->attn_gain[l]), cell(r.module->mlp_gain[l])});
    if (r.experts) {  // NaN (empty) on dense layers
      const auto& u = *r.experts;
      const auto it = std::find(u.layers.begin(), u.layers.end(), l);
      const double nan = std::nan("");
      if (it == u.layers.end()) {
        row.insert(row.end(), {cell(nan), cell(nan), cell(nan)});
      } else {
        const auto i = static_cast<size_t>(it - u.layers.begin());
        const auto& f = u.fraction[i];
        row.insert(row.end(), {cell(u.router_entropy[i]), cell(*std::max_element(f.begin(), f.end())),
                               cell(*std::min_element(f.begin(), f.end()))});
      }
    }
    if (run.weights) {
      const auto& n = (*run.weights)[l];
      const double gate = run.model->arch().gated_mlp ? n.mlp_gate : std::nan("");
      row.insert(row.end(), {cell(n.q), cell(n.k), cell(n.v), cell(n.o), cell(n.mlp_in), cell(gate), cell(n.mlp_out),
                             cell(n.v_spectral), cell(n.ov_spectral)});
    }
    t.add_row(row);
  }
  return t;
}

report::Table seed_layer_table(const gains::SeedSummary& s) {
  report::Table t({"Layer", "Attn Gain", "MLP Gain", "Combined", "Phase", "Net"});
  for (int l = 0; l < s.n_layers; ++l)
    t.add_row({cell(l), cell(fmt::format("{:.4f}", s.attn_gain[l])), cell(fmt::format("{:.4f}", s.mlp_gain[l])),
               cell(fmt::format("{:.4f}", s.combined[l])), cell(s.phase[l]), cell(s.net[l])});
  return t;
}

report::Table module_gains_table(const gains::Result& r) {
  report::Table t(
      {"Layer", "Attn (residual update)", "Attn (module output)", "MLP (residual update)", "MLP (module output)"});
  for (int l = 0; l < r.seed.n_layers; ++l)
    t.add_row({cell(l), cell(fmt::format("{:.4f}", r.seed.attn_gain[l])),
               cell(fmt::format("{:.4f}", r.module->attn_gain[l])), cell(fmt::format("{:.4f}", r.seed.mlp_gain[l])),
               cell(fmt::format("{:.4f}", r.module->mlp_gain[l]))});
  return t;
}

report::Table expert_usage_table(const gains::ExpertUsage& u) {
  report::Table t(
      {"Layer", "Router entropy (nats)", "of ln(experts)", "Most used expert", "Least used expert", "Unused experts"});
  for (size_t i = 0; i < u.layers.size(); ++i) {
    const auto& f = u.fraction[i];
    const auto hi = std::max_element(f.begin(), f.end()) - f.begin(),
               lo = std::min_element(f.begin(), f.end()) - f.begin();
    const auto unused = std::count(f.begin(), f.end(), 0.0);
    t.add_row({cell(u.layers[i]), cell(fmt::format("{:.4f}", u.router_entropy[i])),
               cell(fmt::format("{:.1f}%", 100 * u.router_entropy[i] / u.max_entropy)),
               cell(fmt::format("{} ({:.1f}% of tokens)", hi, 100 * f[hi])),
               cell(fmt::format("{} ({:.1f}% of tokens)", lo, 100 * f[lo])), cell(static_cast<int64_t>(unused))});
  }
  return t;
}

report::Table experts_table(const gains::ExpertUsage& u) {
  report::Table t({"layer", "expert", "fraction_of_tokens"});
  for (size_t i = 0; i < u.layers.size(); ++i)
    for (size_t e = 0; e < u.fraction[i].size(); ++e)
      t.add_row({cell(u.layers[i]), cell(static_cast<int64_t>(e)), cell(u.fraction[i][e])});
  return t;
}

std::string expert_usage_note() {
  return "Sparse mixture of experts: where the router sends the tokens (all prompts pooled). A token goes to "
         "several experts, so a layer's fractions sum to the experts per token; the router entropy is that of the "
         "softmax over all experts, ln(experts) for a uniform router. Every expert's fraction is in experts.csv.";
}

std::string post_norm_note() {
  return "This model normalises each sublayer's output before adding it to the residual stream. The gains above "
         "are residual-update gains (||hook_attn_out|| / ||ln1.hook_out||, after the norm); the module-output gains "
         "(before the norm: attn.hook_out, mlp.hook_out) are what forward hooks on the attention and MLP modules, "
         "as in the seeds, would measure on it.";
}

report::Table funnel_table(const gains::SeedSummary& s) {
  const int n = s.n_layers;
  auto pf = [](bool b) { return cell(b ? "PASS" : "FAIL"); };
  report::Table t({"Funnel test (seed 001)", "Result", "Detail"});
  t.add_row({cell("Attention always contracts"), pf(s.attention_always_contracts),
             cell(fmt::format("{}/{} layers", s.attn_contracting, n))});
  t.add_row({cell("MLP mostly contracts (>= n-3)"), pf(s.mlp_mostly_contracts),
             cell(fmt::format("{}/{} layers", s.mlp_contracting, n))});
  t.add_row({cell(fmt::format("Last layer (L{}) MLP expands", n - 1)), pf(s.last_layer_expands),
             cell(fmt::format("gain={:.3f}", s.mlp_gain.back()))});
  t.add_row(
      {cell("Last layer has max MLP gain"), pf(s.last_layer_is_max), cell(fmt::format("max at L{}", s.L_star_mlp))});
  t.add_row({cell("FUNNEL MODEL CONFIRMED"), pf(s.funnel_confirmed), cell("first three (the seed's code)")});
  return t;
}

compare::GainsSummary load_reference(const std::string& reference) {
  if (auto p = compare::preset(reference)) return *p;
  std::error_code ec;
  if (!std::filesystem::exists(std::filesystem::symlink_status(reference, ec)))
    fail("--reference: {}: no such file, and not a preset ({})", reference, fmt::join(compare::preset_names(), ", "));
  check_input_file("--reference", reference);
  return gains::summary_from_json(report::read_json(reference), reference);
}

report::Table comparison_table(const compare::GainsSummary& ref, const Run& run) {
  const compare::GainsSummary mine = gains::summary_of(run.result, run_info(run));
  report::Table t({"Metric", ref.model, mine.model});
  for (const compare::Metric& m : compare::metrics())
    t.add_row({cell(m.label), cell(m.value(ref)), cell(m.value(mine))});
  return t;
}

void write_gains_figures(const Run& run, const std::filesystem::path& dir,
                         std::optional<double> reference_last_mlp_gain) {
  using namespace report;
  const auto& s = run.result.seed;
  const int n = s.n_layers;
  const auto x = layer_axis(n);
  const std::string title = run.model->name() + (run.model->random_weights() ? " (RANDOM WEIGHTS)" : "");

  // Seed 000's four panels.
  Figure g;
  g.title = title + ": FFN vs Attention Expansion Analysis";
  g.columns = 2;
  // Panel 1 of both seeds: attention and MLP gain per layer.
  Panel p1 = panel("Attention vs MLP Gain per Layer", "Layer", "Gain (||output|| / ||input||)");
  p1.lines = {line("Attention Gain", x, s.attn_gain), line("MLP/FFN Gain", x, s.mlp_gain)};
  p1.hlines = {ref(1.0, "Neutral (gain=1)")};
  Panel p2 = panel("Output Norms per Layer", "Layer", "Mean Norm");
  p2.lines = {line("Attn Output Norm", x, s.attn_norm_out), line("MLP Output Norm", x, s.mlp_norm_out)};
  Panel p3 = panel("Relative Contribution: MLP vs Attention", "Layer", "MLP Gain / Attn Gain");
  p3.lines = {line("MLP / Attention", x, s.ratio)};
  p3.hlines = {ref(1.0, "Equal gains")};
  Panel p4 = panel("Net Effect: Attn x MLP Gain", "Layer", "Combined Gain");
  p4.lines = {line("Combined Gain (Attn x MLP)", x, s.combined)};
  p4.hlines = {ref(1.0, "")};
  g.panels = {p1, p2, p3, p4};
  g.render(dir / "gains.png", dir / "gains.svg");

  // Seed 001's four panels.
  Figure f;
  f.title = title + ": Funnel Analysis";
  f.columns = 2;
  const Panel& q1 = p1;
  Panel q2 = panel("MLP Gain: Normalized Layer Position", "Normalized Layer Position (0=first, 1=last)", "MLP Gain");
  q2.x_min = -0.05, q2.x_max = 1.05;
  std::vector<double> depth(n);
  for (int l = 0; l < n; ++l) depth[l] = compare::normalised_depth(l, n);
  q2.lines = {line(run.model->name() + " MLP", depth, s.mlp_gain)};
  q2.hlines = {ref(1.0, "")};
  if (reference_last_mlp_gain) q2.hlines.push_back(ref(*reference_last_mlp_gain, "reference last-layer MLP gain"));
  Panel q3 = panel("Net Effect: Attn x MLP Gain", "Layer", "Combined Gain (Attn x MLP)");
  BarSeries bars;
  bars.label = "Combined gain", bars.x = x, bars.y = s.combined;
  q3.bars = {bars};
  q3.hlines = {ref(1.0, "Neutral (gain=1)")};
  Panel q4 = panel("Information Funnel: Cumulative Compression", "Layer", "Cumulative Gain (product of all gains)");
  q4.log_y = true;
  q4.lines = {line("Cumulative Gain", x, s.cumulative, LineStyle::Lines),
              line(fmt::format("Bottleneck (L{})", s.bottleneck), {double(s.bottleneck)}, {s.cumulative[s.bottleneck]},
                   LineStyle::Points)};
  q4.hlines = {ref(1.0, "")};
  f.panels = {q1, q2, q3, q4};
  f.render(dir / "funnel.png", dir / "funnel.svg");
}

void write_gains_report(const Run& run, const std::filesystem::path& dir, const ordered_json& doc,
                        const std::optional<report::Table>& comparison, bool figures) {
  using namespace report;
  const auto& s = run.result.seed;
  Html h("streamgauge gains: " + run.model->name());
  for (auto& w : run.warnings) h.warning(w);
  h.paragraph(fmt::format("{} layers, d_model {}, {} ({}). {}", s.n_layers, run.model->arch().d_model,
                          plural(run.prompts.prompts.size(), "prompt"), run.prompts.source,
                          run.prompts.special_tokens_note));
  h.heading("Seed 000: per-layer gains and phases");
  h.paragraph(
      fmt::format("Attention min gain {:.4f} at layer {}; MLP max gain {:.4f} at layer {}. "
                  "Hypothesis (attention contracts, FFN expands) confirmed: {}.",
                  s.attn_gain[s.L_star_attn], s.L_star_attn, s.mlp_gain[s.L_star_mlp], s.L_star_mlp,
                  s.hypothesis_confirmed ? "yes" : "no"));
  h.table(seed_layer_table(s));
  if (run.result.module) {
    h.paragraph(post_norm_note());
    h.table(module_gains_table(run.result));
  }
  if (run.result.experts) {
    h.heading("Expert usage");
    h.paragraph(expert_usage_note());
    h.table(expert_usage_table(*run.result.experts));
  }
  if (figures) h.figure(dir / "gains.svg", "Seed 000's four panels");
  h.heading("Seed 001: funnel test");
  h.table(funnel_table(s));
  if (figures) h.figure(dir / "funnel.svg", "Seed 001's four panels");
  if (comparison) {
    h.heading("Cross-model comparison (seed 001)");
    h.table(*comparison);
  }
  h.heading("All per-layer metrics");
  h.paragraph(
      "Bootstrap 95% intervals over prompts, per-token gain quantiles, update-to-residual ratios and "
      "cosines, attention entropy" +
      std::string(run.weights ? ", weight norms" : "") +
      ". Definitions are in gains.json under \"definitions\"; the same table is layers.csv.");
  h.table(layers_table(run));
  h.provenance(doc["provenance"]);
  h.write(dir / "report.html");
}

void write_outputs(const Run& run, const std::filesystem::path& dir,
                   const std::optional<compare::GainsSummary>& reference, bool figures) {
  const auto doc = gains_json(run);
  std::optional<report::Table> comparison;
  std::optional<double> ref_last;
  if (reference) {
    comparison = comparison_table(*reference, run);
    if (reference->preset) ref_last = reference->mlp_last_layer_gain;
  }
  create_output_dir(dir);
  report::write_json(dir / "gains.json", doc);
  report::write_csv(dir / "layers.csv", layers_table(run));
  if (run.result.experts) report::write_csv(dir / "experts.csv", experts_table(*run.result.experts));
  if (figures) write_gains_figures(run, dir, ref_last);
  write_gains_report(run, dir, doc, comparison, figures);
}

}  // namespace sg::gains
