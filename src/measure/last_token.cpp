#include "measure/last_token.h"

#include <algorithm>
#include <cstring>

#include "measure/bytes.h"
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

// Per layer and point, the rows of the sequences run so far.
std::vector<std::byte> LastTokenReducer::save() const {
  ByteWriter w;
  w.put<uint64_t>(base_);
  const size_t d = static_cast<size_t>(rows_.d_model());
  for (int l = 0; l < rows_.n_layers(); ++l)
    for (int p = 0; p < kLastTokenPoints; ++p)
      w.put_span(std::span<const float>(rows_.row(l, static_cast<LastTokenPoint>(p), 0), base_ * d));
  return w.take();
}

void LastTokenReducer::restore(std::span<const std::vector<std::byte>> parts) {
  const size_t d = static_cast<size_t>(rows_.d_model());
  size_t slot = 0;
  std::vector<float> part_rows;
  for (const auto& part : parts) {
    ByteReader r(part);
    const auto n = r.get<uint64_t>();
    if (slot + n > rows_.n_sequences())
      fail("internal: {} sequences restored into {} slots", slot + n, rows_.n_sequences());
    for (int l = 0; l < rows_.n_layers(); ++l)
      for (int p = 0; p < kLastTokenPoints; ++p) {
        part_rows.clear();
        r.append_to(part_rows);
        if (part_rows.size() != n * d) fail("internal: a reducer's saved rows have the wrong size");
        std::copy(part_rows.begin(), part_rows.end(), rows_.row(l, static_cast<LastTokenPoint>(p), slot));
      }
    if (!r.done()) fail("internal: a reducer's saved state has trailing bytes");
    slot += n;
  }
  base_ = slot;
}

void LastTokenReducer::take_stage(std::span<const std::byte> saved, const Model::Stage& stage) {
  const size_t d = static_cast<size_t>(rows_.d_model());
  ByteReader r(saved);
  const auto n = r.get<uint64_t>();
  if (n > rows_.n_sequences()) fail("internal: {} sequences restored into {} slots", n, rows_.n_sequences());
  std::vector<float> part_rows;
  for (int l = 0; l < rows_.n_layers(); ++l)
    for (int p = 0; p < kLastTokenPoints; ++p) {
      part_rows.clear();
      r.append_to(part_rows);
      if (part_rows.size() != n * d) fail("internal: a reducer's saved rows have the wrong size");
      if (stage.holds_layer(l))
        std::copy(part_rows.begin(), part_rows.end(), rows_.row(l, static_cast<LastTokenPoint>(p), 0));
    }
  if (!r.done()) fail("internal: a reducer's saved state has trailing bytes");
  base_ = n;
}

LastTokenRows capture_last_tokens(Engine& engine, std::span<const std::vector<int32_t>> sequences,
                                  const PromptRun& options) {
  const ArchSpec& arch = engine.model().arch();
  LastTokenReducer reducer(arch.n_layers, arch.d_model, sequences.size());
  Reducer* reducers[] = {&reducer};
  run_prompts(engine, sequences, reducers, options);
  return reducer.take();
}

}  // namespace sg
