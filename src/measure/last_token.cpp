#include "measure/last_token.h"

#include <cstring>

#include "util/error.h"

namespace sg {

LastTokenRows::LastTokenRows(int n_layers, int64_t d_model, size_t n_sequences)
    : n_layers_(n_layers), d_model_(d_model), n_sequences_(n_sequences) {
  if (n_layers < 0 || d_model < 1) fail("last-token rows need n_layers >= 0 and d_model >= 1");
  data_.resize(static_cast<size_t>(n_layers) * kLastTokenPoints * n_sequences * static_cast<size_t>(d_model));
}

float* LastTokenRows::row(int layer, LastTokenPoint point, size_t seq) {
  const size_t slab = static_cast<size_t>(layer) * kLastTokenPoints + static_cast<size_t>(point);
  return data_.data() + (slab * n_sequences_ + seq) * static_cast<size_t>(d_model_);
}

const float* LastTokenRows::row(int layer, LastTokenPoint point, size_t seq) const {
  return const_cast<LastTokenRows*>(this)->row(layer, point, seq);
}

LastTokenReducer::LastTokenReducer(int n_layers, int64_t d_model, size_t n_sequences)
    : rows_(n_layers, d_model, n_sequences) {}

bool LastTokenReducer::wants(const PointId& p) {
  if (p.layer < 0 || p.layer >= rows_.n_layers()) return false;
  return p.point == Point::ResidPre || p.point == Point::AttnOut || p.point == Point::MlpOut;
}

void LastTokenReducer::on_activation(const PointId& p, const Batch& batch, const float* rows, int64_t width) {
  if (width != rows_.d_model())
    fail("{} has width {}, the last-token reducer expects d_model = {}", p.name(), width, rows_.d_model());
  if (base_ + batch.n_sequences() > rows_.n_sequences())
    fail("the last-token reducer has room for {} sequences, this forward brings it to {}", rows_.n_sequences(),
         base_ + batch.n_sequences());
  const LastTokenPoint which = p.point == Point::ResidPre  ? LastTokenPoint::ResidPre
                               : p.point == Point::AttnOut ? LastTokenPoint::AttnOut
                                                           : LastTokenPoint::MlpOut;
  for (size_t s = 0; s < batch.n_sequences(); ++s)
    std::memcpy(rows_.row(p.layer, which, base_ + s), rows + batch.last_row(s) * width, width * sizeof(float));
}

void LastTokenReducer::finish_batch(const Batch& batch) { base_ += batch.n_sequences(); }

LastTokenRows capture_last_tokens(Engine& engine, std::span<const std::vector<int32_t>> sequences,
                                  const PromptRun& options) {
  const ArchSpec& arch = engine.model().arch();
  LastTokenReducer reducer(arch.n_layers, arch.d_model, sequences.size());
  Reducer* reducers[] = {&reducer};
  run_prompts(engine, sequences, reducers, options);
  return reducer.take();
}

}  // namespace sg
