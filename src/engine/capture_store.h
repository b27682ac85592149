#pragma once
// An observer that keeps copies of the capture points matching a list of globs,
// split per sequence: what `streamgauge capture` writes and what tests compare.
#include <cstddef>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/capture.h"

namespace sg {

struct StoredTensor {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

class CaptureStore : public GlobObserver {
 public:
  using GlobObserver::GlobObserver;
  // Sequence s of the batches is named seq{first + s} (a rank's share of a
  // data-parallel capture).
  void set_first_sequence(size_t first) { first_ = first; }
  void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) override;
  void on_pattern(int layer, const Batch& batch, size_t seq, const float* probs, int heads, int64_t T) override;

  // Tensors named "seq{i}.{capture point}", [T, width] or [heads, T, T].
  const std::map<std::string, StoredTensor>& tensors() const { return tensors_; }
  const StoredTensor* find(const std::string& name) const;

 private:
  std::map<std::string, StoredTensor> tensors_;
  size_t first_ = 0;

 public:
  // The tensors as bytes and back (merge adds them to this store), for
  // gathering a data-parallel capture on one rank.
  std::vector<std::byte> save() const;
  void merge(std::span<const std::byte> saved);
};

}  // namespace sg
