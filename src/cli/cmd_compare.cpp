// streamgauge compare RESULT... [--out DIR] [--predict 12e9,175e9] [--metric NAME]...
// Cross-model comparison of `gains` results (issue 7; seeds 001 and 002): the
// seed-001 table, overlays of the gains against normalised depth, an objective
// phase segmentation of the MLP gain, and a log-log scaling fit with intervals.
// The run and its files are experiments/compare_outputs.h's; this file parses
// and prints.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/compare_outputs.h"
#include "report/terminal.h"
#include "util/error.h"

namespace sg::cli {
namespace {

struct Opts {
  std::vector<std::string> inputs;
  std::string out = "streamgauge-out/compare";
  compare::Options options;
  std::string params = "total";
  bool no_figures = false;
};

void print_phases(const compare::Study& st) {
  fmt::print("\nMLP PHASES (optimal piecewise-constant fit of ln gain; {})\n", compare::kSegmentationCriterion);
  for (size_t i = 0; i < st.inputs.size(); ++i) {
    const auto& in = st.inputs[i];
    const auto& ph = st.phases[i];
    if (!ph.optimal) {
      fmt::print("  {}: not enough per-layer MLP gains ({})\n", in.label, ph.n_samples);
      continue;
    }
    fmt::print("  {} ({}{}): {}\n", in.label, plural(ph.optimal->segments.size(), "segment"),
               ph.complete ? "" : fmt::format(", on {} of {} layers", ph.n_samples, in.s.n_layers),
               compare::segments_text(*ph.optimal));
    if (ph.seed)
      fmt::print("  {} seed phases ({}): {}; BIC {:.2f} vs optimal {:.2f}\n", in.label, fmt::join(ph.seed_labels, ", "),
                 compare::segments_text(*ph.seed), ph.seed->bic, ph.optimal->bic);
  }
}

void print_fits(const compare::Study& st) {
  const auto& o = st.options;
  fmt::print("\nSCALING FIT ln(metric) = a + alpha ln(params), {} parameter counts, {:g}% intervals\n",
             compare::basis_name(o.basis), 100 * o.confidence);
  if (st.inputs.size() < 2) fmt::print("  needs at least two models\n");
  for (const auto& [m, f] : st.fits) {
    if (f.exact)
      fmt::print("  {}: alpha = {:.4f} (exact fit through two points: no interval)\n", m->name, f.alpha);
    else
      fmt::print("  {}: alpha = {:.4f} [{:.4f}, {:.4f}], n = {}, R^2 = {:.3f}\n", m->name, f.alpha, f.alpha_low,
                 f.alpha_high, f.n, f.r_squared);
    for (double p : o.predict) {
      auto pr = compare::predict(f, p);
      if (f.exact)
        fmt::print("    at {}: {:.3f}\n", compare::format_params(p), pr.value);
      else
        fmt::print("    at {}: {:.3f}, prediction interval [{:.3f}, {:.3f}]\n", compare::format_params(p), pr.value,
                   pr.pred_low, pr.pred_high);
    }
  }
  if (st.seed002) {
    const auto& c = compare::seed002_claim();
    fmt::print(
        "\nSEED 002 SCALING LAW, as the seed computes it: log({:.2f}/{:.2f})/log({:.1f}/{:.1f}) = {:.4f} "
        "(quoted ~{:.2f}; exact fit through two points, no interval)\n",
        c.gain_large, c.gain_small, c.params_large / 1e9, c.params_small / 1e9, st.seed002->fit.alpha, c.quoted_alpha);
    for (const auto& row : st.seed002->rows)
      fmt::print("  {:<16} law {:.2f}x, seed says ~{:g}x{}\n", row.label, row.law, row.quoted,
                 row.consistent ? "" : "  (does not follow from the seed's own law)");
  }
}

void run(Opts o) {
  check_output_dir("--out", o.out, compare::output_files(!o.no_figures));
  std::vector<compare::Input> inputs = compare::load_inputs(o.inputs);
  o.options.basis = compare::parse_basis(o.params);
  // Before printing anything: options the inputs cannot take.
  compare::check(inputs, o.options);
  for (const auto& in : inputs) {
    for (const auto& n : in.s.notes) fmt::print("note: {}: {}\n", in.s.source, n);
    for (const auto& w : in.s.warnings) warn(w);
  }
  const compare::Study st = compare::study(std::move(inputs), o.options);
  fmt::print("\nCROSS-MODEL COMPARISON\n{}", report::format_text_table(compare::metric_table(st)));
  print_phases(st);
  print_fits(st);
  compare::write_outputs(st, o.out, !o.no_figures);
  fmt::print("\nwrote {}/{{compare.json, compare.csv, report.html{}}}\n", display_dir(o.out),
             o.no_figures ? "" : ", figures (.png, .svg)");
}

}  // namespace

void add_compare(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("compare",
                         "Compare gains results across models: seed-001 table, overlays against normalised depth, "
                         "MLP phase segmentation, log-log scaling fit (seeds 001/002)");
  cmd->footer(
      "Examples:\n  streamgauge compare pythia-1.4b pythia-6.9b                  # the seeds' published values\n"
      "  streamgauge compare streamgauge-out/*/gains/gains.json --predict 12e9");
  cmd->add_option("results", o->inputs,
                  fmt::format("gains.json files, or presets with the seeds' published values ({})",
                              fmt::join(compare::preset_names(), ", ")))
      ->required();
  cmd->add_option("--out", o->out, "Output directory")->capture_default_str();
  cmd->add_option("--predict", o->options.predict, "Parameter counts to predict the fitted metrics at, e.g. 12e9,175e9")
      ->delimiter(',');
  std::vector<std::string> names;
  for (const auto& m : compare::metrics()) names.push_back(m.name);
  cmd->add_option("--metric", o->options.metrics,
                  fmt::format("Metric(s) to fit against parameter count ({})", fmt::join(names, ", ")))
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--params", o->params,
                  "Parameter count for the fit: total, non-embedding, or nominal (the size in the model's "
                  "name, as seed 002; presets only unless the result has n_params_nominal)")
      ->capture_default_str();
  cmd->add_option("--confidence", o->options.confidence, "Confidence level of the intervals")->capture_default_str();
  cmd->add_option("--max-segments", o->options.max_segments, "Largest number of phases considered")
      ->capture_default_str();
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figures");
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
