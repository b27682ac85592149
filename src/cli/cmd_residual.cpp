// streamgauge residual MODEL [MODEL ...] [--prompts PRESET|FILE] [--ids-file FILE] [--out DIR]
// Seed 004 (issue 5): the residual stream's norm at the embedding, after every
// block and after the final norm; the seed's two "last layer gain" numbers from
// HF's output_hidden_states tuple, explained; the true last-block and final-norm
// gains beside them; rho and H25. The numbers come from experiments/residual.h;
// this file runs the models one after another and prints and writes
// (residual.json, layers.csv, residual.png/.svg, report.html).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/engine.h"
#include "experiments/residual.h"
#include "hub/resolve.h"
#include "io/dtype.h"
#include "measure/run_prompts.h"
#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/error.h"

namespace sg::cli {
namespace {

namespace fs = std::filesystem;
using residual::ModelResult;

struct Opts {
  std::vector<std::string> models;
  PromptsInput prompts;
  std::string out;  // default: streamgauge-out/<model>/residual, or streamgauge-out/residual/<m1>+<m2>...
  bool no_figures = false;
};

// What we keep of one model after releasing it.
struct Analyzed {
  ModelResult r;
  std::string arg, dir, weight_dtype, config_sha256;
  int64_t n_params = 0;
  PromptSet prompts;
};

constexpr const char* kPrecision =
    "float32: activations computed in float32 with the weights in their stored dtype (BF16/F16 widened exactly "
    "to float32); norms, ratios and statistics accumulated in float64";

// The seed's strings, verbatim, and what they actually compare.
constexpr const char* kSeedWrongMetric = "hidden_states[-1] / hidden_states[-2] (includes final LN)";
constexpr const char* kSeedCorrectMetric = "hidden_states[-2] / hidden_states[-3] (true last layer gain)";
constexpr const char* kHfConvention =
    "HF output_hidden_states has L+1 entries: the embedding, the outputs of blocks 0..L-2, and the FINAL-NORMED "
    "output of block L-1 (the raw output of the last block is not in the tuple; same for gpt_neox, gptj, gpt2, "
    "llama, qwen2). So hidden_states[-1] / hidden_states[-2] = ||final_norm|| / ||resid_post[L-2]|| (block L-1 "
    "and the final norm together) and hidden_states[-2] / hidden_states[-3] = ||resid_post[L-2]|| / "
    "||resid_post[L-3]|| (the gain of block L-2, not of the last block).";
constexpr const char* kTruePoints =
    "True points: blocks.0.hook_resid_pre (embedding), blocks.{l}.hook_resid_post for every block, "
    "ln_final.hook_out; last-token L2 norms (as the seed) and mean-over-token norms. true last-block gain = "
    "||resid_post[L-1]|| / ||resid_post[L-2]||; final-norm gain = ||ln_final|| / ||resid_post[L-1]||; every "
    "ratio is the seed's a / (b + 1e-10); means and population standard deviations over prompts.";

std::string f4(double v) { return fmt::format("{:.4f}", v); }
const char* status(bool dampen) { return dampen ? "DAMPEN" : "EXPAND"; }

// Two text tables side by side (same number of lines: one row per model each).
std::string beside(const std::string& left, const std::string& right, const std::string& gap = "   |   ") {
  std::vector<std::string> a, b;
  std::istringstream la(left), lb(right);
  for (std::string line; std::getline(la, line);) a.push_back(line);
  for (std::string line; std::getline(lb, line);) b.push_back(line);
  size_t width = 0;
  for (const auto& l : a) width = std::max(width, l.size());
  std::string out;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    std::string l = i < a.size() ? a[i] : "";
    l.resize(width, ' ');
    out += l + gap + (i < b.size() ? b[i] : "") + "\n";
  }
  return out;
}

std::string point_name(int k, int n_layers) { return residual::point_id(k, n_layers).name(); }

std::vector<std::string> point_names(int n_layers) {
  std::vector<std::string> out;
  for (int k = 0; k < residual::n_points(n_layers); ++k) out.push_back(point_name(k, n_layers));
  return out;
}

// One model: load, run the prompts (run_prompts' chunks), reduce, release. `taken`
// counts the model names seen so far, so two models never share a results key.
Analyzed analyze_one(const std::string& arg, const PromptsInput& input, std::map<std::string, int>& taken) {
  auto model = load_model(arg);
  Analyzed a;
  a.arg = arg;
  a.dir = model->dir().string();
  a.weight_dtype = std::string(dtype_name(model->weight_dtype()));
  a.n_params = model->n_params();
  a.config_sha256 = report::sha256_file(model->dir() / "config.json");
  a.prompts = input.resolve(*model);
  std::string label = model->name();
  if (const int seen = taken[label]++; seen > 0) label += fmt::format(" ({})", seen + 1);

  const auto& arch = model->arch();
  residual::StreamNormReducer reducer(arch.n_layers, a.prompts.prompts.size());
  Reducer* reducers[] = {&reducer};
  Engine engine(*model);
  run_prompts(engine, a.prompts.sequences(), reducers, {.progress_label = "residual " + label});
  a.r = residual::analyze(label, arch, reducer.norms());
  return a;
}

// The seed's per-model printout (its verbose lines), with the true points added.
void print_model(const Analyzed& a) {
  const auto& r = a.r;
  const int L = r.arch.n_layers;
  fmt::print("\n{}\nModel: {}\n{}\n", std::string(70, '='), r.model, std::string(70, '='));
  fmt::print("\n Architecture:\n   n_heads = {}\n   d_head = {}\n   n_layers = {}\n   rho = {:.4f}\n", r.arch.n_heads,
             r.arch.d_head, L, r.arch.rho);
  fmt::print("   ({}, {} weights, {} parameters; prompts: {}; {})\n", r.model_type, a.weight_dtype,
             static_cast<long long>(a.n_params), a.prompts.source, a.prompts.special_tokens_note);
  for (size_t p = 0; p < r.seed.norms.size(); ++p) {
    const auto& pr = a.prompts.prompts[p];
    const auto& n = r.seed.norms[p];
    const auto& t = r.true_last.norms[p];
    fmt::print("\n  Prompt: '{}'\n  Hidden states: {} ({} tokens)\n",
               pr.text.empty() ? fmt::format("{}", fmt::join(pr.ids, ",")) : pr.text, r.seed.n_hidden_states,
               pr.ids.size());
    // The seed labels hidden_states[-3], [-2] as "L-2", "L-1"; they are resid_post[L-3], resid_post[L-2].
    if (n.size() >= 3)
      fmt::print(
          "    Norms (HF tuple): embed={:.1f}, ..., [-3]={:.1f} ({}), [-2]={:.1f} ({}), [-1]={:.1f} (final_norm)\n",
          n[0], n[n.size() - 3], residual::point_short_name(r.hf_points[n.size() - 3], L), n[n.size() - 2],
          residual::point_short_name(r.hf_points[n.size() - 2], L), n.back());
    fmt::print("    True points:      resid_post[L-2]={:.1f}, resid_post[L-1]={:.1f}, final_norm={:.1f}\n",
               L >= 2 ? t[L - 1] : t[0], t[L], t[L + 1]);
    fmt::print("    Gain (with final LN):    {:.4f}   [seed; really {}]\n", r.seed.gain_with_ln[p],
               r.seed.with_ln_meaning.meaning);
    fmt::print("    Gain (WITHOUT final LN): {:.4f}   [seed; really {}]\n", r.seed.gain_no_ln[p],
               r.seed.no_ln_meaning.meaning);
    fmt::print("    True last-block gain:    {:.4f}   final-norm gain: {:.4f}\n", r.true_last.last_block_gain[p],
               r.true_last.final_norm_gain[p]);
  }
  // The seed's per-model summary, then ours.
  const auto& s = r.seed;
  fmt::print("\n{}\nRESULTS for {}:\n{}\n", std::string(50, '='), r.model, std::string(50, '='));
  fmt::print("\n  WITH final LayerNorm (the seed's \"wrong\" metric):\n    Gain = {:.4f} +/- {:.4f}\n    Status: {}\n",
             s.with_ln.mean, s.with_ln.std, s.is_dampening_with_ln ? "DAMPENING" : "EXPANSION");
  fmt::print(
      "\n  WITHOUT final LayerNorm (the seed's \"correct\" metric; really block L-2, see above):\n    Gain = {:.4f} "
      "+/- {:.4f}\n    Status: {}\n",
      s.no_ln.mean, s.no_ln.std, s.is_dampening_no_ln ? "DAMPENING" : "EXPANSION");
  const auto &g = r.true_last, &m = r.true_mean;
  fmt::print(
      "\n  TRUE last block (L-1), last token:\n    Gain = {:.4f} +/- {:.4f}\n    Status: {}\n"
      "    (mean over tokens: {:.4f} +/- {:.4f}; final norm alone: {:.4f} +/- {:.4f})\n",
      g.last_block.mean, g.last_block.std, g.last_block.mean < 1.0 ? "DAMPENING" : "EXPANSION", m.last_block.mean,
      m.last_block.std, g.final_norm.mean, g.final_norm.std);
}

report::Table seed_table(const std::vector<Analyzed>& all) {
  report::Table t({"Model", "rho", "Gain+LN", "Status+LN", "Gain-LN", "Status-LN"});
  for (const auto& a : all) {
    const auto& s = a.r.seed;
    t.add_row({report::cell(a.r.model), report::cell(f4(a.r.arch.rho)), report::cell(f4(s.with_ln.mean)),
               report::cell(status(s.is_dampening_with_ln)), report::cell(f4(s.no_ln.mean)),
               report::cell(status(s.is_dampening_no_ln))});
  }
  return t;
}

report::Table true_table(const std::vector<Analyzed>& all) {
  report::Table t({"Model", "True G(L-1)", "+/-", "Status", "G(L-1) tok-mean", "FinalNorm G", "Seed Gain-LN is"});
  for (const auto& a : all) {
    const auto& g = a.r.true_last;
    t.add_row({report::cell(a.r.model), report::cell(f4(g.last_block.mean)), report::cell(f4(g.last_block.std)),
               report::cell(status(g.last_block.mean < 1.0)), report::cell(f4(a.r.true_mean.last_block.mean)),
               report::cell(f4(g.final_norm.mean)), report::cell(a.r.seed.no_ln_meaning.meaning)});
  }
  return t;
}

report::Table h25_table(const residual::H25Result& seed, const residual::H25Result& truth) {
  report::Table t({"Model", "rho", "H25 predicts", "Seed Gain-LN", "Seed actual", "Seed result", "True G(L-1)",
                   "True actual", "True result"});
  for (size_t i = 0; i < seed.rows.size(); ++i) {
    const auto &s = seed.rows[i], &g = truth.rows[i];
    t.add_row({report::cell(s.model), report::cell(f4(s.rho)), report::cell(status(s.predicts_dampen)),
               report::cell(f4(s.gain)), report::cell(status(s.dampens)), report::cell(s.correct ? "CORRECT" : "WRONG"),
               report::cell(f4(g.gain)), report::cell(status(g.dampens)),
               report::cell(g.correct ? "CORRECT" : "WRONG")});
  }
  return t;
}

std::string verdict_line(const char* which, const residual::H25Result& h) {
  return fmt::format("H25 accuracy ({}): {}/{} = {:.0f}%  ->  {}", which, h.correct, h.total, h.accuracy, h.verdict);
}

nlohmann::json h25_json(const residual::H25Result& h, const std::string& gain_definition) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : h.rows)
    rows.push_back({{"model", r.model},
                    {"rho", r.rho},
                    {"gain", r.gain},
                    {"predicts_dampen", r.predicts_dampen},
                    {"dampens", r.dampens},
                    {"correct", r.correct}});
  return {{"gain", gain_definition}, {"rows", rows},           {"correct", h.correct},
          {"total", h.total},        {"accuracy", h.accuracy}, {"verdict", h.verdict}};
}

