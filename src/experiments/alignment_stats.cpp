#include "experiments/alignment_stats.h"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <exception>
#include <limits>
#include <numeric>

#include "experiments/pyrandom.h"
#include "experiments/seed_math.h"
#include "measure/reducer.h"
#include "util/error.h"

namespace sg::align {

PermutationSet::PermutationSet(size_t n, size_t n_perms, uint32_t seed) : n_(n), count_(n_perms) {
  if (n_perms == 0) fail("the alignment z-score needs at least one permutation (n_perms = 0)");
  rnd::NumpyRandomState rs(seed);
  perms_.reserve(n * n_perms);
  for (size_t k = 0; k < n_perms; ++k) {
    const auto p = rs.permutation(n);
    perms_.insert(perms_.end(), p.begin(), p.end());
  }
}

namespace {

using Rows = std::vector<double>;  // row-major N x d

// The Gram matrix is built in row blocks of at most this many doubles (32 MiB),
// so N = 200 is one block and a large N still fits in memory.
constexpr size_t kGramBudget = size_t{4} << 20;

// zh / np.linalg.norm(zh, axis=1, keepdims=True): each element divided by its
// row's L2 norm (a zero row gives NaN, as numpy's 0/0).
Rows normalized_rows(const double* x, size_t n, size_t d) {
  Rows u(x, x + n * d);
  for (size_t i = 0; i < n; ++i) {
    double* row = u.data() + i * d;
    double ss = 0;
    for (size_t k = 0; k < d; ++k) ss += row[k] * row[k];
    const double norm = std::sqrt(ss);
    for (size_t k = 0; k < d; ++k) row[k] /= norm;
  }
  return u;
}

// The Gram matrix kernel works on tiles of kTileRows rows of ua by kTileCols rows
// of ub, accumulated in registers over the whole dimension d. ub is first packed
// into panels of kTileCols rows: panel p holds, for each dimension k, the values
// ub[p * kTileCols + c][k] (c < kTileCols) side by side, zero past row n.
// 8 x 32 was measured fastest (N = 200, d = 2048, one thread) for AVX-512, AVX2
// and SSE2 builds alike: 3.3 / 10 / 14 ms per Gram, against 18 ms for 4 x 8.
constexpr size_t kTileRows = 8;
constexpr size_t kTileCols = 32;
// Multiply-adds from which the Gram kernel runs on several threads (~1 ms of work).
constexpr size_t kParallelWork = size_t{4} << 20;

Rows pack_panels(const Rows& ub, size_t n, size_t d) {
  const size_t panels = (n + kTileCols - 1) / kTileCols;
  Rows packed(panels * d * kTileCols, 0.0);
  for (size_t j = 0; j < n; ++j) {
    double* panel = packed.data() + (j / kTileCols) * d * kTileCols + j % kTileCols;
    for (size_t k = 0; k < d; ++k) panel[k * kTileCols] = ub[j * d + k];
  }
  return packed;
}

// g[r][j] = <ua_r, ub_j> for r < rows, j < n. Every entry is accumulated in
// dimension order (k = 0, 1, ...), exactly like a plain dot product, so the result
// does not depend on tiling or threads; the fixed-size tile loops vectorise.
void gram_rows(const double* ua, size_t rows, const double* panels, size_t n, size_t d, double* g) {
  const size_t n_panels = (n + kTileCols - 1) / kTileCols;
  const size_t n_groups = (rows + kTileRows - 1) / kTileRows;
  const ptrdiff_t tiles = static_cast<ptrdiff_t>(n_groups * n_panels);
  // Threads only pay off for a large Gram (a fork/join costs more than a small
  // one), and not inside analyze()'s per-layer threads.
  const bool threaded = rows * n * d >= kParallelWork && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (threaded)
  for (ptrdiff_t t = 0; t < tiles; ++t) {
    const size_t r0 = static_cast<size_t>(t) / n_panels * kTileRows;
    const size_t p = static_cast<size_t>(t) % n_panels;
    // Past the last row, repeat it (its results are not stored).
    const double* a[kTileRows];
    for (size_t r = 0; r < kTileRows; ++r) a[r] = ua + std::min(r0 + r, rows - 1) * d;
    const double* b = panels + p * d * kTileCols;
    double acc[kTileRows][kTileCols] = {};
    for (size_t k = 0; k < d; ++k) {
      for (size_t r = 0; r < kTileRows; ++r) {
        const double av = a[r][k];
        for (size_t c = 0; c < kTileCols; ++c) acc[r][c] += av * b[k * kTileCols + c];
      }
    }
    const size_t nr = std::min(kTileRows, rows - r0);
    const size_t nc = std::min(kTileCols, n - p * kTileCols);
    for (size_t r = 0; r < nr; ++r) {
      for (size_t c = 0; c < nc; ++c) g[(r0 + r) * n + p * kTileCols + c] = acc[r][c];
    }
  }
}

}  // namespace

ZScore matched_vs_scrambled_z(const double* a, const double* b, size_t d, const PermutationSet& perms,
                              std::vector<double>* scrambled) {
  const size_t n = perms.n();
  const size_t n_perms = perms.count();
  if (n == 0) fail("the alignment z-score needs at least one pair");
  const Rows ua = normalized_rows(a, n, d);
  const Rows panels = pack_panels(normalized_rows(b, n, d), n, d);

  const size_t block = std::clamp<size_t>(kGramBudget / std::max<size_t>(n, 1), 1, n);
  Rows g(block * n);
  double matched_sum = 0;                // sum_i <ua_i, ub_i>
  std::vector<double> sums(n_perms, 0);  // sum_i <ua_i, ub_{p_k(i)}>
  for (size_t i0 = 0; i0 < n; i0 += block) {
    const size_t rows = std::min(block, n - i0);
    gram_rows(ua.data() + i0 * d, rows, panels.data(), n, d, g.data());
    for (size_t r = 0; r < rows; ++r) matched_sum += g[r * n + i0 + r];
    // Each permutation's sum runs over i in order, whatever the blocking. (Serial:
    // n_perms * N additions are negligible next to the Gram matrix.)
    for (size_t k = 0; k < n_perms; ++k) {
      const auto p = perms[k];
      double s = sums[k];
      for (size_t r = 0; r < rows; ++r) s += g[r * n + p[i0 + r]];
      sums[k] = s;
    }
  }

  ZScore out;
  out.matched = matched_sum / static_cast<double>(n);  // np.mean over rows
  for (double& s : sums) s /= static_cast<double>(n);
  // scrambled.mean() and scrambled.std() (population, ddof = 0).
  const MeanStd scrambled_stats = mean_std(sums);
  out.scrambled_mean = scrambled_stats.mean;
  out.scrambled_std = scrambled_stats.std;
  out.z = (out.matched - out.scrambled_mean) / out.scrambled_std;
  if (scrambled) *scrambled = std::move(sums);
  return out;
}

bool LayerScores::marker_attn() const { return std::abs(dz_attn) > 1.5; }
bool LayerScores::marker_mlp() const { return std::abs(dz_mlp) > 1.5; }

namespace {

// The five (a, b) matrix pairs the seed scores per layer, in double. The sums are
// formed in float32 first, as the seed's numpy does on its float32 arrays
// (zh_h_pre[l] + zh_attn_delta[l], then + zh_mlp_delta[l]); for a sequential model
// that float32 sum is also bit for bit the residual the engine itself computes.
enum class State { pre, post_attn, post_mlp, attn_alone, mlp_alone };
constexpr State kStates[] = {State::pre, State::post_attn, State::post_mlp, State::attn_alone, State::mlp_alone};

Rows state_rows(const LayerVectors& v, State s) {
  const size_t count = v.h_pre.rows * v.h_pre.cols;
  Rows out(count);
  for (size_t i = 0; i < count; ++i) {
    const float h = v.h_pre.data[i], at = v.attn_delta.data[i], ml = v.mlp_delta.data[i];
    float x = 0;
    switch (s) {
      case State::pre: x = h; break;
      case State::post_attn: x = h + at; break;
      case State::post_mlp: {
        const float post_attn = h + at;
        x = post_attn + ml;
        break;
      }
      case State::attn_alone: x = at; break;
      case State::mlp_alone: x = ml; break;
    }
    out[i] = x;
  }
  return out;
}

// Per-dimension mean and population variance over the 2N rows of a and b.
void column_moments(const Rows& a, const Rows& b, size_t n, size_t d, std::vector<double>& mean,
                    std::vector<double>& var) {
  mean.assign(d, 0);
  var.assign(d, 0);
  const double count = static_cast<double>(2 * n);
  for (const Rows* m : {&a, &b}) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < d; ++k) mean[k] += (*m)[i * d + k];
    }
  }
  for (double& x : mean) x /= count;
  for (const Rows* m : {&a, &b}) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < d; ++k) {
        const double c = (*m)[i * d + k] - mean[k];
        var[k] += c * c;
      }
    }
  }
  for (double& x : var) x /= count;
}

