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
#include "dist/comm.h"
#include "experiments/residual_outputs.h"
#include "hub/resolve.h"
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

// The seed's per-model printout (its verbose lines), with the true points added.
void print_model(const residual::ModelRun& a) {
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

// One model: load, run, release. `taken` counts the model names seen so far,
// so two models never share a results key.
residual::ModelRun analyze_one(const std::string& arg, const PromptsInput& input, std::map<std::string, int>& taken) {
  auto model = load_model(arg);
  std::string label = model->name();
  if (const int seen = taken[label]++; seen > 0) label += fmt::format(" ({})", seen + 1);
  residual::ModelRun a = residual::run_model(*model, input.resolve(*model), label);
  report_pipeline_stage(*model);
  a.arg = arg;
  return a;
}

void run(const Opts& o) {
  const fs::path out = (o.out.empty() ? default_out(o.models) : fs::path(o.out)).lexically_normal();
  // Every path first: a bad one is refused before any model is loaded.
  o.prompts.check();
  std::vector<std::string> files = {"residual.json", "layers.csv", "report.html"};
  if (!o.no_figures) files.insert(files.end(), {"residual.png", "residual.svg"});
  check_output_dir("--out", out, files);
  std::vector<residual::ModelRun> runs;
  std::map<std::string, int> taken;  // model name -> times used
  for (const auto& arg : o.models) {
    // One model in memory at a time: analyze_one releases it before returning.
    residual::ModelRun a = analyze_one(arg, o.prompts, taken);
    print_model(a);
    runs.push_back(std::move(a));
  }
  if (!dist::world().root()) return;  // several MPI ranks: rank 0 reports
  const residual::Study study = residual::study(std::move(runs));
  const auto& all = study.models;

  fmt::print("\n{}\nCOMPARISON: With vs Without Final LayerNorm (seed)   |   TRUE POINTS (last token)\n{}\n",
             std::string(90, '='), std::string(90, '='));
  const report::Table seed_t = residual::seed_table(all), true_t = residual::true_table(all);
  fmt::print("{}", beside(report::format_text_table(seed_t), report::format_text_table(true_t)));
  fmt::print(
      "\nIn HF's output_hidden_states (embed, resid_post[0..L-2], final_norm) the seed's\n"
      "  Gain+LN = hidden_states[-1]/[-2] = ||final_norm|| / ||resid_post[L-2]||: block L-1 and the final norm "
      "together;\n"
      "  Gain-LN = hidden_states[-2]/[-3] = ||resid_post[L-2]|| / ||resid_post[L-3]||: block L-2, not the last "
      "block.\n");

  fmt::print(
      "\n{}\nH25 VALIDATION\n{}\nH25: rho >= 0.2 -> DAMPENING, rho < 0.2 -> EXPANSION (actual: dampen if G < 1)\n\n",
      std::string(70, '='), std::string(70, '='));
  const auto &h25_seed = study.h25_seed, &h25_true = study.h25_true;
  fmt::print("{}\n", report::format_text_table(residual::h25_table(h25_seed, h25_true)));
  fmt::print(" {}\n {}\n", residual::verdict_line("seed metric gain_no_ln", h25_seed),
             residual::verdict_line("true last-block gain", h25_true));

  residual::write_outputs(study, out, !o.no_figures);
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
  add_pipeline_options(cmd);
  cmd->add_option("--out", o->out,
                  "Output directory (default: ./streamgauge-out/<model>/residual; for several models "
                  "./streamgauge-out/residual/<model1>+<model2>...)");
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figure");
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
