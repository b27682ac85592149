#include "measure/sublayer_stats.h"

#include <algorithm>
#include <cmath>

#include "engine/kernels.h"
#include "engine/vecmath.h"
#include "measure/bytes.h"
#include "util/error.h"

namespace sg {

double row_norm(const float* x, int64_t n) { return std::sqrt(vec::sum_squares(x, n)); }

namespace {
// Cosine of two rows whose norms are known; 0 when either is zero.
double row_cos(const float* a, const float* b, int64_t n, double na, double nb) {
  if (na == 0 || nb == 0) return 0;
  return vec::dot(a, b, n) / (na * nb);
}
}  // namespace

bool SublayerStats::any_moe() const {
  for (const auto& r : routed)
    if (!r.empty()) return true;
  return false;
}

bool SublayerStats::any_raw() const {
  for (size_t l = 0; l < attn_raw.size(); ++l)
    if (attn_raw[l] || mlp_raw[l]) return true;
  return false;
}

SublayerStatsReducer::SublayerStatsReducer(int n_layers, bool entropy) : entropy_(entropy) {
  stats_.n_layers = n_layers;
  stats_.layers.resize(n_layers);
  stats_.attn_raw.assign(n_layers, false);
  stats_.mlp_raw.assign(n_layers, false);
  stats_.routed.resize(n_layers);
}

bool SublayerStatsReducer::wants(const PointId& p) {
  switch (p.point) {
    case Point::ResidPre:
    case Point::Ln1Out:
    case Point::AttnOut:
    case Point::Ln2Out:
    case Point::MlpOut:
    case Point::AttnRaw:
    case Point::MlpRaw: return true;
    case Point::AttnEntropy: return entropy_;
    case Point::RouterProbs:
    case Point::RouterWeights: return true;
    default: return false;
  }
}

SublayerTokenStats& SublayerStatsReducer::at(int layer, int64_t row) { return stats_.layers[layer][base_ + row]; }

void SublayerStatsReducer::on_activation(const PointId& p, const Batch& batch, const float* rows, int64_t d) {
  const int64_t N = batch.n_tokens();
  auto& layer = stats_.layers.at(p.layer);
  if (static_cast<int64_t>(layer.size()) < base_ + N) layer.resize(base_ + N);
  if (p.point == Point::RouterProbs || p.point == Point::RouterWeights) {
    on_router(p, N, rows, d);
    return;
  }
  const bool keep_pre = p.point == Point::ResidPre;
  if (keep_pre) resid_pre_.resize(static_cast<size_t>(N * d));
  if (p.point == Point::AttnRaw) stats_.attn_raw.at(p.layer) = true;
  if (p.point == Point::MlpRaw) stats_.mlp_raw.at(p.layer) = true;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < N; ++r) {
    SublayerTokenStats& s = at(p.layer, r);
    const float* x = rows + r * d;
    float* pre = resid_pre_.data() + r * d;
    if (keep_pre) std::copy(x, x + d, pre);
    const double n = row_norm(x, d);
    switch (p.point) {
      case Point::ResidPre: s.resid_pre = n; break;
      case Point::Ln1Out: s.attn_in = n; break;
      case Point::Ln2Out: s.mlp_in = n; break;
      case Point::AttnRaw: s.attn_raw = n; break;
      case Point::MlpRaw: s.mlp_raw = n; break;
      case Point::AttnOut:
        s.attn_out = n;
        s.attn_cos = row_cos(x, pre, d, n, s.resid_pre);
        break;
      case Point::MlpOut:
        s.mlp_out = n;
        s.mlp_cos = row_cos(x, pre, d, n, s.resid_pre);
        break;
      default: break;
    }
  }
}

// Per token: the mean over heads of its attention distribution's entropy,
// -sum_k p_k log p_k in nats (terms with p_k = 0 contribute 0). Seed 000 cites
// an "L*_entropy" layer of minimum attention entropy from earlier work without
// a formula; this is the Shannon entropy of each query's softmax row, which
// gains.cpp averages per prompt. The attention kernel computes each head's
// (in its softmax, from the row's scores: no [T, T] pattern buffer);
// here they are summed in head order, in double.
void SublayerStatsReducer::on_entropies(const PointId& p, const Batch& batch, const double* rows, int64_t heads) {
  auto& L = stats_.layers.at(p.layer);
  const int64_t N = batch.n_tokens();
  if (static_cast<int64_t>(L.size()) < base_ + N) L.resize(base_ + N);
  for (int64_t r = 0; r < N; ++r) {
    double h_sum = 0;
    for (int64_t h = 0; h < heads; ++h) h_sum += rows[r * heads + h];
    at(p.layer, r).attn_entropy = h_sum / static_cast<double>(heads);
  }
}