nlohmann::json meaning_json(const residual::RatioMeaning& m, int n_layers) {
  return {{"formula", m.formula},
          {"meaning", m.meaning},
          {"numerator", point_name(m.numerator_point, n_layers)},
          {"denominator", point_name(m.denominator_point, n_layers)}};
}

nlohmann::json true_json(const residual::TrueGains& g) {
  return {{"norms", g.mean_norms},
          {"layer_gains", g.mean_layer_gains},
          {"last_block_gain_mean", g.last_block.mean},
          {"last_block_gain_std", g.last_block.std},
          {"final_norm_gain_mean", g.final_norm.mean},
          {"final_norm_gain_std", g.final_norm.std},
          {"is_dampening_last_block", g.last_block.mean < 1.0}};
}

// results[model]: the seed's keys (compute_residual_gains_detailed + compute_rho
// + model/path), then ours under their own keys.
nlohmann::json model_json(const Analyzed& a) {
  const auto& r = a.r;
  const auto& s = r.seed;
  const int L = r.arch.n_layers;
  nlohmann::json j = {{"gain_with_ln_mean", s.with_ln.mean},
                      {"gain_with_ln_std", s.with_ln.std},
                      {"gain_no_ln_mean", s.no_ln.mean},
                      {"gain_no_ln_std", s.no_ln.std},
                      {"all_layer_gains", s.all_layer_gains},
                      {"is_dampening_with_ln", s.is_dampening_with_ln},
                      {"is_dampening_no_ln", s.is_dampening_no_ln},
                      {"n_hidden_states", s.n_hidden_states},
                      {"model", r.model},
                      {"path", a.dir},
                      {"n_heads", r.arch.n_heads},
                      {"d_model", r.arch.d_model},
                      {"d_head", r.arch.d_head},
                      {"n_layers", L},
                      {"rho", r.arch.rho}};
  std::vector<std::string> hf_names;
  for (int k : r.hf_points) hf_names.push_back(point_name(k, L));
  j["model_type"] = r.model_type;
  j["weight_dtype"] = a.weight_dtype;
  j["n_params"] = a.n_params;
  j["hf_hidden_states"] = hf_names;
  j["seed_metrics_compare"] = {{"gain_with_ln", meaning_json(s.with_ln_meaning, L)},
                               {"gain_no_ln", meaning_json(s.no_ln_meaning, L)}};
  j["true_points"] = {
      {"points", point_names(L)}, {"last_token", true_json(r.true_last)}, {"mean_over_tokens", true_json(r.true_mean)}};
  nlohmann::json per = nlohmann::json::array();
  for (size_t p = 0; p < s.norms.size(); ++p) {
    const auto& pr = a.prompts.prompts[p];
    per.push_back({{"text", pr.text},
                   {"ids", pr.ids},
                   {"hf_norms", s.norms[p]},
                   {"hf_layer_gains", s.layer_gains[p]},
                   {"gain_with_ln", s.gain_with_ln[p]},
                   {"gain_no_ln", s.gain_no_ln[p]},
                   {"norms_last_token", r.true_last.norms[p]},
                   {"norms_mean_over_tokens", r.true_mean.norms[p]},
                   {"layer_gains_last_token", r.true_last.layer_gains[p]},
                   {"layer_gains_mean_over_tokens", r.true_mean.layer_gains[p]},
                   {"true_last_block_gain", r.true_last.last_block_gain[p]},
                   {"final_norm_gain", r.true_last.final_norm_gain[p]}});
  }
  j["per_prompt"] = per;
  return j;
}

