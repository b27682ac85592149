#include "experiments/training_outputs.h"

#include <fmt/format.h>

#include "report/csv.h"

namespace sg::compare {
namespace {

// series' value at `layer`, NaN when it has none (a preset's sparse layers).
double at_layer(const LayerSeries& series, int layer) {
  for (size_t i = 0; i < series.layers.size(); ++i)
    if (series.layers[i] == layer) return series.values[i];
  return kMissing;
}

int max_layers(const TrainingRun& run) {
  int n = 0;
  for (const auto& c : run.checkpoints) n = std::max(n, c.gains.n_layers);
  return n;
}

}  // namespace

report::Table training_table(const std::vector<TrainingRun>& runs) {
  report::Table t({"model", "revision", "checkpoint", "layer", "attention_gain", "mlp_gain", "combined_gain"});
  for (const auto& run : runs)
    for (size_t c = 0; c < run.checkpoints.size(); ++c) {
      const auto& g = run.checkpoints[c].gains;
      for (int l = 0; l < g.n_layers; ++l)
        t.add_row({report::cell(run.model), report::cell(run.checkpoints[c].revision),
                   report::cell(static_cast<int64_t>(c)), report::cell(l), report::cell(at_layer(g.attention, l)),
                   report::cell(at_layer(g.mlp, l)), report::cell(at_layer(g.combined, l))});
    }
  return t;
}

report::Figure training_figure(const std::vector<TrainingRun>& runs) {
  report::Figure f;
  f.title = "Sublayer gains over training";
  f.columns = 2;
  for (const auto& run : runs) {
    const int L = max_layers(run);
    for (auto [what, series] :
         {std::pair{"attention", &GainsSummary::attention}, std::pair{"MLP", &GainsSummary::mlp}}) {
      report::Panel p;
      p.title = fmt::format("{}: {} gain", run.model, what);
      p.x_label = "checkpoint";
      p.y_label = "layer";
      report::HeatMap h;
      h.z_label = fmt::format("{} gain", what);
      h.log_z = true;
      for (size_t c = 0; c < run.checkpoints.size(); ++c) {
        h.x.push_back(static_cast<double>(c));
        p.x_tick_labels.push_back(run.checkpoints[c].revision);
      }
      for (int l = 0; l < L; ++l) h.y.push_back(l);
      for (int l = 0; l < L; ++l)
        for (const auto& c : run.checkpoints) h.z.push_back(at_layer(c.gains.*series, l));
      p.heat = std::move(h);
      f.panels.push_back(std::move(p));
    }
  }
  return f;
}

void write_training(const std::vector<TrainingRun>& runs, const std::filesystem::path& dir, bool figures) {
  report::write_csv(dir / "training.csv", training_table(runs));
  if (figures) training_figure(runs).render(dir / "training.png", dir / "training.svg");
}

}  // namespace sg::compare
