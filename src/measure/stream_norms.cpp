#include "measure/stream_norms.h"

#include <fmt/format.h>

#include "measure/bytes.h"
#include "util/error.h"

namespace sg::residual {

// --- true points ---

int n_points(int n_layers) { return n_layers + 2; }

void check_point(int k, int n_layers) {
  if (k < 0 || k >= n_points(n_layers)) fail("residual point {} out of range (model has {} layers)", k, n_layers);
}

namespace {
// Index of a capture point among the true points, or -1 if it is not one.
int point_index(const PointId& p, int n_layers) {
  // The inverse of point_id().
  if (p.point == Point::ResidPre && p.layer == 0) return 0;
  if (p.point == Point::ResidPost && p.layer >= 0 && p.layer < n_layers) return p.layer + 1;
  if (p.point == Point::LnFinalOut) return n_layers + 1;
  return -1;
}
}  // namespace

PointId point_id(int k, int n_layers) {
  check_point(k, n_layers);
  if (k == 0) return {Point::ResidPre, 0};
  if (k == n_layers + 1) return {Point::LnFinalOut, -1};
  return {Point::ResidPost, k - 1};
}

std::string point_short_name(int k, int n_layers) {
  check_point(k, n_layers);
  if (k == 0) return "embed";
  if (k == n_layers + 1) return "final_norm";
  return fmt::format("resid_post[{}]", k - 1);
}

StreamNormReducer::StreamNormReducer(int n_layers, size_t n_sequences)
    : n_layers_(n_layers),
      norms_(n_sequences,
             PromptNorms{std::vector<double>(n_points(n_layers), 0.0), std::vector<double>(n_points(n_layers), 0.0)}),
      seen_(n_points(n_layers), false) {}

bool StreamNormReducer::wants(const PointId& point) { return point_index(point, n_layers_) >= 0; }

void StreamNormReducer::on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) {
  const int k = point_index(point, n_layers_);
  if (k < 0) return;
  if (base_ + batch.n_sequences() > norms_.size())
    fail("norm reducer set up for {} sequences, this forward brings it to {}", norms_.size(),
         base_ + batch.n_sequences());
  for (size_t s = 0; s < batch.n_sequences(); ++s) {
    double sum_norms = 0, last = 0;
    for (int64_t r = batch.begin(s); r <= batch.last_row(s); ++r) {
      last = row_norm(rows + r * width, width);
      sum_norms += last;
    }
    norms_[base_ + s].last[k] = last;  // the loop ends on the last row
    norms_[base_ + s].mean[k] = sum_norms / static_cast<double>(batch.length(s));
  }
  seen_[k] = true;
}

const std::vector<PromptNorms>& StreamNormReducer::norms() const {
  for (int k = 0; k < n_points(n_layers_); ++k)
    if (!seen_[k]) fail("the forward pass never reached {}", point_short_name(k, n_layers_));
  return norms_;
}

void StreamNormReducer::finish_batch(const Batch& batch) { base_ += batch.n_sequences(); }

// The points seen, then the norms of the sequences run so far.
std::vector<std::byte> StreamNormReducer::save() const {
  ByteWriter w;
  for (bool seen : seen_) w.put<uint8_t>(seen);
  w.put<uint64_t>(base_);
  for (size_t s = 0; s < base_; ++s) {
    w.put_span(std::span<const double>(norms_[s].last));
    w.put_span(std::span<const double>(norms_[s].mean));
  }
  return w.take();
}

void StreamNormReducer::restore(std::span<const std::vector<std::byte>> parts) {
  std::vector<bool> seen(seen_.size(), false);
  size_t slot = 0;
  for (const auto& part : parts) {
    ByteReader r(part);
    for (size_t k = 0; k < seen.size(); ++k)
      if (r.get<uint8_t>()) seen[k] = true;
    const auto n = r.get<uint64_t>();
    if (slot + n > norms_.size()) fail("internal: {} sequences restored into {} slots", slot + n, norms_.size());
    for (uint64_t s = 0; s < n; ++s, ++slot) {
      norms_[slot].last.clear();
      norms_[slot].mean.clear();
      r.append_to(norms_[slot].last);
      r.append_to(norms_[slot].mean);
    }
    if (!r.done()) fail("internal: a reducer's saved state has trailing bytes");
  }
  seen_ = seen;
  base_ = slot;
}

void StreamNormReducer::take_stage(std::span<const std::byte> saved, const Model::Stage& stage) {
  ByteReader r(saved);
  std::vector<bool> seen(seen_.size(), false);
  for (size_t k = 0; k < seen.size(); ++k) seen[k] = r.get<uint8_t>() != 0;
  const auto n = r.get<uint64_t>();
  if (n > norms_.size()) fail("internal: {} sequences restored into {} slots", n, norms_.size());
  std::vector<double> last, mean;
  for (uint64_t s = 0; s < n; ++s) {
    last.clear();
    mean.clear();
    r.append_to(last);
    r.append_to(mean);
    if (last.size() != seen.size() || mean.size() != seen.size()) fail("internal: a reducer's saved norms are short");
    for (int k = 0; k < n_points(n_layers_); ++k) {
      if (!stage_holds(stage, point_id(k, n_layers_))) continue;
      norms_[s].last[k] = last[k];
      norms_[s].mean[k] = mean[k];
    }
  }
  if (!r.done()) fail("internal: a reducer's saved state has trailing bytes");
  for (int k = 0; k < n_points(n_layers_); ++k)
    if (stage_holds(stage, point_id(k, n_layers_))) seen_[k] = seen[k];
  base_ = n;
}

}  // namespace sg::residual