// layers.csv: one row per model, prompt and true point; rows with an empty
// prompt are the means over prompts.
report::Table layers_table(const std::vector<Analyzed>& all) {
  report::Table t({"model", "prompt", "point", "capture_point", "short_name", "hf_index", "norm_last_token",
                   "norm_mean_over_tokens", "gain_last_token", "gain_mean_over_tokens", "hf_gain_last_token"});
  for (const auto& a : all) {
    const auto& r = a.r;
    const int L = r.arch.n_layers;
    const size_t P = r.seed.norms.size();
    for (size_t p = 0; p <= P; ++p) {  // p == P: means over prompts
      const bool mean = p == P;
      for (int k = 0; k < residual::n_points(L); ++k) {
        auto hf = std::find(r.hf_points.begin(), r.hf_points.end(), k);
        const int h = hf == r.hf_points.end() ? -1 : static_cast<int>(hf - r.hf_points.begin());
        auto gain = [&](const residual::TrueGains& g) {
          return k == 0 ? report::Cell{} : report::cell(mean ? g.mean_layer_gains[k - 1] : g.layer_gains[p][k - 1]);
        };
        report::Cell hf_gain;
        if (h > 0) hf_gain = report::cell(mean ? r.seed.all_layer_gains[h - 1] : r.seed.layer_gains[p][h - 1]);
        t.add_row({report::cell(r.model), mean ? report::Cell{} : report::cell(static_cast<int64_t>(p)),
                   report::cell(k), report::cell(point_name(k, L)), report::cell(residual::point_short_name(k, L)),
                   h < 0 ? report::Cell{} : report::cell(h),
                   report::cell(mean ? r.true_last.mean_norms[k] : r.true_last.norms[p][k]),
                   report::cell(mean ? r.true_mean.mean_norms[k] : r.true_mean.norms[p][k]), gain(r.true_last),
                   gain(r.true_mean), hf_gain});
      }
    }
  }
  return t;
}