// Beyond the seed: every dimension centred and scaled to unit variance over the
// 2N vectors of both languages, so a few "rogue" high-variance dimensions cannot
// dominate the cosines. A constant dimension carries no information and becomes 0.
void standardize(Rows& a, Rows& b, size_t n, size_t d) {
  std::vector<double> mean, var;
  column_moments(a, b, n, d, mean, var);
  for (Rows* m : {&a, &b}) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t k = 0; k < d; ++k) {
        double& x = (*m)[i * d + k];
        const double sd = std::sqrt(var[k]);
        x = sd > 0 ? (x - mean[k]) / sd : 0.0;
      }
    }
  }
}

// Beyond the seed: the k dimensions of largest variance over the 2N vectors
// (ties: lower index first) removed from a and b, which become n x (d - k).
// Returns the removed dimensions, largest variance first.
std::vector<uint32_t> drop_top_dims(Rows& a, Rows& b, size_t n, size_t d, size_t k) {
  std::vector<double> mean, var;
  column_moments(a, b, n, d, mean, var);
  // NaN (from non-finite input) ranks as the largest, keeping the order strict.
  auto key = [&](uint32_t j) { return std::isnan(var[j]) ? std::numeric_limits<double>::infinity() : var[j]; };
  std::vector<uint32_t> order(d);
  std::iota(order.begin(), order.end(), 0U);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t x, uint32_t y) { return key(x) > key(y); });
  std::vector<uint32_t> dropped(order.begin(), order.begin() + static_cast<ptrdiff_t>(k));
  std::vector<bool> keep(d, true);
  for (uint32_t j : dropped) keep[j] = false;
  const size_t kept = d - k;
  for (Rows* m : {&a, &b}) {
    Rows out;
    out.reserve(n * kept);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j < d; ++j) {
        if (keep[j]) out.push_back((*m)[i * d + j]);
      }
    }
    *m = std::move(out);
  }
  return dropped;
}

