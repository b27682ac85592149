#pragma once
// The statistics of the `align` experiment (seed 003, attn_vs_ffn_alignment.py):
// does a layer's attention or its MLP build the cross-lingual alignment of the
// last-token residual stream? Pure functions from captured last-token vectors to
// numbers; nothing here knows how the vectors were computed or where they go.
//
// Every metric is defined once below with the seed expression it reproduces.
// Arithmetic is double precision; the seed's numpy code ran in float32 on the same
// vectors, so the two agree to float32 rounding (the golden z-scores in
// shared/golden/alignment.json, computed in float64, are met to ~1e-15).
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sg::align {

// Non-owning view of a row-major rows x cols float32 matrix (one row per text).
struct MatrixView {
  const float* data = nullptr;
  size_t rows = 0;
  size_t cols = 0;
};

// The seed's `matched_vs_scrambled_z` builds a fresh np.random.RandomState(42) in
// every call and draws n_perms permutations of N from it in sequence, so every call
// with the same N sees the same permutations. They are drawn once here and reused.
class PermutationSet {
 public:
  PermutationSet(size_t n, size_t n_perms, uint32_t seed = 42);
  size_t n() const { return n_; }
  size_t count() const { return count_; }
  std::span<const uint32_t> operator[](size_t k) const { return {perms_.data() + k * n_, n_}; }

 private:
  size_t n_ = 0;
  size_t count_ = 0;
  std::vector<uint32_t> perms_;  // count_ x n_
};

// The return tuple of the seed's matched_vs_scrambled_z(zh, en, n_perms):
//   zh_u, en_u   = rows / np.linalg.norm(rows, axis=1)
//   matched      = np.mean(np.sum(zh_u * en_u, axis=1))
//   scrambled[k] = np.mean(np.sum(zh_u * en_u[perm_k], axis=1))
//   z            = (matched - scrambled.mean()) / scrambled.std()   (ddof = 0)
// A zero row, std == 0, or non-finite input give NaN/inf exactly as numpy would.
struct ZScore {
  double z = 0;
  double matched = 0;
  double scrambled_mean = 0;
  double scrambled_std = 0;
};

// matched_vs_scrambled_z on row-major N x d matrices, N = perms.n(). Computed
// through the N x N Gram matrix of the normalised rows (in row blocks, so memory
// stays bounded for large N): matched is its diagonal's mean and each permutation
// a gather-and-sum over it. `scrambled`, when given, receives the n_perms values.
ZScore matched_vs_scrambled_z(const double* a, const double* b, size_t d, const PermutationSet& perms,
                              std::vector<double>* scrambled = nullptr);

// The captured last-token vectors of one layer for one language.
struct LayerVectors {
  MatrixView h_pre;       // blocks.{l}.hook_resid_pre
  MatrixView attn_delta;  // blocks.{l}.hook_attn_out
  MatrixView mlp_delta;   // blocks.{l}.hook_mlp_out
};
// One layer, both languages: a plays the seed's zh side, b its en side.
struct LayerPair {
  LayerVectors a;
  LayerVectors b;
};

struct AlignOptions {
  size_t n_perms = 500;     // the seed's main() passes n_perms=500
  uint32_t perm_seed = 42;  // matched_vs_scrambled_z's RandomState(42)
  // Parallel-residual model (GPT-NeoX use_parallel_residual, GPT-J): h_pre + attn
  // is not a state the model ever has. The numbers are computed as the seed does
  // anyway; the result carries the label.
  bool parallel_residual = false;
  // Beyond the seed: z after standardising every dimension over the 2N vectors.
  bool standardized = true;
  // Beyond the seed: z with the k largest-variance dimensions removed (0 = off).
  size_t drop_top_dims = 0;
};

// The five z-scores (and their differences) of one layer under one representation
// of the vectors (raw = the seed's; or one of the beyond-the-seed variants).
struct LayerScores {
  ZScore pre;          // seed: z_pre        on h_pre
  ZScore post_attn;    // seed: z_post_attn  on h_pre + attn_delta
  ZScore post_mlp;     // seed: z_post_mlp   on h_pre + attn_delta + mlp_delta
  ZScore attn_alone;   // seed: z_attn_correction_alone on attn_delta
  ZScore mlp_alone;    // seed: z_mlp_correction_alone  on mlp_delta
  double dz_attn = 0;  // seed: dz_attn = z_post_attn - z_pre
  double dz_mlp = 0;   // seed: dz_mlp  = z_post_mlp - z_post_attn
  // The seed's per-layer markers: `if abs(dz_attn) > 1.5: marker += " *** ATTN"`,
  // `if abs(dz_mlp) > 1.5: marker += " *** MLP"`.
  bool marker_attn() const;
  bool marker_mlp() const;
};

// For the drop-top-dims variant: the dimensions removed from each state, largest
// variance (over the 2N vectors) first.
struct DroppedDims {
  std::vector<uint32_t> pre, post_attn, post_mlp, attn_alone, mlp_alone;
};

struct LayerResult {
  int layer = 0;
  LayerScores raw;  // the seed's numbers
  // Seed: np.linalg.norm(zh_X[l], axis=1).mean(), side a (zh) only, as the seed.
  double norm_h_pre = 0;       // key norm_h_pre
  double norm_attn_delta = 0;  // key norm_attn_delta
  double norm_mlp_delta = 0;   // key norm_mlp_delta
  std::optional<LayerScores> standardized;
  std::optional<LayerScores> top_dims_removed;
  DroppedDims dropped_dims;  // empty unless top_dims_removed
};

// The seed's SUMMARY block, over the layers of one representation.
struct Summary {
  int n_layers = 0;
  double total_dz_attn = 0;  // sum(r["dz_attn"] for r in layer_results)
  double total_dz_mlp = 0;   // sum(r["dz_mlp"] for r in layer_results)
  // total_dz_attn / total_dz_mlp; the seed prints it (and only if total_dz_mlp != 0)
  // but does not write it to its JSON.
  std::optional<double> ratio_attn_mlp;
  int attn_dominant_layers = 0;  // dz_attn > dz_mlp and dz_attn > 0.5
  int mlp_dominant_layers = 0;   // dz_mlp > dz_attn and dz_mlp > 0.5
  int attn_aligned_layers = 0;   // z_attn_correction_alone > 3.0
  int mlp_aligned_layers = 0;    // z_mlp_correction_alone > 3.0
};
Summary summarize(std::span<const LayerScores> layers);

struct AlignResult {
  size_t n_pairs = 0;
  size_t hidden_size = 0;
  AlignOptions options;
  // False for parallel-residual models: then post_attn (h_pre + attn_delta) is a
  // sum the seed forms, not a residual state of the model; post_attn_note says so.
  bool post_attn_is_model_state = true;
  std::string post_attn_note;
  std::vector<LayerResult> layers;
  Summary summary;                                  // the seed's, on raw
  std::optional<Summary> summary_standardized;      // same rules, standardised z
  std::optional<Summary> summary_top_dims_removed;  // same rules, top-k dropped
};

// One layer. Throws sg::Error (naming layer, side and matrix) if the six matrices
// do not all have N = perms.n() >= 2 rows and the same d >= 1 columns, or if
// drop_top_dims >= d.
LayerResult analyze_layer(int layer, const LayerPair& vectors, const AlignOptions& options,
                          const PermutationSet& perms);
// All layers in order (layer index = position), plus the summaries. Layers run
// on the OpenMP threads; every error is raised before any work starts.
AlignResult analyze(std::span<const LayerPair> layers, const AlignOptions& options);

// The seed's terminal line for one layer (its f-string, marker included), e.g.
// " L 3: z_pre=  4.2 → +attn= +1.6 → +mlp= -0.3 → z_post=  5.5 | attn_alone=  2.0 ..."
std::string seed_layer_line(const LayerResult& r);

// The seed's JSON objects with exactly its keys, in its order (NaN/inf -> null).
nlohmann::ordered_json seed_layer_json(const LayerResult& r);
// The seed's six summary keys, then "ratio_dz_attn_mlp" (printed by the seed, not
// written by it; null when total_dz_mlp == 0).
nlohmann::ordered_json seed_summary_json(const Summary& s);
// The same five z-scores of a variant, keyed like the seed (z_pre, ..., dz_mlp),
// plus the matched cosines.
nlohmann::ordered_json layer_scores_json(const LayerScores& s);

}  // namespace sg::align
