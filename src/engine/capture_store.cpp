#include "engine/capture_store.h"

namespace sg {

void CaptureStore::on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) {
  const std::string name = point.name();
  for (size_t s = 0; s < batch.n_sequences(); ++s) {
    StoredTensor& t = tensors_["seq" + std::to_string(s) + "." + name];
    t.shape = {batch.length(s), width};
    t.data.assign(rows + batch.begin(s) * width, rows + (batch.begin(s) + batch.length(s)) * width);
  }
}

void CaptureStore::on_pattern(int layer, const Batch&, size_t seq, const float* probs, int heads, int64_t T) {
  StoredTensor& t = tensors_["seq" + std::to_string(seq) + "." + PointId{Point::AttnPattern, layer}.name()];
  t.shape = {heads, T, T};
  t.data.assign(probs, probs + heads * T * T);
}

const StoredTensor* CaptureStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace sg
