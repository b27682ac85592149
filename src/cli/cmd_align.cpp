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

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cli/commands.h"
#include "cli/common.h"
#include "engine/engine.h"
#include "experiments/align_capture.h"
#include "experiments/alignment_stats.h"
#include "experiments/problems.h"
#include "measure/last_token.h"
#include "report/csv.h"
#include "report/figure.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/npz.h"
#include "tokenize/tokenizer.h"
#include "util/error.h"

namespace sg::cli {
namespace {

namespace fs = std::filesystem;

// The seed's "methodology" value, verbatim.
constexpr const char* kMethodology = "Unit-normalized matched-vs-scrambled z-score on cumulative residual stream";

struct Opts {
  std::string model, pairs, preset = "zh-en-math", out, tokenizer;
  int n = 200;
  int64_t seed = 42;
  size_t perms = 500;
  size_t drop_top_dims = 0;
  bool save_deltas = false, no_figures = false;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The pairs as token sequences: all a sides (the seed's zh), then all b sides
// (its en), so LastTokenRows holds each side as one N x d matrix per layer.
struct Inputs {
  align::PairSet set;
  std::string source;       // file path or "preset:zh-en-math"
  nlohmann::json describe;  // provenance of the pairs
  std::string tokenizer_note;
  std::vector<std::vector<int32_t>> sequences;
};

Inputs load_inputs(const Opts& o, const Model& model) {
  Inputs in;
  if (!o.pairs.empty()) {
    in.set = align::read_pairs_jsonl(o.pairs);
    in.source = o.pairs;
    in.describe = {{"file", fs::weakly_canonical(o.pairs).string()}, {"sha256", report::sha256_file(o.pairs)}};
  } else {
    in.set = align::preset_pairs(o.preset, static_cast<size_t>(o.n), o.seed);
    in.source = "preset:" + o.preset;
    in.describe = {{"preset", o.preset}, {"n", o.n}, {"seed", o.seed}};
    if (in.set.pairs.size() != static_cast<size_t>(o.n))
      warnf("--n {} gives {} pairs (the preset draws n // 5 per category, as the seed)", o.n, in.set.pairs.size());
  }
  const size_t n = in.set.pairs.size();
  in.describe["n_pairs"] = n;
  in.describe["form"] = in.set.form == align::PairForm::text ? "text" : "ids";
  if (n < 2) fail("{}: {} pair(s); the matched-vs-scrambled z-score needs at least 2", in.source, n);

  in.sequences.resize(2 * n);
  if (in.set.form == align::PairForm::text) {
    if (o.tokenizer.empty() && !Tokenizer::found_in(model.dir()))
      fail(
          "{}: no tokenizer in the model directory; text pairs need one (--tokenizer PATH, or give token ids: "
          "--pairs FILE.jsonl with {{\"a_ids\": [...], \"b_ids\": [...]}} lines)",
          model.dir().string());
    auto tok = Tokenizer::load(o.tokenizer.empty() ? model.dir() : fs::path(o.tokenizer));
    in.tokenizer_note = tok->special_tokens_note();
    // The seed's tokenizer(prob["zh"]): HF's default add_special_tokens=True.
    for (size_t i = 0; i < n; ++i) {
      in.sequences[i] = tok->encode(in.set.pairs[i].a, true);
      in.sequences[n + i] = tok->encode(in.set.pairs[i].b, true);
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      in.sequences[i] = in.set.pairs[i].a_ids;
      in.sequences[n + i] = in.set.pairs[i].b_ids;
    }
  }

  // Checked here, before the first forward, so the message names the pair.
  const ArchSpec& a = model.arch();
  for (size_t s = 0; s < 2 * n; ++s) {
    const auto& seq = in.sequences[s];
    const auto where = fmt::format("{}: pair {} side {}", in.source, s % n + 1, s < n ? 'a' : 'b');
    if (seq.empty()) fail("{}: no tokens to run", where);
    const int64_t T = static_cast<int64_t>(seq.size());
    if (T > a.max_positions) fail("{}: {} tokens, more than the model's {} positions", where, T, a.max_positions);
    for (int32_t id : seq)
      if (id < 0 || id >= a.vocab_size)
        fail("{}: token id {} is outside the model's vocabulary (0..{})", where, id, a.vocab_size - 1);
  }
  return in;
}

// layers.csv (and the HTML table): the seed's per-layer keys, its markers, and
// the beyond-the-seed variants' z-scores beside them.
report::Table layer_table(const align::AlignResult& r) {
  std::vector<std::string> cols;
  const nlohmann::ordered_json first = align::seed_layer_json(r.layers.at(0));
  for (const auto& [k, v] : first.items()) cols.push_back(k);
  cols.insert(cols.end(), {"marker_attn", "marker_mlp", "scrambled_mean_pre", "scrambled_std_pre"});
  const char* zs[] = {
      "z_pre", "z_post_attn", "z_post_mlp", "dz_attn", "dz_mlp", "z_attn_correction_alone", "z_mlp_correction_alone"};
  if (r.options.standardized)
    for (const char* z : zs) cols.push_back(std::string("std_") + z);
  if (r.options.drop_top_dims > 0)
    for (const char* z : zs) cols.push_back(fmt::format("drop{}_{}", r.options.drop_top_dims, z));
  report::Table t(cols);
  auto scores = [](const align::LayerScores& s) {
    return std::vector<report::Cell>{
        report::cell(s.pre.z),  report::cell(s.post_attn.z),  report::cell(s.post_mlp.z), report::cell(s.dz_attn),
        report::cell(s.dz_mlp), report::cell(s.attn_alone.z), report::cell(s.mlp_alone.z)};
  };
  for (const auto& l : r.layers) {
    std::vector<report::Cell> row;
    const nlohmann::ordered_json seed = align::seed_layer_json(l);
    for (const auto& [k, v] : seed.items())
      row.push_back(v.is_number_integer() ? report::cell(v.get<int64_t>())
                    : v.is_null()         ? report::Cell{}
                                          : report::cell(v.get<double>()));
    row.insert(row.end(), {report::cell(int{l.raw.marker_attn()}), report::cell(int{l.raw.marker_mlp()}),
                           report::cell(l.raw.pre.scrambled_mean), report::cell(l.raw.pre.scrambled_std)});
    if (l.standardized)
      for (auto& c : scores(*l.standardized)) row.push_back(c);
    if (l.top_dims_removed)
      for (auto& c : scores(*l.top_dims_removed)) row.push_back(c);
    t.add_row(std::move(row));
  }
  return t;
}

nlohmann::json variant_json(const align::AlignResult& r, bool standardized) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers) {
    const auto& s = standardized ? *l.standardized : *l.top_dims_removed;
    nlohmann::json j(align::layer_scores_json(s));
    j["layer"] = l.layer;
    if (!standardized) {
      const auto& d = l.dropped_dims;
      j["dropped_dims"] = {{"pre", d.pre},
                           {"post_attn", d.post_attn},
                           {"post_mlp", d.post_mlp},
                           {"attn_alone", d.attn_alone},
                           {"mlp_alone", d.mlp_alone}};
    }
    layers.push_back(j);
  }
  const auto& summary = standardized ? *r.summary_standardized : *r.summary_top_dims_removed;
  return {{"layer_results", layers}, {"summary", nlohmann::json(align::seed_summary_json(summary))}};
}

// The seed's SUMMARY block (its print statements) for one representation.
std::string summary_text(const align::Summary& s) {
  std::string t = fmt::format("\n  Total Δz from attention: {:+.1f}\n  Total Δz from MLP:       {:+.1f}\n",
                              s.total_dz_attn, s.total_dz_mlp);
  t += s.ratio_attn_mlp ? fmt::format("  Ratio attn/mlp: {:.2f}\n", *s.ratio_attn_mlp) : "  MLP Δz is zero\n";
  t += fmt::format("\n  Layers where attention dominates: {}/{}\n  Layers where MLP dominates:       {}/{}\n",
                   s.attn_dominant_layers, s.n_layers, s.mlp_dominant_layers, s.n_layers);
  t += fmt::format(
      "\n  Layers with cross-lingual attn corrections (z>3): {}/{}\n"
      "  Layers with cross-lingual MLP corrections (z>3):  {}/{}\n",
      s.attn_aligned_layers, s.n_layers, s.mlp_aligned_layers, s.n_layers);
  return t;
}

// Left: z of the residual stream through depth, state by state (before layer l
// at x = l, after its attention at l + 1/2, after its MLP at l + 1, which is the
// next layer's "before"); the corrections alone as points. Right: dz per
// sublayer as bars.
report::Figure align_figure(const align::AlignResult& r, const std::string& model_name) {
  report::Panel z;
  z.title = "z (matched vs scrambled) through depth";
  z.x_label = "layer (x = l: before layer l; l + 1/2: after its attention; l + 1: after its MLP)";
  z.y_label = "z";
  report::LineSeries raw{"residual stream", {}, {}, report::LineStyle::LinesPoints};
  report::LineSeries std_line{"residual stream, standardised dims", {}, {}, report::LineStyle::Dashed};
  report::LineSeries attn_alone{"attn correction alone", {}, {}, report::LineStyle::Points};
  report::LineSeries mlp_alone{"MLP correction alone", {}, {}, report::LineStyle::Points};
  for (const auto& l : r.layers) {
    const double x = l.layer;
    for (auto [dx, zr] :
         {std::pair{0.0, l.raw.pre.z}, std::pair{0.5, l.raw.post_attn.z}, std::pair{1.0, l.raw.post_mlp.z}}) {
      raw.x.push_back(x + dx);
      raw.y.push_back(zr);
    }
    if (l.standardized)
      for (auto [dx, zs] : {std::pair{0.0, l.standardized->pre.z}, std::pair{0.5, l.standardized->post_attn.z},
                            std::pair{1.0, l.standardized->post_mlp.z}}) {
        std_line.x.push_back(x + dx);
        std_line.y.push_back(zs);
      }
    attn_alone.x.push_back(x + 0.5);
    attn_alone.y.push_back(l.raw.attn_alone.z);
    mlp_alone.x.push_back(x + 1.0);
    mlp_alone.y.push_back(l.raw.mlp_alone.z);
  }
  z.lines = {raw, attn_alone, mlp_alone};
  if (!std_line.x.empty()) z.lines.push_back(std_line);
  z.hlines.push_back({3.0, "z = 3"});

  report::Panel dz;
  dz.title = r.post_attn_is_model_state ? "dz per sublayer"
                                        : "dz per sublayer (parallel residual: h_pre + attn is not a model state)";
  dz.x_label = "layer";
  dz.y_label = "dz";
  report::BarSeries a{"dz attn", {}, {}}, m{"dz MLP", {}, {}};
  double lowest = 0;
  for (const auto& l : r.layers) {
    a.x.push_back(l.layer);
    a.y.push_back(l.raw.dz_attn);
    m.x.push_back(l.layer);
    m.y.push_back(l.raw.dz_mlp);
    for (double v : {l.raw.dz_attn, l.raw.dz_mlp})
      if (std::isfinite(v)) lowest = std::min(lowest, v);
  }
  dz.bars = {a, m};
  // Bars start at y = 0 unless told otherwise; dz can be negative.
  if (lowest < 0) dz.y_min = 1.1 * lowest;
  dz.hlines.push_back({0.0, ""});

  report::Figure f;
  f.title = fmt::format("{}: which sublayers build cross-lingual alignment ({} pairs)", model_name, r.n_pairs);
  f.columns = 2;
  f.panels = {z, dz};
  return f;
}

void run(const Opts& o) {
  if (o.perms < 1) fail("--perms must be at least 1");
  // Every path first: a bad one is refused before the model is loaded.
  std::vector<std::string> files = {"align.json", "layers.csv", "report.html"};
  if (!o.no_figures) files.insert(files.end(), {"align.png", "align.svg"});
  if (o.save_deltas) files.push_back("attn_mlp_deltas.npz");
  if (!o.pairs.empty()) check_input_file("--pairs", o.pairs);
  if (!o.out.empty()) check_output_dir("--out", o.out, files);
  auto model = load_model(o.model);
  const ArchSpec& arch = model->arch();
  if (arch.n_layers < 1) fail("{}: the model has no layers", model->dir().string());
  if (o.drop_top_dims >= static_cast<size_t>(arch.d_model))
    fail("--drop-top-dims {} must be smaller than the model's hidden size ({})", o.drop_top_dims, arch.d_model);
  Inputs in = load_inputs(o, *model);
  const size_t n = in.set.pairs.size();
  const fs::path out = o.out.empty() ? default_out_dir(*model, "align") : fs::path(o.out);
  if (o.out.empty()) check_output_dir("the default output directory", out, files);

  fmt::print("Model: {}, {} layers, d={}{}\n", model->name(), arch.n_layers, arch.d_model,
             arch.parallel_residual ? " (parallel residual)" : "");
  const auto t_capture = std::chrono::steady_clock::now();
  Engine engine(*model);
  const PromptRun capture{.progress_label = "align"};
  const LastTokenRows rows = capture_last_tokens(engine, in.sequences, capture);
  const double capture_s = seconds_since(t_capture);
  int64_t n_tokens = 0;
  for (const auto& s : in.sequences) n_tokens += static_cast<int64_t>(s.size());
  fmt::print("Ran {} pairs ({} tokens, last-token rows kept) in {:.1f} s\n", n, static_cast<long long>(n_tokens),
             capture_s);

  align::AlignOptions options;
  options.n_perms = o.perms;
  options.parallel_residual = arch.parallel_residual;
  options.drop_top_dims = o.drop_top_dims;
  const auto t_stats = std::chrono::steady_clock::now();
  const align::AlignResult r = align::analyze(align::layer_pairs(rows), options);
  const double stats_s = seconds_since(t_stats);

  const std::string rule(70, '=');
  fmt::print("\n{}\nANALYSIS: Attention vs FFN Contribution to Cross-Lingual Alignment\n{}\n", rule, rule);
  if (!r.post_attn_is_model_state) fmt::print("note: {}\n", r.post_attn_note);
  for (const auto& l : r.layers) fmt::print("{}\n", align::seed_layer_line(l));
  fmt::print("(*** ATTN / *** MLP: that sublayer moves the z-score by more than 1.5, the seed's marker)\n");
  fmt::print("\n{}\nSUMMARY\n{}\n{}", rule, rule, summary_text(r.summary));
  if (r.summary_standardized)
    fmt::print("\nBeyond the seed, every dimension standardised over the 2N vectors:{}",
               summary_text(*r.summary_standardized));
  if (r.summary_top_dims_removed)
    fmt::print("\nBeyond the seed, the {} largest-variance dimensions removed:{}", o.drop_top_dims,
               summary_text(*r.summary_top_dims_removed));
  fmt::print("\n(statistics: {} permutations x 5 states x {} layers in {:.2f} s)\n", o.perms, arch.n_layers, stats_s);

  // align.json: the seed's keys, then ours.
  nlohmann::json prov = report::provenance({{"command", "align"},
                                            {"model", model->name()},
                                            {"model_dir", fs::weakly_canonical(model->dir()).string()},
                                            {"config_sha256", report::sha256_file(model->dir() / "config.json")},
                                            {"pairs", in.describe},
                                            {"n_perms", o.perms},
                                            {"perm_seed", options.perm_seed},
                                            {"drop_top_dims", o.drop_top_dims},
                                            {"tokens_per_forward", capture.max_tokens},
                                            {"n_tokens", n_tokens}});
  if (!in.tokenizer_note.empty()) prov["tokenizer"] = in.tokenizer_note;
  nlohmann::json layer_results = nlohmann::json::array();
  for (const auto& l : r.layers) layer_results.push_back(nlohmann::json(align::seed_layer_json(l)));
  nlohmann::json result = {
      {"model", model->name()},
      {"n_problems", n},
      {"n_layers", arch.n_layers},
      {"hidden_size", arch.d_model},
      {"methodology", kMethodology},
      {"layer_results", layer_results},
      {"summary", nlohmann::json(align::seed_summary_json(r.summary))},
      {"residual_topology",
       {{"parallel_residual", arch.parallel_residual},
        {"post_attn_is_model_state", r.post_attn_is_model_state},
        {"note", r.post_attn_is_model_state ? "h_pre + attn_out is the model's resid_mid" : r.post_attn_note}}},
      {"sides", {{"a", "the seed's zh (first of each pair)"}, {"b", "the seed's en (second of each pair)"}}},
      {"provenance", prov}};
  if (r.summary_standardized) {
    result["standardized"] = variant_json(r, true);
    result["standardized"]["description"] =
        "the same z-scores after standardising every dimension over the 2N vectors of each state";
  }
  if (r.summary_top_dims_removed) {
    result["top_dims_removed"] = variant_json(r, false);
    result["top_dims_removed"]["k"] = o.drop_top_dims;
    result["top_dims_removed"]["description"] =
        "the same z-scores with the k largest-variance dimensions (over the 2N vectors) of each state removed";
  }
  const report::Table table = layer_table(r);

  create_output_dir(out);
  std::vector<std::string> written = {"align.json", "layers.csv"};
  const fs::path figure_svg = out / "align.svg";
  if (!o.no_figures) {
    align_figure(r, model->name()).render(out / "align.png", figure_svg);
    written.push_back("align.png");
    written.push_back("align.svg");
  }
  if (o.save_deltas) {
    // The seed's np.savez_compressed(**save_dict), its names and order (zh = a, en = b).
    report::NpzWriter npz;
    const std::vector<int64_t> shape = {static_cast<int64_t>(n), arch.d_model};
    const size_t count = n * static_cast<size_t>(arch.d_model);
    for (int l = 0; l < arch.n_layers; ++l)
      for (auto [side, first] : {std::pair{"zh", size_t{0}}, std::pair{"en", n}})
        for (auto [what, point] :
             {std::pair{"attn", LastTokenPoint::AttnOut}, std::pair{"mlp", LastTokenPoint::MlpOut}})
          npz.add_f32(fmt::format("{}_{}_delta_L{}", side, what, l), shape, {rows.row(l, point, first), count});
    npz.write(out / "attn_mlp_deltas.npz");
    written.push_back("attn_mlp_deltas.npz");
  }
  report::write_json(out / "align.json", result);
  report::write_csv(out / "layers.csv", table);

  report::Html page(fmt::format("streamgauge align: {}", model->name()));
  if (!r.post_attn_is_model_state) page.warning(r.post_attn_note);
  page.paragraph(
      fmt::format("{} pairs from {} (a = the seed's zh side, b = its en side); {} permutations; the "
                  "last token's residual stream, attention output and MLP output at every layer.",
                  n, in.source, o.perms));
  page.paragraph(std::string("Methodology (seed 003): ") + kMethodology + ".");
  page.heading("Summary");
  page.preformatted(summary_text(r.summary));
  if (r.summary_standardized) {
    page.heading("Beyond the seed: standardised dimensions");
    page.preformatted(summary_text(*r.summary_standardized));
  }
  if (r.summary_top_dims_removed) {
    page.heading(fmt::format("Beyond the seed: {} largest-variance dimensions removed", o.drop_top_dims));
    page.preformatted(summary_text(*r.summary_top_dims_removed));
  }
  if (!o.no_figures) page.figure(figure_svg, "z through depth and dz per sublayer");
  page.heading("Per layer");
  std::string lines;
  for (const auto& l : r.layers) lines += align::seed_layer_line(l) + "\n";
  page.preformatted(lines);
  page.table(table, "layers.csv");
  page.provenance(prov);
  page.write(out / "report.html");
  written.push_back("report.html");
  fmt::print("\nwrote {}/{{{}}}\n", display_dir(out), fmt::format("{}", fmt::join(written, ", ")));
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
  auto* pairs = cmd->add_option("--pairs", o->pairs, "JSONL file of pairs (text or token ids)");
  auto* preset =
      cmd->add_option("--preset", o->preset, fmt::format("Built-in pairs ({})", fmt::join(align::preset_names(), ", ")))
          ->capture_default_str();
  auto* n = cmd->add_option("--n", o->n, "Number of preset pairs (n // 5 per category, as the seed)")
                ->check(CLI::Range(1, 1000000))
                ->capture_default_str();
  auto* seed = cmd->add_option("--seed", o->seed, "Seed of the preset's generator (Python random.Random)")
                   ->capture_default_str();
  pairs->excludes(preset)->excludes(n)->excludes(seed);
  cmd->add_option("--perms", o->perms, "Permutations of the scrambled baseline (numpy RandomState(42))")
      ->capture_default_str();
  cmd->add_option("--drop-top-dims", o->drop_top_dims,
                  "Also report z with the k largest-variance dimensions removed (beyond the seed; 0 = off)")
      ->capture_default_str();
  cmd->add_option("--out", o->out, "Output directory (default: ./streamgauge-out/<model>/align)");
  cmd->add_option("--tokenizer", o->tokenizer, "Tokenizer file or directory for text pairs (default: the model's own)")
      ->check(CLI::ExistingPath);
  cmd->add_flag("--save-deltas", o->save_deltas,
                "Also write attn_mlp_deltas.npz (the seed's arrays: {zh,en}_{attn,mlp}_delta_L{l}, float32 [N, d])");
  cmd->add_flag("--no-figures", o->no_figures, "Skip the gnuplot figure");
  cmd->callback([o] { run(*o); });
}

}  // namespace sg::cli
