#include "engine/capture_store.h"

#include <cstring>

#include "util/error.h"

namespace sg {

void CaptureStore::on_activation(const PointId& point, const Batch& batch, const float* rows, int64_t width) {
  const std::string name = point.name();
  for (size_t s = 0; s < batch.n_sequences(); ++s) {
    StoredTensor& t = tensors_["seq" + std::to_string(first_ + s) + "." + name];
    t.shape = {batch.length(s), width};
    t.data.assign(rows + batch.begin(s) * width, rows + (batch.begin(s) + batch.length(s)) * width);
  }
}

void CaptureStore::on_pattern(int layer, const Batch&, size_t seq, const float* probs, int heads, int64_t T) {
  StoredTensor& t = tensors_["seq" + std::to_string(first_ + seq) + "." + PointId{Point::AttnPattern, layer}.name()];
  t.shape = {heads, T, T};
  t.data.assign(probs, probs + heads * T * T);
}

namespace {
template <class T>
void put(std::vector<std::byte>& out, const T* p, size_t n) {
  const auto* b = reinterpret_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n * sizeof(T));
}
template <class T>
void get(std::span<const std::byte>& in, T* p, size_t n) {
  if (in.size() < n * sizeof(T)) fail("internal: truncated captured tensors");
  std::memcpy(p, in.data(), n * sizeof(T));
  in = in.subspan(n * sizeof(T));
}
}  // namespace

// Per tensor: name length, name, rank, shape, element count, data.
std::vector<std::byte> CaptureStore::save() const {
  std::vector<std::byte> out;
  for (const auto& [name, t] : tensors_) {
    const uint64_t head[3] = {name.size(), t.shape.size(), t.data.size()};
    put(out, head, 3);
    put(out, name.data(), name.size());
    put(out, t.shape.data(), t.shape.size());
    put(out, t.data.data(), t.data.size());
  }
  return out;
}

void CaptureStore::merge(std::span<const std::byte> in) {
  while (!in.empty()) {
    uint64_t head[3];
    get(in, head, 3);
    std::string name(head[0], '\0');
    get(in, name.data(), name.size());
    StoredTensor t;
    t.shape.resize(head[1]);
    get(in, t.shape.data(), t.shape.size());
    t.data.resize(head[2]);
    get(in, t.data.data(), t.data.size());
    if (!tensors_.emplace(std::move(name), std::move(t)).second) fail("internal: a captured tensor arrived twice");
  }
}

const StoredTensor* CaptureStore::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace sg
