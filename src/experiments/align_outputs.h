#pragma once
// The align experiment's run (seed 003) from a model and pairs to the files
// `streamgauge align` writes and `streamgauge.align()` returns: align.json (the
// seed's keys, then ours, with provenance; its schema is written here and
// nowhere else), layers.csv, align.png/.svg, report.html and the seed's
// attn_mlp_deltas.npz. Every number comes from experiments/alignment_stats.h.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/alignment_stats.h"
#include "experiments/problems.h"
#include "measure/last_token.h"
#include "model/model.h"
#include "report/figure.h"
#include "report/table.h"

namespace sg::align {

// Where the pairs come from: a JSONL file, or a preset drawn as the seed draws it.
struct PairsInput {
  std::string pairs;  // JSONL file ("" = the preset)
  std::string preset = "zh-en-math";
  size_t n = 200;
  int64_t seed = 42;
  std::string tokenizer;  // for text pairs ("" = the model's own)
};

// The pairs as token sequences: all a sides (the seed's zh), then all b sides
// (its en), so LastTokenRows holds each side as one N x d matrix per layer.
struct Inputs {
  PairSet set;
  std::string source;       // file path or "preset:zh-en-math"
  nlohmann::json describe;  // provenance of the pairs
  std::string tokenizer_note;
  std::vector<std::vector<int32_t>> sequences;
};

// Reads and tokenizes the pairs and checks every sequence against the model
// (names the pair and side of a bad one) before anything runs.
Inputs load_inputs(const PairsInput& input, const Model& model);

struct RunOptions {
  size_t n_perms = 500;
  size_t drop_top_dims = 0;
  std::function<void()> between_layers = {};  // engine/engine.h's RunOptions::between_layers
};

// One run: the last-token rows of both sides at every layer, and the statistics.
struct Run {
  std::string model, model_dir, config_sha256;
  int n_layers = 0;
  int64_t d_model = 0;
  bool parallel_residual = false;
  Inputs inputs;
  LastTokenRows rows;
  AlignOptions options;
  AlignResult result;
  int64_t n_tokens = 0, tokens_per_forward = 0;
  double capture_seconds = 0, stats_seconds = 0;
};
// Refuses options the model cannot take (run() checks them too).
void check(const Model& model, const RunOptions& options);
Run run(const Model& model, Inputs inputs, const RunOptions& options);

// align.json.
nlohmann::json to_json(const Run& run);
// layers.csv: the seed's per-layer keys, its markers and the variants' z-scores.
report::Table layer_table(const AlignResult& r);
// The seed's SUMMARY block (its print statements) for one representation.
std::string summary_text(const Summary& s);
// z through depth and dz per sublayer.
report::Figure align_figure(const AlignResult& r, const std::string& model_name);
// The files write_outputs() writes, in order.
std::vector<std::string> output_files(bool figures, bool save_deltas);
// align.json, layers.csv, the figure, attn_mlp_deltas.npz (save_deltas) and
// report.html into dir (created if missing).
void write_outputs(const Run& run, const std::filesystem::path& dir, bool figures, bool save_deltas);

}  // namespace sg::align