ZScore& score_of(LayerScores& s, State st) {
  switch (st) {
    case State::pre: return s.pre;
    case State::post_attn: return s.post_attn;
    case State::post_mlp: return s.post_mlp;
    case State::attn_alone: return s.attn_alone;
    case State::mlp_alone: break;
  }
  return s.mlp_alone;
}

std::vector<uint32_t>& dims_of(DroppedDims& d, State st) {
  switch (st) {
    case State::pre: return d.pre;
    case State::post_attn: return d.post_attn;
    case State::post_mlp: return d.post_mlp;
    case State::attn_alone: return d.attn_alone;
    case State::mlp_alone: break;
  }
  return d.mlp_alone;
}

void finish_deltas(LayerScores& s) {
  s.dz_attn = s.post_attn.z - s.pre.z;      // seed: dz_attn = z_post_attn - z_pre
  s.dz_mlp = s.post_mlp.z - s.post_attn.z;  // seed: dz_mlp = z_post_mlp - z_post_attn
}

// np.linalg.norm(x, axis=1).mean()
double mean_row_norm(const MatrixView& m) {
  double total = 0;
  for (size_t i = 0; i < m.rows; ++i) total += row_norm(m.data + i * m.cols, static_cast<int64_t>(m.cols));
  return total / static_cast<double>(m.rows);
}

void check_shape(int layer, const char* side, const char* name, const MatrixView& m, size_t n, size_t d) {
  if (m.rows != n || m.cols != d) {
    fail("align: layer {}: {}.{} is {} x {}, expected {} x {}", layer, side, name, m.rows, m.cols, n, d);
  }
  if (m.data == nullptr) fail("align: layer {}: {}.{} has no data", layer, side, name);
}

}  // namespace

