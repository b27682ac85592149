// streamgauge compare RESULT... [--out DIR] [--predict 12e9,175e9] [--metric NAME]...
// Cross-model comparison of `gains` results (issue 7; seeds 001 and 002): the
// seed-001 table, overlays of the gains against normalised depth, an objective
// phase segmentation of the MLP gain, and a log-log scaling fit with intervals.
// The numbers come from experiments/compare.h; this file only gathers inputs,
// prints and writes (compare.json, compare.csv, figures, report.html).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/compare.h"
#include "experiments/gains_json.h"
#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/error.h"

namespace sg::cli {
namespace {

namespace fs = std::filesystem;
using compare::GainsSummary;

struct Opts {
  std::vector<std::string> inputs;
  std::string out = "streamgauge-out/compare";
  std::vector<double> predict;
  std::vector<std::string> metrics = {"mlp_last_layer_gain"};
  std::string params = "total";
  double confidence = 0.95;
  size_t max_segments = 8;
  bool no_figures = false;
};

struct Input {
  GainsSummary s;
  std::string label;   // short, unique: the legend and column name
  std::string sha256;  // of the file; empty for presets
};

// Segmentation needs a few samples to say anything; fewer are reported as such.
constexpr size_t kMinSegmentationSamples = 4;

std::vector<Input> load_inputs(const std::vector<std::string>& args) {
  std::vector<Input> inputs;
  std::set<std::string> seen;
  for (const auto& arg : args) {
    Input in;
    std::string name = arg.rfind("preset:", 0) == 0 ? arg.substr(7) : arg;
    std::error_code ec;
    if (arg.rfind("preset:", 0) != 0 && fs::exists(fs::symlink_status(arg, ec))) {
      check_input_file("results", arg);  // a directory or an unreadable file: the real reason
      in.s = gains::summary_from_json(report::read_json(arg), arg);
      in.sha256 = report::sha256_file(arg);
      name = fs::weakly_canonical(arg).string();
    } else if (auto p = compare::preset(name)) {
      in.s = *p;
    } else {
      fail("{}: no such file, and not a preset (presets: {})", arg, fmt::join(compare::preset_names(), ", "));
    }
    if (!seen.insert(name).second) fail("{}: given twice", arg);
    auto slash = in.s.model.rfind('/');
    in.label = slash == std::string::npos ? in.s.model : in.s.model.substr(slash + 1);
    inputs.push_back(std::move(in));
  }
  // Two results of the same model (e.g. different prompts) stay distinguishable.
  std::map<std::string, int> count;
  for (const auto& in : inputs) ++count[in.label];
  for (auto& in : inputs)
    if (count[in.label] > 1) in.label += " (" + fs::path(in.s.source).filename().string() + ")";
  return inputs;
}

compare::ParamBasis parse_basis(const std::string& s) {
  if (s == "total") return compare::ParamBasis::Total;
  if (s == "non-embedding") return compare::ParamBasis::NonEmbedding;
  if (s == "nominal") return compare::ParamBasis::Nominal;
  fail("--params must be total, non-embedding or nominal (got '{}')", s);
}

std::string fmt_value(const compare::Metric& m, double v) {
  if (std::isnan(v)) return "-";
  std::string name = m.name;
  if (name == "n_layers") return fmt::format("{:.0f}", v);
  if (name.ends_with("_pct")) return fmt::format("{:.1f}%", v);
  return fmt::format("{:.3f}", v);
}

std::string fmt_params(double p) { return std::isnan(p) ? "-" : fmt::format("{:.4g}B", p / 1e9); }

std::string segments_text(const compare::Segmentation& seg) {
  std::vector<std::string> parts;
  for (const auto& s : seg.segments) {
    std::string range = s.first_layer == s.last_layer ? fmt::format("L{}", s.first_layer)
                                                      : fmt::format("L{}-{}", s.first_layer, s.last_layer);
    parts.push_back(std::isnan(s.gain) ? range + " (no data)" : fmt::format("{} {:.3f}", range, s.gain));
  }
  return fmt::format("{}", fmt::join(parts, " | "));
}

nlohmann::json segmentation_json(const compare::Segmentation& seg) {
  nlohmann::json segs = nlohmann::json::array();
  for (const auto& s : seg.segments)
    segs.push_back({{"first_layer", s.first_layer},
                    {"last_layer", s.last_layer},
                    {"n_samples", s.n_samples},
                    {"mean_log_gain", s.mean_log_gain},
                    {"gain", s.gain}});
  return {{"segments", segs},
          {"rss", seg.rss},
          {"bic", seg.bic},
          {"n_samples", seg.n_samples},
          {"noise_variance", seg.noise_variance},
          {"bic_by_k", seg.bic_by_k}};
}

report::Panel overlay_panel(const std::vector<Input>& inputs, const std::string& what,
                            const compare::LayerSeries GainsSummary::*series) {
  report::Panel p;
  p.x_label = "normalised depth l/(L-1)";
  p.y_label = what + " gain ||out|| / ||in||";
  p.log_y = true;
  p.x_min = -0.03;  // depth is 0..1 for every model
  p.x_max = 1.03;
  for (const auto& in : inputs) {
    const auto& s = in.s.*series;
    report::LineSeries ls;
    bool complete = s.complete(in.s.n_layers);
    ls.label = complete ? in.label : in.label + " (published layers only)";
    ls.style = complete ? report::LineStyle::LinesPoints : report::LineStyle::Points;
    for (size_t i = 0; i < s.layers.size(); ++i) {
      ls.x.push_back(compare::normalised_depth(s.layers[i], in.s.n_layers));
      ls.y.push_back(s.values[i]);
    }
    p.lines.push_back(std::move(ls));
  }
  p.hlines.push_back({1.0, "gain = 1"});
  return p;
}

void run(const Opts& o) {
  std::vector<std::string> files = {"compare.json", "compare.csv", "report.html"};
  if (!o.no_figures)
    for (const char* f : {"overlay_attention", "overlay_mlp", "overlay_combined", "segments", "scaling"})
      files.insert(files.end(), {std::string(f) + ".png", std::string(f) + ".svg"});
  check_output_dir("--out", o.out, files);
  std::vector<Input> inputs = load_inputs(o.inputs);
  const compare::ParamBasis basis = parse_basis(o.params);
  std::vector<const compare::Metric*> fit_metrics;
  for (const auto& m : o.metrics) fit_metrics.push_back(&compare::find_metric(m));
  if (!(o.confidence > 0 && o.confidence < 1)) fail("--confidence must be between 0 and 1");
  if (o.max_segments < 1) fail("--max-segments must be at least 1");
  for (double p : o.predict)
    if (!(p > 0) || !std::isfinite(p)) fail("--predict: {} is not a positive parameter count", p);
  // Check before printing anything that the fit will have its parameter counts.
  for (const auto& in : inputs)
    if (inputs.size() >= 2 && std::isnan(compare::params_of(in.s, basis)))
      fail("{}: has no {} parameter count (needed by --params)", in.s.source, compare::basis_name(basis));

  std::vector<std::string> banners;
  for (const auto& in : inputs) {
    for (const auto& w : in.s.warnings) banners.push_back(w);
    for (const auto& n : in.s.notes) fmt::print("note: {}: {}\n", in.s.source, n);
  }
  for (const auto& b : banners) warn(b);

  // 1. The table, seed 001's layout on the terminal (metrics as rows), one row
  //    per model in the CSV (the tidy form pandas wants).
  std::vector<std::string> cols = {"Metric"};
  for (const auto& in : inputs) cols.push_back(in.label);
  report::Table terminal(cols);
  nlohmann::json table_json = nlohmann::json::array();
  for (const auto& m : compare::metrics()) {
    std::vector<report::Cell> row = {report::cell(m.label)};
    nlohmann::json values = nlohmann::json::array();
    for (const auto& in : inputs) {
      row.push_back(report::cell(fmt_value(m, m.value(in.s))));
      values.push_back(m.value(in.s));
    }
    terminal.add_row(std::move(row));
    table_json.push_back({{"metric", m.name}, {"label", m.label}, {"definition", m.definition}, {"values", values}});
  }
  std::vector<std::string> csv_cols = {"model", "source", "n_params", "n_params_non_embedding", "n_params_nominal"};
  for (const auto& m : compare::metrics()) csv_cols.push_back(m.name);
  report::Table csv(csv_cols);
  for (const auto& in : inputs) {
    std::vector<report::Cell> row = {report::cell(in.s.model), report::cell(in.s.source), report::cell(in.s.n_params),
                                     report::cell(in.s.n_params_non_embedding), report::cell(in.s.n_params_nominal)};
    for (const auto& m : compare::metrics()) row.push_back(report::cell(m.value(in.s)));
    csv.add_row(std::move(row));
  }
  fmt::print("\nCROSS-MODEL COMPARISON\n{}", report::format_text_table(terminal));

  // 3. Phase segmentation of ln(MLP gain).
  fmt::print("\nMLP PHASES (optimal piecewise-constant fit of ln gain; {})\n", compare::kSegmentationCriterion);
  nlohmann::json seg_json = nlohmann::json::array();
  std::map<std::string, compare::Segmentation> segmentations;
  for (const auto& in : inputs) {
    nlohmann::json j = {{"model", in.s.model}, {"source", in.s.source}};
    size_t n = 0;
    for (double v : in.s.mlp.values) n += !std::isnan(v);
    bool complete = in.s.mlp.complete(in.s.n_layers);
    if (n < kMinSegmentationSamples) {
      fmt::print("  {}: not enough per-layer MLP gains ({})\n", in.label, n);
      j["skipped"] = fmt::format("{} per-layer MLP gains, need at least {}", n, kMinSegmentationSamples);
    } else {
      auto seg = compare::segment_by_bic(in.s.mlp, o.max_segments);
      fmt::print("  {} ({}{}): {}\n", in.label, plural(seg.segments.size(), "segment"),
                 complete ? "" : fmt::format(", on {} of {} layers", n, in.s.n_layers), segments_text(seg));
      j["optimal"] = segmentation_json(seg);
      if (!in.s.seed_phases.empty()) {
        auto seed = compare::evaluate_phases(in.s.mlp, in.s.seed_phases, seg.noise_variance);
        std::vector<std::string> labels;
        for (const auto& p : in.s.seed_phases) labels.push_back(p.label);
        fmt::print("  {} seed phases ({}): {}; BIC {:.2f} vs optimal {:.2f}\n", in.label,
                   fmt::format("{}", fmt::join(labels, ", ")), segments_text(seed), seed.bic, seg.bic);
        j["seed_phases"] = segmentation_json(seed);
        for (size_t i = 0; i < labels.size(); ++i) j["seed_phases"]["segments"][i]["label"] = labels[i];
      }
      segmentations[in.s.source] = seg;
    }
    if (complete)
      j["complete"] = true;
    else
      j["published_layers"] = in.s.mlp.layers;
    seg_json.push_back(j);
  }

  // 4. Scaling fits.
  nlohmann::json fits_json = nlohmann::json::array();
  std::vector<std::pair<const compare::Metric*, compare::LogLogFit>> fits;
  fmt::print("\nSCALING FIT ln(metric) = a + alpha ln(params), {} parameter counts, {:g}% intervals\n",
             compare::basis_name(basis), 100 * o.confidence);
  if (inputs.size() < 2) {
    fmt::print("  needs at least two models\n");
  } else {
    std::vector<compare::GainsSummary> summaries;
    for (const auto& in : inputs) summaries.push_back(in.s);
    for (const auto* m : fit_metrics) {
      const auto f = compare::fit_metric(summaries, *m, basis, o.confidence);
      nlohmann::json pj = nlohmann::json::array();
      if (f.exact)
        fmt::print("  {}: alpha = {:.4f} (exact fit through two points: no interval)\n", m->name, f.alpha);
      else
        fmt::print("  {}: alpha = {:.4f} [{:.4f}, {:.4f}], n = {}, R^2 = {:.3f}\n", m->name, f.alpha, f.alpha_low,
                   f.alpha_high, f.n, f.r_squared);
      for (double p : o.predict) {
        auto pr = compare::predict(f, p);
        if (f.exact)
          fmt::print("    at {}: {:.3f}\n", fmt_params(p), pr.value);
        else
          fmt::print("    at {}: {:.3f}, prediction interval [{:.3f}, {:.3f}]\n", fmt_params(p), pr.value, pr.pred_low,
                     pr.pred_high);
        pj.push_back({{"params", p},
                      {"value", pr.value},
                      {"mean_interval", {pr.mean_low, pr.mean_high}},
                      {"prediction_interval", {pr.pred_low, pr.pred_high}}});
      }
      fits_json.push_back({{"metric", m->name},
                           {"n", f.n},
                           {"a", f.a},
                           {"alpha", f.alpha},
                           {"exact", f.exact},
                           {"alpha_interval", {f.alpha_low, f.alpha_high}},
                           {"se_alpha", f.se_alpha},
                           {"t_quantile", f.t_quantile},
                           {"residual_sd", f.residual_sd},
                           {"r_squared", f.r_squared},
                           {"predictions", pj}});
      fits.emplace_back(m, f);
    }
  }

  // Seed 002's own computation, when its two models are among the inputs.
  nlohmann::json seed_json;
  std::set<std::string> sources;
  for (const auto& in : inputs) sources.insert(in.s.source);
  if (sources.count("preset:pythia-1.4b") && sources.count("preset:pythia-6.9b")) {
    const auto& c = compare::seed002_claim();
    const compare::SeedScalingCheck check = compare::check_seed002();
    const auto& f = check.fit;
    fmt::print(
        "\nSEED 002 SCALING LAW, as the seed computes it: log({:.2f}/{:.2f})/log({:.1f}/{:.1f}) = {:.4f} "
        "(quoted ~{:.2f}; exact fit through two points, no interval)\n",
        c.gain_large, c.gain_small, c.params_large / 1e9, c.params_small / 1e9, f.alpha, c.quoted_alpha);
    nlohmann::json preds = nlohmann::json::array();
    for (const auto& row : check.rows) {
      fmt::print("  {:<16} law {:.2f}x, seed says ~{:g}x{}\n", row.label, row.law, row.quoted,
                 row.consistent ? "" : "  (does not follow from the seed's own law)");
      preds.push_back({{"model", row.label},
                       {"params", row.params},
                       {"law", row.law},
                       {"seed_quoted", row.quoted},
                       {"consistent", row.consistent}});
    }
    seed_json = {{"alpha", f.alpha},
                 {"quoted_alpha", c.quoted_alpha},
                 {"formula", "log(6.24/3.60) / log(6.9/1.4), nominal sizes"},
                 {"predictions", preds}};
  }

  // Outputs.
  const fs::path out(o.out);
  create_output_dir(out);
  nlohmann::json prov_inputs = nlohmann::json::array();
  for (const auto& in : inputs)
    prov_inputs.push_back(in.sha256.empty()
                              ? nlohmann::json{{"source", in.s.source}, {"built_in", "seed 001/002 published values"}}
                              : nlohmann::json{{"source", in.s.source}, {"sha256", in.sha256}});
  nlohmann::json prov = report::provenance({{"command", "compare"},
                                            {"inputs", prov_inputs},
                                            {"params", compare::basis_name(basis)},
                                            {"confidence", o.confidence},
                                            {"max_segments", o.max_segments},
                                            {"predict", o.predict},
                                            {"metrics", o.metrics}});
  nlohmann::json models = nlohmann::json::array();
  for (const auto& in : inputs)
    models.push_back({{"model", in.s.model},
                      {"label", in.label},
                      {"source", in.s.source},
                      {"n_layers", in.s.n_layers},
                      {"n_params", in.s.n_params},
                      {"n_params_non_embedding", in.s.n_params_non_embedding},
                      {"n_params_nominal", in.s.n_params_nominal},
                      {"notes", in.s.notes},
                      {"warnings", in.s.warnings}});
  nlohmann::json result = {
      {"models", models},
      {"table", table_json},
      {"segmentation", {{"criterion", compare::kSegmentationCriterion}, {"models", seg_json}}},
      {"scaling", {{"params", compare::basis_name(basis)}, {"confidence", o.confidence}, {"fits", fits_json}}},
      {"provenance", prov}};
  if (!seed_json.is_null()) result["seed_002"] = seed_json;

  std::vector<std::pair<fs::path, std::string>> figures;
  if (!o.no_figures) {
    auto overlay = [&](const std::string& file, const std::string& what, auto member) {
      report::Figure f;
      f.title = what + " gain against normalised depth";
      f.panels.push_back(overlay_panel(inputs, what, member));
      f.render(out / (file + ".png"), out / (file + ".svg"));
      figures.emplace_back(out / (file + ".svg"), f.title);
    };
    overlay("overlay_attention", "Attention", &GainsSummary::attention);
    overlay("overlay_mlp", "MLP", &GainsSummary::mlp);
    overlay("overlay_combined", "Combined (attn x MLP)", &GainsSummary::combined);

    // Each model's MLP gain with its fitted phases as a step line.
    report::Figure segfig;
    segfig.title = "MLP phases: optimal piecewise-constant fit of ln gain";
    segfig.columns = 2;
    for (const auto& in : inputs) {
      auto it = segmentations.find(in.s.source);
      if (it == segmentations.end()) continue;
      report::Panel p;
      p.title = in.label;
      p.x_label = "layer";
      p.y_label = "MLP gain";
      p.log_y = true;
      bool complete = in.s.mlp.complete(in.s.n_layers);
      report::LineSeries g{"MLP gain", {}, {}, complete ? report::LineStyle::LinesPoints : report::LineStyle::Points};
      for (size_t i = 0; i < in.s.mlp.layers.size(); ++i) {
        g.x.push_back(in.s.mlp.layers[i]);
        g.y.push_back(in.s.mlp.values[i]);
      }
      report::LineSeries steps{"segments", {}, {}, report::LineStyle::Dashed};
      for (const auto& s : it->second.segments) {
        steps.x.insert(steps.x.end(), {s.first_layer - 0.5, s.last_layer + 0.5});
        steps.y.insert(steps.y.end(), {s.gain, s.gain});
      }
      p.lines = {g, steps};
      p.hlines.push_back({1.0, ""});
      segfig.panels.push_back(std::move(p));
    }
    if (!segfig.panels.empty()) {
      segfig.columns = std::min<int>(2, static_cast<int>(segfig.panels.size()));
      segfig.render(out / "segments.png", out / "segments.svg");
      figures.emplace_back(out / "segments.svg", segfig.title);
    }

    // The scaling fits: models, fitted line and predictions on log axes.
    if (!fits.empty()) {
      report::Figure sf;
      sf.title = fmt::format("Scaling fit against {} parameter count", compare::basis_name(basis));
      sf.columns = std::min<int>(2, static_cast<int>(fits.size()));
      for (const auto& [m, f] : fits) {
        report::Panel p;
        p.title =
            fmt::format("{}: alpha = {:.3f}{}", m->label, f.alpha,
                        f.exact ? " (exact, 2 points)" : fmt::format(" [{:.3f}, {:.3f}]", f.alpha_low, f.alpha_high));
        p.x_label = "log10(parameters)";
        p.y_label = m->label;
        p.log_y = true;
        report::LineSeries pts{"models", {}, {}, report::LineStyle::Points};
        double lo = 1e300, hi = 0;
        for (const auto& in : inputs) {
          double x = compare::params_of(in.s, basis);
          pts.x.push_back(std::log10(x));
          pts.y.push_back(m->value(in.s));
          lo = std::min(lo, x);
          hi = std::max(hi, x);
        }
        report::LineSeries preds{"predictions", {}, {}, report::LineStyle::Points};
        for (double q : o.predict) {
          preds.x.push_back(std::log10(q));
          preds.y.push_back(compare::predict(f, q).value);
          lo = std::min(lo, q);
          hi = std::max(hi, q);
        }
        report::LineSeries line{"fit", {}, {}, report::LineStyle::Lines};
        for (int i = 0; i <= 20; ++i) {
          double x = std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / 20.0);
          line.x.push_back(std::log10(x));
          line.y.push_back(compare::predict(f, x).value);
        }
        p.lines = {pts, line};
        if (!preds.x.empty()) p.lines.push_back(preds);
        sf.panels.push_back(std::move(p));
      }
      sf.render(out / "scaling.png", out / "scaling.svg");
      figures.emplace_back(out / "scaling.svg", sf.title);
    }
  }

