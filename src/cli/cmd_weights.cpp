// streamgauge weights MODEL: per-layer weight norms (Frobenius of every
// projection, spectral norms of W_V and of the OV circuit).
#include <fmt/format.h>

#include <chrono>

#include "cli/commands.h"
#include "cli/common.h"
#include "experiments/weights.h"
#include "report/csv.h"
#include "report/json_io.h"
#include "report/terminal.h"
#include "util/progress.h"

namespace sg::cli {

void add_weights(CLI::App& app) {
  struct Opts {
    std::string model, out;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd =
      app.add_subcommand("weights", "Per-layer weight norms: ||W_Q||, ||W_K||, ||W_V||, ||W_O||, MLP, spectral");
  cmd->footer(
      "Frobenius norms of every projection (query/key/value rows of fused matrices separated), and the largest\n"
      "singular values of W_V and of the OV circuit W_O W_V (Lanczos: a lower bound of the largest singular\n"
      "value, within 1e-6 relative of a singular value). Writes weights.csv and weights.json to --out (default\n"
      "./streamgauge-out/<model>/weights); for a sparse mixture of experts also experts.csv, every expert's\n"
      "(and the shared expert's) MLP norms. The norms are cached per checkpoint (keyed by the weight files'\n"
      "path, size, mtime and header) in $XDG_CACHE_HOME/streamgauge/weight-norms; STREAMGAUGE_WEIGHT_CACHE=DIR\n"
      "moves the cache, STREAMGAUGE_WEIGHT_CACHE=off turns it off.\n\nExample:\n  streamgauge weights "
      "EleutherAI/pythia-1.4b");
  cmd->add_option("MODEL", opts->model, kModelHelp)->required();
  cmd->add_option("--out", opts->out, "Output directory");
  cmd->callback([opts] {
    const std::vector<std::string> files = {"weights.csv", "weights.json", "experts.csv"};
    if (!opts->out.empty()) check_output_dir("--out", opts->out, files);  // before the model is loaded
    auto model = load_model(opts->model);
    const auto out = opts->out.empty() ? default_out_dir(*model, "weights") : std::filesystem::path(opts->out);
    if (opts->out.empty()) check_output_dir("the default output directory", out, files);
    Progress progress("weight norms", model->arch().n_layers);
    const auto t0 = std::chrono::steady_clock::now();
    const auto cached = weights::cached_layer_norms(*model, [&](int) { progress.tick(); });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto& norms = cached.layers;
    const bool moe = model->arch().any_moe(), gated = model->arch().gated_mlp;
    std::vector<std::string> header = {"layer"};
    for (const auto& c : weights::columns(moe)) header.push_back(c);
    report::Table t(header);
    for (size_t l = 0; l < norms.size(); ++l) {
      std::vector<report::Cell> row = {report::cell(static_cast<int64_t>(l))};
      for (double v : weights::values(norms[l], gated, moe)) row.push_back(report::cell(v));
      t.add_row(row);
    }
    report::Table experts({"layer", "expert", "W_in", "W_gate", "W_out"});
    for (const auto& r : weights::expert_rows(norms))
      experts.add_row({report::cell(r.layer), report::cell(r.expert), report::cell(r.norms.mlp_in),
                       report::cell(r.norms.mlp_gate), report::cell(r.norms.mlp_out)});
    const auto j =
        weights::to_json(norms, model->name(), gated, moe,
                         report::provenance({{"model_path", std::filesystem::absolute(model->dir()).string()},
                                             {"weight_norms_source", cached.source},
                                             {"seconds", seconds}}));
    create_output_dir(out);
    report::write_csv(out / "weights.csv", t);
    report::write_json(out / "weights.json", j);
    if (moe) {
      report::write_csv(out / "experts.csv", experts);
      fmt::print("{}\n{}\nWrote {}/weights.csv, experts.csv and weights.json\n", report::format_text_table(t),
                 report::format_text_table(experts), display_dir(out));
    } else {
      fmt::print("{}\nWrote {}/weights.csv and weights.json\n", report::format_text_table(t), display_dir(out));
    }
  });
}

}  // namespace sg::cli