// The seed's three panels (bars with/without final LN, rho vs gain, layer by
// layer), each with the true last-block gain added.
report::Figure make_figure(const std::vector<Analyzed>& all) {
  report::Figure f;
  f.title = "Residual gain: with vs without final norm (seed 004), and the true last-block gain";
  f.columns = 2;
  f.panel_width = 560;
  f.panel_height = 440;

  std::vector<std::string> names;
  for (size_t i = 0; i < all.size(); ++i) names.push_back(fmt::format("{} = {}", i, all[i].r.model));

  report::Panel bars;
  bars.title = "Comparison: metric matters";
  bars.x_label = fmt::format("model ({})", fmt::join(names, ", "));
  bars.y_label = "last layer gain";
  report::BarSeries with{"seed: with final LN", {}, {}}, without{"seed: without final LN (= block L-2)", {}, {}},
      truth{"true last block L-1", {}, {}};
  for (size_t i = 0; i < all.size(); ++i) {
    const double x = static_cast<double>(i);
    with.x.push_back(x), with.y.push_back(all[i].r.seed.with_ln.mean);
    without.x.push_back(x), without.y.push_back(all[i].r.seed.no_ln.mean);
    truth.x.push_back(x), truth.y.push_back(all[i].r.true_last.last_block.mean);
  }
  bars.bars = {with, without, truth};
  bars.hlines.push_back({1.0, "G = 1"});
  f.panels.push_back(std::move(bars));

  report::Panel rho;
  rho.title = "H25: rho vs gain";
  rho.x_label = "rho = n_heads / d_head";
  rho.y_label = "last layer gain (no final LN)";
  report::LineSeries seed_pts{"seed gain_no_ln (block L-2)", {}, {}, report::LineStyle::Points};
  report::LineSeries true_pts{"true last block L-1", {}, {}, report::LineStyle::Points};
  // The threshold rho = 0.2 stays in view beside the models' rho values.
  double lo = 1.0, hi = 1.0, rho_max = 0.3;
  for (const auto& a : all) {
    rho_max = std::max(rho_max, 1.15 * a.r.arch.rho);
    seed_pts.x.push_back(a.r.arch.rho), seed_pts.y.push_back(a.r.seed.no_ln.mean);
    true_pts.x.push_back(a.r.arch.rho), true_pts.y.push_back(a.r.true_last.last_block.mean);
    lo = std::min({lo, a.r.seed.no_ln.mean, a.r.true_last.last_block.mean});
    hi = std::max({hi, a.r.seed.no_ln.mean, a.r.true_last.last_block.mean});
  }
  report::LineSeries threshold{"rho = 0.2", {0.2, 0.2}, {lo, hi}, report::LineStyle::Dashed};
  rho.lines = {seed_pts, true_pts, threshold};
  rho.x_min = 0.0;
  rho.x_max = rho_max;
  rho.hlines.push_back({1.0, "G = 1"});
  f.panels.push_back(std::move(rho));

  report::Panel layers;
  layers.title = "Layer by layer (x = L-1: seed's ratio includes the final norm)";
  layers.x_label = "ratio index (= block index; true: x = L is the final norm)";
  layers.y_label = "gain";
  for (const auto& a : all) {
    const auto& r = a.r;
    report::LineSeries seed{fmt::format("{} (rho={:.2f}) seed", r.model, r.arch.rho), {}, {}};
    for (size_t i = 0; i < r.seed.all_layer_gains.size(); ++i)
      seed.x.push_back(static_cast<double>(i)), seed.y.push_back(r.seed.all_layer_gains[i]);
    report::LineSeries truth{fmt::format("{} true points", r.model), {}, {}, report::LineStyle::Dashed};
    for (size_t i = 0; i < r.true_last.mean_layer_gains.size(); ++i)
      truth.x.push_back(static_cast<double>(i)), truth.y.push_back(r.true_last.mean_layer_gains[i]);
    layers.lines.push_back(std::move(seed));
    layers.lines.push_back(std::move(truth));
  }
  layers.hlines.push_back({1.0, ""});
  f.panels.push_back(std::move(layers));
  return f;
}