// A sparse MLP's router (rows of `experts` values): each token's entropy of
// the softmax over all experts, -sum_e p_e ln p_e in nats (p_e = 0 adds 0), as
// the attention entropy; and a count per expert of the tokens whose weight for
// it is not 0 (the experts the token goes to).
void SublayerStatsReducer::on_router(const PointId& p, int64_t N, const float* rows, int64_t experts) {
  if (p.point == Point::RouterProbs) {
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < N; ++r) at(p.layer, r).router_entropy = kernels::entropy_span(rows + r * experts, experts);
    return;
  }
  auto& counts = stats_.routed.at(p.layer);
  counts.resize(static_cast<size_t>(experts), 0);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t e = 0; e < experts; ++e) counts[e] += rows[r * experts + e] != 0.0f;
}

void SublayerStatsReducer::finish_batch(const Batch& batch) {
  for (size_t s = 0; s < batch.n_sequences(); ++s) stats_.offsets.push_back(stats_.offsets.back() + batch.length(s));
  base_ += batch.n_tokens();
  for (int l = 0; l < stats_.n_layers; ++l)
    if (layer_here(l) && static_cast<int64_t>(stats_.layers[l].size()) != base_)
      fail("internal: layer statistics incomplete");
}

// The sequences' lengths, each layer's per-token statistics, which layers had
// raw sublayer outputs and how many tokens each expert took.
std::vector<std::byte> SublayerStatsReducer::save() const {
  ByteWriter w;
  std::vector<int64_t> lengths;
  for (size_t s = 0; s < stats_.n_sequences(); ++s) lengths.push_back(stats_.length(s));
  w.put_span(std::span<const int64_t>(lengths));
  for (int l = 0; l < stats_.n_layers; ++l) {
    w.put_span(std::span<const SublayerTokenStats>(stats_.layers[l]));
    w.put<uint8_t>(stats_.attn_raw[l]);
    w.put<uint8_t>(stats_.mlp_raw[l]);
    w.put_span(std::span<const int64_t>(stats_.routed[l]));
  }
  return w.take();
}

namespace {
// Appends one save() to `s`: its sequences, their tokens' statistics and its
// tokens per expert (counts: summed).
void append_saved(SublayerStats& s, std::span<const std::byte> part) {
  ByteReader r(part);
  std::vector<int64_t> lengths;
  r.append_to(lengths);
  for (int64_t n : lengths) s.offsets.push_back(s.offsets.back() + n);
  for (int l = 0; l < s.n_layers; ++l) {
    r.append_to(s.layers[l]);
    if (r.get<uint8_t>()) s.attn_raw[l] = true;
    if (r.get<uint8_t>()) s.mlp_raw[l] = true;
    std::vector<int64_t> routed;
    r.append_to(routed);
    if (s.routed[l].size() < routed.size()) s.routed[l].resize(routed.size(), 0);
    for (size_t e = 0; e < routed.size(); ++e) s.routed[l][e] += routed[e];
  }
  if (!r.done()) fail("internal: a reducer's saved state has trailing bytes");
}
}  // namespace

void SublayerStatsReducer::restore(std::span<const std::vector<std::byte>> parts) {
  SublayerStatsReducer whole(stats_.n_layers, entropy_);
  SublayerStats& s = whole.stats_;
  for (const auto& part : parts) append_saved(s, part);
  whole.base_ = s.offsets.back();
  for (const auto& L : s.layers)
    if (static_cast<int64_t>(L.size()) != whole.base_) fail("internal: layer statistics incomplete");
  *this = std::move(whole);
}

void SublayerStatsReducer::take_stage(std::span<const std::byte> saved, const Model::Stage& stage) {
  SublayerStats part = SublayerStatsReducer(stats_.n_layers, entropy_).stats_;
  append_saved(part, saved);
  stats_.offsets = part.offsets;  // (the same sequences on every stage)
  base_ = part.offsets.back();
  for (int l = stage.first_layer; l < stage.end_layer; ++l) {
    stats_.layers[l] = std::move(part.layers[l]);
    stats_.attn_raw[l] = part.attn_raw[l];
    stats_.mlp_raw[l] = part.mlp_raw[l];
    stats_.routed[l] = std::move(part.routed[l]);
  }
}

}  // namespace sg