  report::write_json(out / "compare.json", result);
  report::write_csv(out / "compare.csv", csv);

  std::vector<std::string> labels;
  for (const auto& in : inputs) labels.push_back(in.label);
  report::Html page(fmt::format("streamgauge compare: {}", fmt::join(labels, ", ")));
  for (const auto& b : banners) page.warning(b);
  for (const auto& in : inputs)
    for (const auto& n : in.s.notes) page.paragraph(in.s.source + ": " + n);
  page.heading("Cross-model comparison (seed 001)");
  page.table(terminal);
  page.heading("MLP phases");
  page.paragraph(std::string("Criterion: ") + compare::kSegmentationCriterion);
  for (const auto& j : seg_json) {
    if (!j.contains("optimal")) {
      page.paragraph(j["model"].get<std::string>() + ": " + j.value("skipped", std::string()));
      continue;
    }
    std::string text;
    for (const auto& s : j["optimal"]["segments"])
      text += fmt::format("L{}-{}: {:.3f}   ", s["first_layer"].get<int>(), s["last_layer"].get<int>(),
                          s["gain"].get<double>());
    page.paragraph(j["model"].get<std::string>() + " optimal: " + text);
    if (j.contains("seed_phases")) {
      std::string seed;
      for (const auto& s : j["seed_phases"]["segments"])
        seed += fmt::format("{} L{}-{}   ", s["label"].get<std::string>(), s["first_layer"].get<int>(),
                            s["last_layer"].get<int>());
      page.paragraph(j["model"].get<std::string>() + " seed phases: " + seed +
                     fmt::format("(BIC {:.2f} vs optimal {:.2f})", j["seed_phases"]["bic"].get<double>(),
                                 j["optimal"]["bic"].get<double>()));
    }
  }
  page.heading("Scaling fit");
  for (const auto& [m, f] : fits)
    page.paragraph(f.exact ? fmt::format("{}: alpha = {:.4f} ({} parameters; exact fit through two points, "
                                         "no confidence interval)",
                                         m->name, f.alpha, compare::basis_name(basis))
                           : fmt::format("{}: alpha = {:.4f}, {:g}% interval [{:.4f}, {:.4f}] ({} parameters, n = {})",
                                         m->name, f.alpha, 100 * o.confidence, f.alpha_low, f.alpha_high,
                                         compare::basis_name(basis), f.n));
  if (!seed_json.is_null()) {
    std::string t = fmt::format("Seed 002 computes alpha = {} = {:.4f} (quoted ~0.35). Its predictions: ",
                                seed_json["formula"].get<std::string>(), seed_json["alpha"].get<double>());
    for (const auto& p : seed_json["predictions"])
      t += fmt::format("{}: law {:.2f}x, quoted ~{}x{}; ", p["model"].get<std::string>(), p["law"].get<double>(),
                       p["seed_quoted"].get<double>(), p["consistent"].get<bool>() ? "" : " (inconsistent)");
    page.paragraph(t);
  }
  for (const auto& [path, caption] : figures) page.figure(path, caption);
  page.provenance(prov);
  page.write(out / "report.html");
  fmt::print("\nwrote {}/{{compare.json, compare.csv, report.html{}}}\n", display_dir(out),
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
  cmd->add_option("--predict", o->predict, "Parameter counts to predict the fitted metrics at, e.g. 12e9,175e9")
      ->delimiter(',');
  std::vector<std::string> names;
  for (const auto& m : compare::metrics()) names.push_back(m.name);
  cmd->add_option("--metric", o->metrics,
                  fmt::format("Metric(s) to fit against parameter count ({})", fmt::join(names, ", ")))
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--params", o->params,
                  "Parameter count for the fit: total, non-embedding, or nominal (the size in the model's "
                  "name, as seed 002; presets only unless the result has n_params_nominal)")
      ->capture_default_str();
  cmd->add_option("--confidence", o->confidence, "Confidence level of the intervals")->capture_default_str();
  cmd->add_option("--max-segments", o->max_segments, "Largest number of phases considered")->capture_default_str();
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figures");
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
