#pragma once
// A training sweep's view (streamgauge sweep gains MODEL --revisions ...): one
// model's per-layer gains at several checkpoints, as a table and heat maps of
// gain by layer and checkpoint (issue 17; the seeds' next question: how the
// sublayer gains change over training).
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/compare.h"
#include "report/figure.h"
#include "report/table.h"

namespace sg::compare {

struct Checkpoint {
  std::string revision;  // e.g. "step1000"
  GainsSummary gains;
};

struct TrainingRun {
  std::string model;                    // ORG/NAME
  std::vector<Checkpoint> checkpoints;  // in the order given
};

// training.csv: model, revision, checkpoint (its index), layer, attention_gain, mlp_gain, combined_gain.
report::Table training_table(const std::vector<TrainingRun>& runs);
// Per model two panels: attention and MLP gain (log colour scale) by layer and checkpoint.
report::Figure training_figure(const std::vector<TrainingRun>& runs);
// training.csv and (figures) training.png/.svg into dir.
void write_training(const std::vector<TrainingRun>& runs, const std::filesystem::path& dir, bool figures);

}  // namespace sg::compare