namespace {

void check_layer(int layer, const LayerPair& v, const AlignOptions& options, size_t n) {
  const size_t d = v.a.h_pre.cols;
  if (n < 2) fail("align: needs at least 2 pairs, got {}", n);
  if (d == 0) fail("align: layer {}: the vectors have no dimensions", layer);
  for (const auto& [side, lv] : {std::pair{"a", &v.a}, std::pair{"b", &v.b}}) {
    check_shape(layer, side, "h_pre", lv->h_pre, n, d);
    check_shape(layer, side, "attn_delta", lv->attn_delta, n, d);
    check_shape(layer, side, "mlp_delta", lv->mlp_delta, n, d);
  }
  if (options.drop_top_dims >= d) {
    fail("align: cannot drop the top {} dimensions of {}-dimensional vectors", options.drop_top_dims, d);
  }
}

// analyze_layer() after check_layer(): throws nothing but std::bad_alloc.
LayerResult compute_layer(int layer, const LayerPair& v, const AlignOptions& options, const PermutationSet& perms) {
  const size_t n = perms.n();
  const size_t d = v.a.h_pre.cols;
  LayerResult r;
  r.layer = layer;
  if (options.standardized) r.standardized.emplace();
  if (options.drop_top_dims > 0) r.top_dims_removed.emplace();
  for (State st : kStates) {
    Rows a = state_rows(v.a, st), b = state_rows(v.b, st);
    score_of(r.raw, st) = matched_vs_scrambled_z(a.data(), b.data(), d, perms);
    if (r.standardized) {
      Rows sa = a, sb = b;
      standardize(sa, sb, n, d);
      score_of(*r.standardized, st) = matched_vs_scrambled_z(sa.data(), sb.data(), d, perms);
    }
    if (r.top_dims_removed) {
      // Last use of a and b: reduce them in place.
      dims_of(r.dropped_dims, st) = drop_top_dims(a, b, n, d, options.drop_top_dims);
      score_of(*r.top_dims_removed, st) = matched_vs_scrambled_z(a.data(), b.data(), d - options.drop_top_dims, perms);
    }
  }
  finish_deltas(r.raw);
  if (r.standardized) finish_deltas(*r.standardized);
  if (r.top_dims_removed) finish_deltas(*r.top_dims_removed);

  r.norm_h_pre = mean_row_norm(v.a.h_pre);
  r.norm_attn_delta = mean_row_norm(v.a.attn_delta);
  r.norm_mlp_delta = mean_row_norm(v.a.mlp_delta);
  return r;
}

}  // namespace

LayerResult analyze_layer(int layer, const LayerPair& vectors, const AlignOptions& options,
                          const PermutationSet& perms) {
  check_layer(layer, vectors, options, perms.n());
  return compute_layer(layer, vectors, options, perms);
}

Summary summarize(std::span<const LayerScores> layers) {
  Summary s;
  s.n_layers = static_cast<int>(layers.size());
  for (const LayerScores& l : layers) {
    // Python's sum() adds in layer order; comparisons with NaN are false, as here.
    s.total_dz_attn += l.dz_attn;
    s.total_dz_mlp += l.dz_mlp;
    if (l.dz_attn > l.dz_mlp && l.dz_attn > 0.5) ++s.attn_dominant_layers;
    if (l.dz_mlp > l.dz_attn && l.dz_mlp > 0.5) ++s.mlp_dominant_layers;
    if (l.attn_alone.z > 3.0) ++s.attn_aligned_layers;
    if (l.mlp_alone.z > 3.0) ++s.mlp_aligned_layers;
  }
  if (s.total_dz_mlp != 0) s.ratio_attn_mlp = s.total_dz_attn / s.total_dz_mlp;
  return s;
}