// The default output folder: the model's own (as every command), or one named
// after all the models compared.
fs::path default_out(const std::vector<std::string>& args) {
  std::vector<std::string> names;
  for (const auto& arg : args) names.push_back(Model::name_of(hub::resolve_model(arg)));
  if (names.size() == 1) return fs::path("streamgauge-out") / names[0] / "residual";
  std::string joined;
  for (auto n : names) {
    std::replace(n.begin(), n.end(), '/', '_');
    joined += (joined.empty() ? "" : "+") + n;
  }
  return fs::path("streamgauge-out") / "residual" / joined;
}

void run(const Opts& o) {
  const fs::path out = (o.out.empty() ? default_out(o.models) : fs::path(o.out)).lexically_normal();
  // Every path first: a bad one is refused before any model is loaded.
  o.prompts.check();
  std::vector<std::string> files = {"residual.json", "layers.csv", "report.html"};
  if (!o.no_figures) files.insert(files.end(), {"residual.png", "residual.svg"});
  check_output_dir("--out", out, files);
  std::vector<Analyzed> all;
  std::map<std::string, int> taken;  // model name -> times used
  for (const auto& arg : o.models) {
    // One model in memory at a time: analyze_one releases it before returning.
    Analyzed a = analyze_one(arg, o.prompts, taken);
    print_model(a);
    all.push_back(std::move(a));
  }

  fmt::print("\n{}\nCOMPARISON: With vs Without Final LayerNorm (seed)   |   TRUE POINTS (last token)\n{}\n",
             std::string(90, '='), std::string(90, '='));
  const report::Table seed_t = seed_table(all), true_t = true_table(all);
  fmt::print("{}", beside(report::format_text_table(seed_t), report::format_text_table(true_t)));
  fmt::print(
      "\nIn HF's output_hidden_states (embed, resid_post[0..L-2], final_norm) the seed's\n"
      "  Gain+LN = hidden_states[-1]/[-2] = ||final_norm|| / ||resid_post[L-2]||: block L-1 and the final norm "
      "together;\n"
      "  Gain-LN = hidden_states[-2]/[-3] = ||resid_post[L-2]|| / ||resid_post[L-3]||: block L-2, not the last "
      "block.\n");

  std::vector<residual::H25Input> seed_in, true_in;
  for (const auto& a : all) {
    seed_in.push_back({a.r.model, a.r.arch.rho, a.r.seed.no_ln.mean});
    true_in.push_back({a.r.model, a.r.arch.rho, a.r.true_last.last_block.mean});
  }
  const auto h25_seed = residual::evaluate_h25(seed_in), h25_true = residual::evaluate_h25(true_in);
  fmt::print(
      "\n{}\nH25 VALIDATION\n{}\nH25: rho >= 0.2 -> DAMPENING, rho < 0.2 -> EXPANSION (actual: dampen if G < 1)\n\n",
      std::string(70, '='), std::string(70, '='));
  const report::Table h25_t = h25_table(h25_seed, h25_true);
  fmt::print("{}\n", report::format_text_table(h25_t));
  const std::string v_seed = verdict_line("seed metric gain_no_ln", h25_seed);
  const std::string v_true = verdict_line("true last-block gain", h25_true);
  fmt::print(" {}\n {}\n", v_seed, v_true);

  // Outputs.
  nlohmann::json prov_models = nlohmann::json::array();
  for (const auto& a : all)
    prov_models.push_back({{"argument", a.arg},
                           {"label", a.r.model},
                           {"directory", a.dir},
                           {"config_sha256", a.config_sha256},
                           {"weight_dtype", a.weight_dtype},
                           {"prompts", a.prompts.source},
                           {"special_tokens", a.prompts.special_tokens_note},
                           {"tokenizer", a.prompts.tokenizer}});
  const nlohmann::json prov = report::provenance({{"command", "residual"}, {"models", prov_models}});
  nlohmann::json prompts = nlohmann::json::array();
  for (const auto& p : all[0].prompts.prompts)
    prompts.push_back(p.text.empty() ? nlohmann::json(p.ids) : nlohmann::json(p.text));
  nlohmann::json results = nlohmann::json::object();
  for (const auto& a : all) results[a.r.model] = model_json(a);
  const nlohmann::json doc = {
      {"experiment", "Clean Residual Gain - NO FINAL LAYERNORM"},
      {"date", report::utc_timestamp()},
      {"prompts", prompts},
      {"precision", kPrecision},
      {"methodology",
       {{"wrong_metric", kSeedWrongMetric},
        {"correct_metric", kSeedCorrectMetric},
        {"hf_hidden_states", kHfConvention},
        {"true_points", kTruePoints}}},
      {"h25_verdict", h25_seed.verdict},
      {"h25_accuracy", h25_seed.accuracy},
      {"h25_true_verdict", h25_true.verdict},
      {"h25_true_accuracy", h25_true.accuracy},
      {"h25",
       {{"rule",
         "predict dampen if rho >= 0.2 else expand; actual dampen if gain < 1; VALIDATED at 100%, "
         "PARTIALLY_VALIDATED at >= 50%, else FALSIFIED"},
        {"seed_metric", h25_json(h25_seed, "gain_no_ln_mean (seed)")},
        {"true_metric", h25_json(h25_true, "true last-block gain ||resid_post[L-1]|| / ||resid_post[L-2]||")}}},
      {"results", results},
      {"provenance", prov}};
  create_output_dir(out);
  report::write_json(out / "residual.json", doc);
  report::write_csv(out / "layers.csv", layers_table(all));

  const fs::path svg = out / "residual.svg";
  if (!o.no_figures) make_figure(all).render(out / "residual.png", svg);

  std::vector<std::string> labels;
  for (const auto& a : all) labels.push_back(a.r.model);
  report::Html page(fmt::format("streamgauge residual: {}", fmt::join(labels, ", ")));
  page.paragraph(fmt::format("Prompts: {} ({}). Precision: {}.", all[0].prompts.source,
                             all[0].prompts.special_tokens_note, kPrecision));
  page.heading("What the seed measures");
  page.paragraph(std::string("Seed wrong_metric: ") + kSeedWrongMetric + "; correct_metric: " + kSeedCorrectMetric);
  page.paragraph(kHfConvention);
  page.paragraph(kTruePoints);
  page.heading("Comparison: with vs without final norm (seed)");
  page.table(seed_t);
  page.heading("True points (last token)");
  page.table(true_t);
  page.heading("H25");
  page.table(h25_t);
  page.paragraph(v_seed);
  page.paragraph(v_true);
  if (!o.no_figures) page.figure(svg, "The seed's three panels with the true last-block gain added");
  page.provenance(prov);
  page.write(out / "report.html");
  fmt::print("\nwrote {}/{{residual.json, layers.csv, report.html{}}}\n", display_dir(out),
             o.no_figures ? "" : ", residual.png, residual.svg");
}

}  // namespace

void add_residual(CLI::App& app) {
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand(
      "residual", "Residual-stream gain with and without the final norm, head density rho and H25 (seed 004)");
  cmd->footer(
      "Per model: L2 norms of the last token (and the mean over tokens) at the embedding, after every block and\n"
      "after the final norm; the seed's gain_with_ln / gain_no_ln computed from an exact emulation of HF's\n"
      "output_hidden_states tuple, with what they really compare; the true last-block and final-norm gains;\n"
      "rho = n_heads / d_head; H25 with the seed's metric and with the true one. Models are loaded one at a\n"
      "time. Writes residual.json, layers.csv (empty prompt = mean over prompts), residual.png/.svg and\n"
      "report.html to --out.\n\n"
      "Example:\n  streamgauge residual EleutherAI/pythia-410m EleutherAI/pythia-1.4b --out results/residual");
  cmd->add_option("MODEL", o->models, "Model directories or ORG/NAME[@REVISION] in the HuggingFace cache")->required();
  add_prompt_options(cmd, o->prompts, "canonical");
  cmd->add_option("--out", o->out,
                  "Output directory (default: ./streamgauge-out/<model>/residual; for several models "
                  "./streamgauge-out/residual/<model1>+<model2>...)");
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figure");
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
