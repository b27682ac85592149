#include "experiments/compare_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "experiments/gains_json.h"
#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/error.h"
#include "util/paths.h"

namespace sg::compare {
namespace {

namespace fs = std::filesystem;

// Segmentation needs a few samples to say anything; fewer are reported as such.
constexpr size_t kMinSegmentationSamples = 4;
constexpr const char* kFigureNames[] = {"overlay_attention", "overlay_mlp", "overlay_combined", "segments", "scaling"};

nlohmann::json segmentation_json(const Segmentation& seg) {
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

nlohmann::json fit_json(const Metric& m, const LogLogFit& f, const std::vector<double>& predict_at) {
  nlohmann::json pj = nlohmann::json::array();
  for (double p : predict_at) {
    auto pr = predict(f, p);
    pj.push_back({{"params", p},
                  {"value", pr.value},
                  {"mean_interval", {pr.mean_low, pr.mean_high}},
                  {"prediction_interval", {pr.pred_low, pr.pred_high}}});
  }
  return {{"metric", m.name},
          {"n", f.n},
          {"a", f.a},
          {"alpha", f.alpha},
          {"exact", f.exact},
          {"alpha_interval", {f.alpha_low, f.alpha_high}},
          {"se_alpha", f.se_alpha},
          {"t_quantile", f.t_quantile},
          {"residual_sd", f.residual_sd},
          {"r_squared", f.r_squared},
          {"predictions", pj}};
}

report::Panel overlay_panel(const std::vector<Input>& inputs, const std::string& what,
                            const LayerSeries GainsSummary::*series) {
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
      ls.x.push_back(normalised_depth(s.layers[i], in.s.n_layers));
      ls.y.push_back(s.values[i]);
    }
    p.lines.push_back(std::move(ls));
  }
  p.hlines.push_back({1.0, "gain = 1"});
  return p;
}

// Each model's MLP gain with its fitted phases as a step line.
report::Figure segments_figure(const Study& st) {
  report::Figure f;
  f.title = "MLP phases: optimal piecewise-constant fit of ln gain";
  for (size_t i = 0; i < st.inputs.size(); ++i) {
    const auto& in = st.inputs[i];
    if (!st.phases[i].optimal) continue;
    report::Panel p;
    p.title = in.label;
    p.x_label = "layer";
    p.y_label = "MLP gain";
    p.log_y = true;
    const bool complete = in.s.mlp.complete(in.s.n_layers);
    report::LineSeries g{"MLP gain", {}, {}, complete ? report::LineStyle::LinesPoints : report::LineStyle::Points};
    for (size_t k = 0; k < in.s.mlp.layers.size(); ++k) {
      g.x.push_back(in.s.mlp.layers[k]);
      g.y.push_back(in.s.mlp.values[k]);
    }
    report::LineSeries steps{"segments", {}, {}, report::LineStyle::Dashed};
    for (const auto& s : st.phases[i].optimal->segments) {
      steps.x.insert(steps.x.end(), {s.first_layer - 0.5, s.last_layer + 0.5});
      steps.y.insert(steps.y.end(), {s.gain, s.gain});
    }
    p.lines = {g, steps};
    p.hlines.push_back({1.0, ""});
    f.panels.push_back(std::move(p));
  }
  f.columns = std::min<int>(2, std::max<int>(1, static_cast<int>(f.panels.size())));
  return f;
}

// The scaling fits: models, fitted line and predictions on log axes.
report::Figure scaling_figure(const Study& st) {
  const ParamBasis basis = st.options.basis;
  report::Figure sf;
  sf.title = fmt::format("Scaling fit against {} parameter count", basis_name(basis));
  sf.columns = std::min<int>(2, static_cast<int>(st.fits.size()));
  for (const auto& [m, f] : st.fits) {
    report::Panel p;
    p.title = fmt::format("{}: alpha = {:.3f}{}", m->label, f.alpha,
                          f.exact ? " (exact, 2 points)" : fmt::format(" [{:.3f}, {:.3f}]", f.alpha_low, f.alpha_high));
    p.x_label = "log10(parameters)";
    p.y_label = m->label;
    p.log_y = true;
    report::LineSeries pts{"models", {}, {}, report::LineStyle::Points};
    double lo = 1e300, hi = 0;
    for (const auto& in : st.inputs) {
      double x = params_of(in.s, basis);
      pts.x.push_back(std::log10(x));
      pts.y.push_back(m->value(in.s));
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
    report::LineSeries preds{"predictions", {}, {}, report::LineStyle::Points};
    for (double q : st.options.predict) {
      preds.x.push_back(std::log10(q));
      preds.y.push_back(predict(f, q).value);
      lo = std::min(lo, q);
      hi = std::max(hi, q);
    }
    report::LineSeries line{"fit", {}, {}, report::LineStyle::Lines};
    for (int i = 0; i <= 20; ++i) {
      double x = std::exp(std::log(lo) + (std::log(hi) - std::log(lo)) * i / 20.0);
      line.x.push_back(std::log10(x));
      line.y.push_back(predict(f, x).value);
    }
    p.lines = {pts, line};
    if (!preds.x.empty()) p.lines.push_back(preds);
    sf.panels.push_back(std::move(p));
  }
  return sf;
}

}  // namespace

Input load_input(const std::string& arg) {
  Input in;
  std::error_code ec;
  if (arg.rfind("preset:", 0) != 0 && fs::exists(fs::symlink_status(arg, ec))) {
    check_input_file("results", arg);  // a directory or an unreadable file: the real reason
    in.s = gains::summary_from_json(report::read_json(arg), arg);
    in.sha256 = report::sha256_file(arg);
  } else if (auto p = preset(arg.rfind("preset:", 0) == 0 ? arg.substr(7) : arg)) {
    in.s = *p;
  } else {
    fail("{}: no such file, and not a preset (presets: {})", arg, fmt::join(preset_names(), ", "));
  }
  return in;
}

void label_inputs(std::vector<Input>& inputs) {
  std::set<std::string> seen;
  for (auto& in : inputs) {
    const std::string key = in.sha256.empty() ? in.s.source : fs::weakly_canonical(in.s.source).string();
    if (!seen.insert(key).second) fail("{}: given twice", in.s.source);
    auto slash = in.s.model.rfind('/');
    in.label = slash == std::string::npos ? in.s.model : in.s.model.substr(slash + 1);
  }
  // Two results of the same model (e.g. different prompts) stay distinguishable.
  std::map<std::string, int> count;
  for (const auto& in : inputs) ++count[in.label];
  for (auto& in : inputs)
    if (count[in.label] > 1) in.label += " (" + fs::path(in.s.source).filename().string() + ")";
}

std::vector<Input> load_inputs(const std::vector<std::string>& args) {
  std::vector<Input> inputs;
  for (const auto& arg : args) inputs.push_back(load_input(arg));
  label_inputs(inputs);
  return inputs;
}

ParamBasis parse_basis(const std::string& s) {
  if (s == "total") return ParamBasis::Total;
  if (s == "non-embedding") return ParamBasis::NonEmbedding;
  if (s == "nominal") return ParamBasis::Nominal;
  fail("--params must be total, non-embedding or nominal (got '{}')", s);
}

void check(const std::vector<Input>& inputs, const Options& o) {
  for (const auto& m : o.metrics) find_metric(m);
  if (!(o.confidence > 0 && o.confidence < 1)) fail("--confidence must be between 0 and 1");
  if (o.max_segments < 1) fail("--max-segments must be at least 1");
  for (double p : o.predict)
    if (!(p > 0) || !std::isfinite(p)) fail("--predict: {} is not a positive parameter count", p);
  for (const auto& in : inputs)
    if (inputs.size() >= 2 && std::isnan(params_of(in.s, o.basis)))
      fail("{}: has no {} parameter count (needed by --params)", in.s.source, basis_name(o.basis));
}

Study study(std::vector<Input> inputs, const Options& options) {
  check(inputs, options);
  Study st;
  st.inputs = std::move(inputs);
  st.options = options;
  // Phase segmentation of ln(MLP gain).
  for (const auto& in : st.inputs) {
    ModelPhases ph;
    for (double v : in.s.mlp.values) ph.n_samples += !std::isnan(v);
    ph.complete = in.s.mlp.complete(in.s.n_layers);
    if (ph.n_samples < kMinSegmentationSamples) {
      ph.skipped = fmt::format("{} per-layer MLP gains, need at least {}", ph.n_samples, kMinSegmentationSamples);
    } else {
      ph.optimal = segment_by_bic(in.s.mlp, options.max_segments);
      if (!in.s.seed_phases.empty()) {
        ph.seed = evaluate_phases(in.s.mlp, in.s.seed_phases, ph.optimal->noise_variance);
        for (const auto& p : in.s.seed_phases) ph.seed_labels.push_back(p.label);
      }
    }
    st.phases.push_back(std::move(ph));
  }
  // Scaling fits.
  if (st.inputs.size() >= 2) {
    std::vector<GainsSummary> summaries;
    for (const auto& in : st.inputs) summaries.push_back(in.s);
    for (const auto& name : options.metrics) {
      const Metric& m = find_metric(name);
      st.fits.emplace_back(&m, fit_metric(summaries, m, options.basis, options.confidence));
    }
  }
  // Seed 002's own computation, when its two models are among the inputs.
  std::set<std::string> sources;
  for (const auto& in : st.inputs) sources.insert(in.s.source);
  if (sources.count("preset:pythia-1.4b") && sources.count("preset:pythia-6.9b")) st.seed002 = check_seed002();
  return st;
}

std::string format_value(const Metric& m, double v) {
  if (std::isnan(v)) return "-";
  std::string name = m.name;
  if (name == "n_layers") return fmt::format("{:.0f}", v);
  if (name.ends_with("_pct")) return fmt::format("{:.1f}%", v);
  return fmt::format("{:.3f}", v);
}

std::string format_params(double p) { return std::isnan(p) ? "-" : fmt::format("{:.4g}B", p / 1e9); }

std::string segments_text(const Segmentation& seg) {
  std::vector<std::string> parts;
  for (const auto& s : seg.segments) {
    std::string range = s.first_layer == s.last_layer ? fmt::format("L{}", s.first_layer)
                                                      : fmt::format("L{}-{}", s.first_layer, s.last_layer);
    parts.push_back(std::isnan(s.gain) ? range + " (no data)" : fmt::format("{} {:.3f}", range, s.gain));
  }
  return fmt::format("{}", fmt::join(parts, " | "));
}

report::Table metric_table(const Study& st) {
  std::vector<std::string> cols = {"Metric"};
  for (const auto& in : st.inputs) cols.push_back(in.label);
  report::Table t(cols);
  for (const auto& m : metrics()) {
    std::vector<report::Cell> row = {report::cell(m.label)};
    for (const auto& in : st.inputs) row.push_back(report::cell(format_value(m, m.value(in.s))));
    t.add_row(std::move(row));
  }
  return t;
}

report::Table csv_table(const Study& st) {
  std::vector<std::string> cols = {"model", "source", "n_params", "n_params_non_embedding", "n_params_nominal"};
  for (const auto& m : metrics()) cols.push_back(m.name);
  report::Table csv(cols);
  for (const auto& in : st.inputs) {
    std::vector<report::Cell> row = {report::cell(in.s.model), report::cell(in.s.source), report::cell(in.s.n_params),
                                     report::cell(in.s.n_params_non_embedding), report::cell(in.s.n_params_nominal)};
    for (const auto& m : metrics()) row.push_back(report::cell(m.value(in.s)));
    csv.add_row(std::move(row));
  }
  return csv;
}

nlohmann::json to_json(const Study& st) {
  const Options& o = st.options;
  nlohmann::json table = nlohmann::json::array();
  for (const auto& m : metrics()) {
    nlohmann::json values = nlohmann::json::array();
    for (const auto& in : st.inputs) values.push_back(m.value(in.s));
    table.push_back({{"metric", m.name}, {"label", m.label}, {"definition", m.definition}, {"values", values}});
  }
  nlohmann::json segs = nlohmann::json::array();
  for (size_t i = 0; i < st.inputs.size(); ++i) {
    const auto& in = st.inputs[i];
    const auto& ph = st.phases[i];
    nlohmann::json j = {{"model", in.s.model}, {"source", in.s.source}};
    if (!ph.skipped.empty()) j["skipped"] = ph.skipped;
    if (ph.optimal) j["optimal"] = segmentation_json(*ph.optimal);
    if (ph.seed) {
      j["seed_phases"] = segmentation_json(*ph.seed);
      for (size_t k = 0; k < ph.seed_labels.size(); ++k) j["seed_phases"]["segments"][k]["label"] = ph.seed_labels[k];
    }
    if (ph.complete)
      j["complete"] = true;
    else
      j["published_layers"] = in.s.mlp.layers;
    segs.push_back(j);
  }
  nlohmann::json fits = nlohmann::json::array();
  for (const auto& [m, f] : st.fits) fits.push_back(fit_json(*m, f, o.predict));

  nlohmann::json prov_inputs = nlohmann::json::array();
  for (const auto& in : st.inputs)
    prov_inputs.push_back(in.s.preset
                              ? nlohmann::json{{"source", in.s.source}, {"built_in", "seed 001/002 published values"}}
                          : in.sha256.empty() ? nlohmann::json{{"source", in.s.source}}
                                              : nlohmann::json{{"source", in.s.source}, {"sha256", in.sha256}});
  nlohmann::json models = nlohmann::json::array();
  for (const auto& in : st.inputs)
    models.push_back({{"model", in.s.model},
                      {"label", in.label},
                      {"source", in.s.source},
                      {"n_layers", in.s.n_layers},
                      {"n_params", in.s.n_params},
                      {"n_params_non_embedding", in.s.n_params_non_embedding},
                      {"n_params_nominal", in.s.n_params_nominal},
                      {"notes", in.s.notes},
                      {"warnings", in.s.warnings}});
  nlohmann::json result = {{"models", models},
                           {"table", table},
                           {"segmentation", {{"criterion", kSegmentationCriterion}, {"models", segs}}},
                           {"scaling", {{"params", basis_name(o.basis)}, {"confidence", o.confidence}, {"fits", fits}}},
                           {"provenance", report::provenance({{"command", "compare"},
                                                              {"inputs", prov_inputs},
                                                              {"params", basis_name(o.basis)},
                                                              {"confidence", o.confidence},
                                                              {"max_segments", o.max_segments},
                                                              {"predict", o.predict},
                                                              {"metrics", o.metrics}})}};
  if (st.seed002) {
    const auto& c = seed002_claim();
    nlohmann::json preds = nlohmann::json::array();
    for (const auto& row : st.seed002->rows)
      preds.push_back({{"model", row.label},
                       {"params", row.params},
                       {"law", row.law},
                       {"seed_quoted", row.quoted},
                       {"consistent", row.consistent}});
    result["seed_002"] = {{"alpha", st.seed002->fit.alpha},
                          {"quoted_alpha", c.quoted_alpha},
                          {"formula", "log(6.24/3.60) / log(6.9/1.4), nominal sizes"},
                          {"predictions", preds}};
  }
  return result;
}

std::vector<std::string> output_files(bool figures) {
  std::vector<std::string> files = {"compare.json", "compare.csv", "report.html"};
  if (figures)
    for (const char* f : kFigureNames) files.insert(files.end(), {std::string(f) + ".png", std::string(f) + ".svg"});
  return files;
}

void write_outputs(const Study& st, const fs::path& out, bool figures) {
  const Options& o = st.options;
  const nlohmann::json doc = to_json(st);
  create_output_dir(out);
  std::vector<std::pair<fs::path, std::string>> drawn;
  auto render = [&](const report::Figure& f, const std::string& name) {
    f.render(out / (name + ".png"), out / (name + ".svg"));
    drawn.emplace_back(out / (name + ".svg"), f.title);
  };
  if (figures) {
    auto overlay = [&](const std::string& file, const std::string& what, auto member) {
      report::Figure f;
      f.title = what + " gain against normalised depth";
      f.panels.push_back(overlay_panel(st.inputs, what, member));
      render(f, file);
    };
    overlay("overlay_attention", "Attention", &GainsSummary::attention);
    overlay("overlay_mlp", "MLP", &GainsSummary::mlp);
    overlay("overlay_combined", "Combined (attn x MLP)", &GainsSummary::combined);
    if (const auto seg = segments_figure(st); !seg.panels.empty()) render(seg, "segments");
    if (!st.fits.empty()) render(scaling_figure(st), "scaling");
  }
  report::write_json(out / "compare.json", doc);
  report::write_csv(out / "compare.csv", csv_table(st));

  std::vector<std::string> labels;
  for (const auto& in : st.inputs) labels.push_back(in.label);
  report::Html page(fmt::format("streamgauge compare: {}", fmt::join(labels, ", ")));
  for (const auto& in : st.inputs)
    for (const auto& w : in.s.warnings) page.warning(w);
  for (const auto& in : st.inputs)
    for (const auto& n : in.s.notes) page.paragraph(in.s.source + ": " + n);
  page.heading("Cross-model comparison (seed 001)");
  page.table(metric_table(st));
  page.heading("MLP phases");
  page.paragraph(std::string("Criterion: ") + kSegmentationCriterion);
  for (size_t i = 0; i < st.inputs.size(); ++i) {
    const auto& model = st.inputs[i].s.model;
    const auto& ph = st.phases[i];
    if (!ph.optimal) {
      page.paragraph(model + ": " + ph.skipped);
      continue;
    }
    page.paragraph(model + " optimal: " + segments_text(*ph.optimal));
    if (ph.seed)
      page.paragraph(fmt::format("{} seed phases ({}): {} (BIC {:.2f} vs optimal {:.2f})", model,
                                 fmt::join(ph.seed_labels, ", "), segments_text(*ph.seed), ph.seed->bic,
                                 ph.optimal->bic));
  }
  page.heading("Scaling fit");
  for (const auto& [m, f] : st.fits)
    page.paragraph(f.exact ? fmt::format("{}: alpha = {:.4f} ({} parameters; exact fit through two points, "
                                         "no confidence interval)",
                                         m->name, f.alpha, basis_name(o.basis))
                           : fmt::format("{}: alpha = {:.4f}, {:g}% interval [{:.4f}, {:.4f}] ({} parameters, n = {})",
                                         m->name, f.alpha, 100 * o.confidence, f.alpha_low, f.alpha_high,
                                         basis_name(o.basis), f.n));
  if (st.seed002) {
    std::string t = fmt::format(
        "Seed 002 computes alpha = log(6.24/3.60) / log(6.9/1.4) = {:.4f} (quoted ~{:.2f}). "
        "Its predictions: ",
        st.seed002->fit.alpha, seed002_claim().quoted_alpha);
    for (const auto& r : st.seed002->rows)
      t += fmt::format("{}: law {:.2f}x, quoted ~{}x{}; ", r.label, r.law, r.quoted,
                       r.consistent ? "" : " (inconsistent)");
    page.paragraph(t);
  }
  for (const auto& [path, caption] : drawn) page.figure(path, caption);
  page.provenance(doc["provenance"]);
  page.write(out / "report.html");
}

}  // namespace sg::compare
