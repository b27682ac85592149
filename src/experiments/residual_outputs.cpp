#include "experiments/residual_outputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/engine.h"
#include "io/dtype.h"
#include "measure/run_prompts.h"
#include "report/csv.h"
#include "report/html.h"
#include "report/json_io.h"
#include "util/paths.h"

namespace sg::residual {
namespace {

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

std::string point_name(int k, int n_layers) { return point_id(k, n_layers).name(); }

std::vector<std::string> point_names(int n_layers) {
  std::vector<std::string> out;
  for (int k = 0; k < n_points(n_layers); ++k) out.push_back(point_name(k, n_layers));
  return out;
}

nlohmann::json h25_json(const H25Result& h, const std::string& gain_definition) {
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

nlohmann::json meaning_json(const RatioMeaning& m, int n_layers) {
  return {{"formula", m.formula},
          {"meaning", m.meaning},
          {"numerator", point_name(m.numerator_point, n_layers)},
          {"denominator", point_name(m.denominator_point, n_layers)}};
}

nlohmann::json true_json(const TrueGains& g) {
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
nlohmann::json model_json(const ModelRun& a) {
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

}  // namespace

ModelRun run_model(const Model& model, PromptSet prompts, const std::string& label,
                   const std::function<void()>& between_layers) {
  ModelRun a;
  a.dir = model.dir().string();
  a.weight_dtype = std::string(dtype_name(model.weight_dtype()));
  a.n_params = model.n_params();
  a.config_sha256 = report::sha256_file(model.dir() / "config.json");
  a.prompts = std::move(prompts);
  const auto& arch = model.arch();
  StreamNormReducer reducer(arch.n_layers, a.prompts.prompts.size());
  Reducer* reducers[] = {&reducer};
  Engine engine(model);
  run_prompts(engine, a.prompts.sequences(), reducers,
              {.progress_label = "residual " + label, .between_layers = between_layers});
  a.r = analyze(label, arch, reducer.norms());
  return a;
}

Study study(std::vector<ModelRun> runs) {
  Study s;
  s.models = std::move(runs);
  std::vector<H25Input> seed_in, true_in;
  for (const auto& a : s.models) {
    seed_in.push_back({a.r.model, a.r.arch.rho, a.r.seed.no_ln.mean});
    true_in.push_back({a.r.model, a.r.arch.rho, a.r.true_last.last_block.mean});
  }
  s.h25_seed = evaluate_h25(seed_in);
  s.h25_true = evaluate_h25(true_in);
  return s;
}

report::Table seed_table(const std::vector<ModelRun>& all) {
  report::Table t({"Model", "rho", "Gain+LN", "Status+LN", "Gain-LN", "Status-LN"});
  for (const auto& a : all) {
    const auto& s = a.r.seed;
    t.add_row({report::cell(a.r.model), report::cell(f4(a.r.arch.rho)), report::cell(f4(s.with_ln.mean)),
               report::cell(status(s.is_dampening_with_ln)), report::cell(f4(s.no_ln.mean)),
               report::cell(status(s.is_dampening_no_ln))});
  }
  return t;
}

report::Table true_table(const std::vector<ModelRun>& all) {
  report::Table t({"Model", "True G(L-1)", "+/-", "Status", "G(L-1) tok-mean", "FinalNorm G", "Seed Gain-LN is"});
  for (const auto& a : all) {
    const auto& g = a.r.true_last;
    t.add_row({report::cell(a.r.model), report::cell(f4(g.last_block.mean)), report::cell(f4(g.last_block.std)),
               report::cell(status(g.last_block.mean < 1.0)), report::cell(f4(a.r.true_mean.last_block.mean)),
               report::cell(f4(g.final_norm.mean)), report::cell(a.r.seed.no_ln_meaning.meaning)});
  }
  return t;
}

report::Table h25_table(const H25Result& seed, const H25Result& truth) {
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

std::string verdict_line(const char* which, const H25Result& h) {
  return fmt::format("H25 accuracy ({}): {}/{} = {:.0f}%  ->  {}", which, h.correct, h.total, h.accuracy, h.verdict);
}

// layers.csv: one row per model, prompt and true point; rows with an empty
// prompt are the means over prompts.
report::Table layers_table(const std::vector<ModelRun>& all) {
  report::Table t({"model", "prompt", "point", "capture_point", "short_name", "hf_index", "norm_last_token",
                   "norm_mean_over_tokens", "gain_last_token", "gain_mean_over_tokens", "hf_gain_last_token"});
  for (const auto& a : all) {
    const auto& r = a.r;
    const int L = r.arch.n_layers;
    const size_t P = r.seed.norms.size();
    for (size_t p = 0; p <= P; ++p) {  // p == P: means over prompts
      const bool mean = p == P;
      for (int k = 0; k < n_points(L); ++k) {
        auto hf = std::find(r.hf_points.begin(), r.hf_points.end(), k);
        const int h = hf == r.hf_points.end() ? -1 : static_cast<int>(hf - r.hf_points.begin());
        auto gain = [&](const TrueGains& g) {
          return k == 0 ? report::Cell{} : report::cell(mean ? g.mean_layer_gains[k - 1] : g.layer_gains[p][k - 1]);
        };
        report::Cell hf_gain;
        if (h > 0) hf_gain = report::cell(mean ? r.seed.all_layer_gains[h - 1] : r.seed.layer_gains[p][h - 1]);
        t.add_row({report::cell(r.model), mean ? report::Cell{} : report::cell(static_cast<int64_t>(p)),
                   report::cell(k), report::cell(point_name(k, L)), report::cell(point_short_name(k, L)),
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
report::Figure figure(const std::vector<ModelRun>& all) {
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

nlohmann::json to_json(const Study& study) {
  const auto& all = study.models;
  const auto &h25_seed = study.h25_seed, &h25_true = study.h25_true;
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
  nlohmann::json doc = {
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
  return doc;
}

void write_outputs(const Study& study, const std::filesystem::path& out, bool figures) {
  const auto& all = study.models;
  const nlohmann::json doc = to_json(study);
  const report::Table seed_t = seed_table(all), true_t = true_table(all),
                      h25_t = h25_table(study.h25_seed, study.h25_true);
  const std::string v_seed = verdict_line("seed metric gain_no_ln", study.h25_seed);
  const std::string v_true = verdict_line("true last-block gain", study.h25_true);
  create_output_dir(out);
  report::write_json(out / "residual.json", doc);
  report::write_csv(out / "layers.csv", layers_table(all));

  const std::filesystem::path svg = out / "residual.svg";
  if (figures) figure(all).render(out / "residual.png", svg);

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
  if (figures) page.figure(svg, "The seed's three panels with the true last-block gain added");
  page.provenance(doc["provenance"]);
  page.write(out / "report.html");
}

}  // namespace sg::residual
