#include "experiments/align_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "engine/engine.h"
#include "experiments/align_capture.h"
#include "report/csv.h"
#include "report/html.h"
#include "report/json_io.h"
#include "report/npz.h"
#include "tokenize/tokenizer.h"
#include "util/error.h"
#include "util/paths.h"

namespace sg::align {
namespace {

namespace fs = std::filesystem;

// The seed's "methodology" value, verbatim.
constexpr const char* kMethodology = "Unit-normalized matched-vs-scrambled z-score on cumulative residual stream";

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

nlohmann::json variant_json(const AlignResult& r, bool standardized) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers) {
    const auto& s = standardized ? *l.standardized : *l.top_dims_removed;
    nlohmann::json j(layer_scores_json(s));
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
  return {{"layer_results", layers}, {"summary", nlohmann::json(seed_summary_json(summary))}};
}

}  // namespace

Inputs load_inputs(const PairsInput& o, const Model& model) {
  Inputs in;
  if (!o.pairs.empty()) {
    in.set = read_pairs_jsonl(o.pairs);
    in.source = o.pairs;
    in.describe = {{"file", fs::weakly_canonical(o.pairs).string()}, {"sha256", report::sha256_file(o.pairs)}};
  } else {
    in.set = preset_pairs(o.preset, o.n, o.seed);
    in.source = "preset:" + o.preset;
    in.describe = {{"preset", o.preset}, {"n", o.n}, {"seed", o.seed}};
    if (in.set.pairs.size() != o.n)
      warnf("--n {} gives {} pairs (the preset draws n // 5 per category, as the seed)", o.n, in.set.pairs.size());
  }
  const size_t n = in.set.pairs.size();
  in.describe["n_pairs"] = n;
  in.describe["form"] = in.set.form == PairForm::text ? "text" : "ids";
  if (n < 2) fail("{}: {} pair(s); the matched-vs-scrambled z-score needs at least 2", in.source, n);

  in.sequences.resize(2 * n);
  if (in.set.form == PairForm::text) {
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
report::Table layer_table(const AlignResult& r) {
  std::vector<std::string> cols;
  const nlohmann::ordered_json first = seed_layer_json(r.layers.at(0));
  for (const auto& [k, v] : first.items()) cols.push_back(k);
  cols.insert(cols.end(), {"marker_attn", "marker_mlp", "scrambled_mean_pre", "scrambled_std_pre"});
  const char* zs[] = {
      "z_pre", "z_post_attn", "z_post_mlp", "dz_attn", "dz_mlp", "z_attn_correction_alone", "z_mlp_correction_alone"};
  if (r.options.standardized)
    for (const char* z : zs) cols.push_back(std::string("std_") + z);
  if (r.options.drop_top_dims > 0)
    for (const char* z : zs) cols.push_back(fmt::format("drop{}_{}", r.options.drop_top_dims, z));
  report::Table t(cols);
  auto scores = [](const LayerScores& s) {
    return std::vector<report::Cell>{
        report::cell(s.pre.z),  report::cell(s.post_attn.z),  report::cell(s.post_mlp.z), report::cell(s.dz_attn),
        report::cell(s.dz_mlp), report::cell(s.attn_alone.z), report::cell(s.mlp_alone.z)};
  };
  for (const auto& l : r.layers) {
    std::vector<report::Cell> row;
    const nlohmann::ordered_json seed = seed_layer_json(l);
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

// The seed's SUMMARY block (its print statements) for one representation.
std::string summary_text(const Summary& s) {
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
report::Figure align_figure(const AlignResult& r, const std::string& model_name) {
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

void check(const Model& model, const RunOptions& o) {
  const ArchSpec& arch = model.arch();
  if (arch.n_layers < 1) fail("{}: the model has no layers", model.dir().string());
  if (o.drop_top_dims >= static_cast<size_t>(arch.d_model))
    fail("--drop-top-dims {} must be smaller than the model's hidden size ({})", o.drop_top_dims, arch.d_model);
  if (o.n_perms < 1) fail("--perms must be at least 1");
}

Run run(const Model& model, Inputs in, const RunOptions& o) {
  check(model, o);
  const ArchSpec& arch = model.arch();
  Run r;
  r.model = model.name();
  r.model_dir = fs::weakly_canonical(model.dir()).string();
  r.config_sha256 = report::sha256_file(model.dir() / "config.json");
  r.n_layers = arch.n_layers;
  r.d_model = arch.d_model;
  r.parallel_residual = arch.parallel_residual;
  r.inputs = std::move(in);
  for (const auto& s : r.inputs.sequences) r.n_tokens += static_cast<int64_t>(s.size());

  const auto t_capture = std::chrono::steady_clock::now();
  Engine engine(model);
  const PromptRun capture{.progress_label = "align", .between_layers = o.between_layers};
  r.tokens_per_forward = capture.max_tokens;
  r.rows = capture_last_tokens(engine, r.inputs.sequences, capture);
  r.capture_seconds = seconds_since(t_capture);

  r.options.n_perms = o.n_perms;
  r.options.parallel_residual = arch.parallel_residual;
  r.options.drop_top_dims = o.drop_top_dims;
  const auto t_stats = std::chrono::steady_clock::now();
  r.result = analyze(layer_pairs(r.rows), r.options);
  r.stats_seconds = seconds_since(t_stats);
  return r;
}

nlohmann::json to_json(const Run& run) {
  const AlignResult& r = run.result;
  nlohmann::json prov = report::provenance({{"command", "align"},
                                            {"model", run.model},
                                            {"model_dir", run.model_dir},
                                            {"config_sha256", run.config_sha256},
                                            {"pairs", run.inputs.describe},
                                            {"n_perms", run.options.n_perms},
                                            {"perm_seed", run.options.perm_seed},
                                            {"drop_top_dims", run.options.drop_top_dims},
                                            {"tokens_per_forward", run.tokens_per_forward},
                                            {"n_tokens", run.n_tokens},
                                            {"seconds", run.capture_seconds}});
  if (!run.inputs.tokenizer_note.empty()) prov["tokenizer"] = run.inputs.tokenizer_note;
  nlohmann::json layer_results = nlohmann::json::array();
  for (const auto& l : r.layers) layer_results.push_back(nlohmann::json(seed_layer_json(l)));
  nlohmann::json result = {
      {"model", run.model},
      {"n_problems", run.inputs.set.pairs.size()},
      {"n_layers", run.n_layers},
      {"hidden_size", run.d_model},
      {"methodology", kMethodology},
      {"layer_results", layer_results},
      {"summary", nlohmann::json(seed_summary_json(r.summary))},
      {"residual_topology",
       {{"parallel_residual", run.parallel_residual},
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
    result["top_dims_removed"]["k"] = run.options.drop_top_dims;
    result["top_dims_removed"]["description"] =
        "the same z-scores with the k largest-variance dimensions (over the 2N vectors) of each state removed";
  }
  return result;
}

std::vector<std::string> output_files(bool figures, bool save_deltas) {
  std::vector<std::string> files = {"align.json", "layers.csv"};
  if (figures) files.insert(files.end(), {"align.png", "align.svg"});
  if (save_deltas) files.push_back("attn_mlp_deltas.npz");
  files.push_back("report.html");
  return files;
}

void write_outputs(const Run& run, const fs::path& out, bool figures, bool save_deltas) {
  const AlignResult& r = run.result;
  const size_t n = run.inputs.set.pairs.size();
  const nlohmann::json doc = to_json(run);
  const report::Table table = layer_table(r);
  create_output_dir(out);
  const fs::path figure_svg = out / "align.svg";
  if (figures) align_figure(r, run.model).render(out / "align.png", figure_svg);
  if (save_deltas) {
    // The seed's np.savez_compressed(**save_dict), its names and order (zh = a, en = b).
    report::NpzWriter npz;
    const std::vector<int64_t> shape = {static_cast<int64_t>(n), run.d_model};
    const size_t count = n * static_cast<size_t>(run.d_model);
    for (int l = 0; l < run.n_layers; ++l)
      for (auto [side, first] : {std::pair{"zh", size_t{0}}, std::pair{"en", n}})
        for (auto [what, point] :
             {std::pair{"attn", LastTokenPoint::AttnOut}, std::pair{"mlp", LastTokenPoint::MlpOut}})
          npz.add_f32(fmt::format("{}_{}_delta_L{}", side, what, l), shape, {run.rows.row(l, point, first), count});
    npz.write(out / "attn_mlp_deltas.npz");
  }
  report::write_json(out / "align.json", doc);
  report::write_csv(out / "layers.csv", table);

  report::Html page(fmt::format("streamgauge align: {}", run.model));
  if (!r.post_attn_is_model_state) page.warning(r.post_attn_note);
  page.paragraph(
      fmt::format("{} pairs from {} (a = the seed's zh side, b = its en side); {} permutations; the "
                  "last token's residual stream, attention output and MLP output at every layer.",
                  n, run.inputs.source, run.options.n_perms));
  page.paragraph(std::string("Methodology (seed 003): ") + kMethodology + ".");
  page.heading("Summary");
  page.preformatted(summary_text(r.summary));
  if (r.summary_standardized) {
    page.heading("Beyond the seed: standardised dimensions");
    page.preformatted(summary_text(*r.summary_standardized));
  }
  if (r.summary_top_dims_removed) {
    page.heading(fmt::format("Beyond the seed: {} largest-variance dimensions removed", run.options.drop_top_dims));
    page.preformatted(summary_text(*r.summary_top_dims_removed));
  }
  if (figures) page.figure(figure_svg, "z through depth and dz per sublayer");
  page.heading("Per layer");
  std::string lines;
  for (const auto& l : r.layers) lines += seed_layer_line(l) + "\n";
  page.preformatted(lines);
  page.table(table, "layers.csv");
  page.provenance(doc["provenance"]);
  page.write(out / "report.html");
}

}  // namespace sg::align