AlignResult analyze(std::span<const LayerPair> layers, const AlignOptions& options) {
  if (layers.empty()) fail("align: no layers to analyse");
  AlignResult res;
  res.n_pairs = layers[0].a.h_pre.rows;
  res.hidden_size = layers[0].a.h_pre.cols;
  res.options = options;
  res.post_attn_is_model_state = !options.parallel_residual;
  if (options.parallel_residual) {
    res.post_attn_note =
        "parallel-residual model: h_pre + attn_out (z_post_attn, dz_attn, dz_mlp) is not a "
        "state the model ever has (attention and MLP both read h_pre); computed as the seed "
        "does for comparability";
  }
  for (size_t l = 0; l < layers.size(); ++l) {
    if (layers[l].a.h_pre.cols != res.hidden_size) {
      fail("align: layer {} has {}-dimensional vectors, layer 0 has {}", l, layers[l].a.h_pre.cols, res.hidden_size);
    }
    check_layer(static_cast<int>(l), layers[l], options, res.n_pairs);
  }
  const PermutationSet perms(res.n_pairs, options.n_perms, options.perm_seed);
  // Layers are independent: one thread per layer is the coarsest grain, so the
  // threads meet once, not at every Gram matrix. Results do not depend on the
  // thread count.
  res.layers.resize(layers.size());
  std::exception_ptr error;
  const ptrdiff_t n_layers = static_cast<ptrdiff_t>(layers.size());
#pragma omp parallel for schedule(dynamic)
  for (ptrdiff_t l = 0; l < n_layers; ++l) {
    try {
      res.layers[static_cast<size_t>(l)] =
          compute_layer(static_cast<int>(l), layers[static_cast<size_t>(l)], options, perms);
    } catch (...) {
#pragma omp critical(sg_align_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);

  std::vector<LayerScores> raw, standardized, dropped;
  for (const LayerResult& r : res.layers) {
    raw.push_back(r.raw);
    if (r.standardized) standardized.push_back(*r.standardized);
    if (r.top_dims_removed) dropped.push_back(*r.top_dims_removed);
  }
  res.summary = summarize(raw);
  if (options.standardized) res.summary_standardized = summarize(standardized);
  if (options.drop_top_dims > 0) res.summary_top_dims_removed = summarize(dropped);
  return res;
}

std::string seed_layer_line(const LayerResult& r) {
  const LayerScores& s = r.raw;
  std::string marker;
  if (s.marker_attn()) marker += " *** ATTN";
  if (s.marker_mlp()) marker += " *** MLP";
  // The seed's f-string. The explicit '>' makes fmt right-align nan/inf like
  // Python does (fmt would left-align them); finite numbers are unaffected.
  return fmt::format(
      " L{:>2d}: z_pre={:>5.1f} → +attn={:>+5.1f} → +mlp={:>+5.1f} → z_post={:>5.1f}"
      " | attn_alone={:>5.1f} mlp_alone={:>5.1f}"
      " | norms: pre={:.0f} attn={:.0f} mlp={:.0f}{}",
      r.layer, s.pre.z, s.dz_attn, s.dz_mlp, s.post_mlp.z, s.attn_alone.z, s.mlp_alone.z, r.norm_h_pre,
      r.norm_attn_delta, r.norm_mlp_delta, marker);
}

namespace {

// One representation's per-layer scores under the seed's keys; the seed puts
// the raw representation's norms (`norms`) between the z-scores and the cosines.
void add_scores(nlohmann::ordered_json& j, const LayerScores& s, const LayerResult* norms) {
  j["z_pre"] = s.pre.z;
  j["z_post_attn"] = s.post_attn.z;
  j["z_post_mlp"] = s.post_mlp.z;
  j["dz_attn"] = s.dz_attn;
  j["dz_mlp"] = s.dz_mlp;
  j["z_attn_correction_alone"] = s.attn_alone.z;
  j["z_mlp_correction_alone"] = s.mlp_alone.z;
  if (norms) {
    j["norm_h_pre"] = norms->norm_h_pre;
    j["norm_attn_delta"] = norms->norm_attn_delta;
    j["norm_mlp_delta"] = norms->norm_mlp_delta;
  }
  j["matched_cos_pre"] = s.pre.matched;
  j["matched_cos_post_attn"] = s.post_attn.matched;
  j["matched_cos_post_mlp"] = s.post_mlp.matched;
}

}  // namespace

nlohmann::ordered_json seed_layer_json(const LayerResult& r) {
  nlohmann::ordered_json j;
  j["layer"] = r.layer;
  add_scores(j, r.raw, &r);
  return j;
}

nlohmann::ordered_json seed_summary_json(const Summary& s) {
  nlohmann::ordered_json j;
  j["total_dz_attn"] = s.total_dz_attn;
  j["total_dz_mlp"] = s.total_dz_mlp;
  j["attn_dominant_layers"] = s.attn_dominant_layers;
  j["mlp_dominant_layers"] = s.mlp_dominant_layers;
  j["attn_aligned_layers"] = s.attn_aligned_layers;
  j["mlp_aligned_layers"] = s.mlp_aligned_layers;
  // Not in the seed's JSON (it only prints the ratio): appended after its keys.
  j["ratio_dz_attn_mlp"] = s.ratio_attn_mlp ? nlohmann::ordered_json(*s.ratio_attn_mlp) : nlohmann::ordered_json();
  return j;
}

nlohmann::ordered_json layer_scores_json(const LayerScores& s) {
  nlohmann::ordered_json j;
  add_scores(j, s, nullptr);
  return j;
}

}  // namespace sg::align
