#pragma once
// An observer that keeps copies of the capture points matching a list of globs,
// split per sequence: what `streamgauge capture` writes and what tests compare.
#include <map>
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
  void on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) override;
  void on_pattern(int layer, const Batch& batch, size_t seq, const float* probs, int heads, int64_t T) override;

  // Tensors named "seq{i}.{capture point}", [T, width] or [heads, T, T].
  const std::map<std::string, StoredTensor>& tensors() const { return tensors_; }
  const StoredTensor* find(const std::string& name) const;

 private:
  std::map<std::string, StoredTensor> tensors_;
};

}  // namespace sg
