#include "engine/weight_matrices.h"

#include <algorithm>

#include "util/error.h"

namespace sg {

const char* to_string(Proj p) {
  switch (p) {
    case Proj::Q: return "W_Q";
    case Proj::K: return "W_K";
    case Proj::V: return "W_V";
    case Proj::O: return "W_O";
    case Proj::Up: return "W_in";
    case Proj::Gate: return "W_gate";
    case Proj::Down: return "W_out";
  }
  return "?";
}

namespace {

// All of a Linear's weight as [out, in].
DenseMatrix dense(const Linear& L) {
  DenseMatrix m{L.out, L.in, std::vector<float>(static_cast<size_t>(L.out * L.in))};
  std::vector<float> raw(m.data.size());
  to_f32(L.weight->dtype, L.data(), raw.data(), raw.size());
  if (!L.in_out) {
    m.data = std::move(raw);
  } else {  // stored [in, out]
    for (int64_t i = 0; i < L.in; ++i)
      for (int64_t o = 0; o < L.out; ++o) m.data[o * L.in + i] = raw[i * L.out + o];
  }
  return m;
}

// A Linear's weight as rows in place ([out, in] storage), else widened.
RowMatrix rows(const Linear& L) {
  RowMatrix m{L.out, L.in, L.weight->dtype, L.data(), {}, {}};
  if (L.in_out) {
    m.dtype = DType::F32;
    m.base = nullptr;
    m.owned = dense(L).data;
  }
  return m;
}

}  // namespace

RowMatrix rows_of(const DenseMatrix& m) {
  return {m.rows, m.cols, DType::F32, reinterpret_cast<const std::byte*>(m.data.data()), {}, {}};
}

namespace {
// The rows of a fused [(H + 2 KV) hd, d] QKV weight that make up Q, K or V, in
// head order: FusedPerHead (GPT-NeoX) row h*3hd + j*hd + i; FusedBlocks (GPT-2)
// [Q | K | V] blocks of H, KV and KV heads.
std::vector<int64_t> fused_rows(const ArchSpec& a, QkvLayout layout, Proj proj) {
  const int j = proj == Proj::Q ? 0 : proj == Proj::K ? 1 : 2;
  const int64_t hd = a.d_head;
  const int heads = j == 0 ? a.n_heads : a.n_kv_heads;
  const int64_t q_width = int64_t{a.n_heads} * hd, kv_width = int64_t{a.n_kv_heads} * hd;
  const int64_t block = j == 0 ? 0 : j == 1 ? q_width : q_width + kv_width;
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(heads * hd));
  for (int h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd; ++i)
      rows.push_back(layout == QkvLayout::FusedPerHead ? (h * 3 + j) * hd + i : block + h * hd + i);
  return rows;
}
}  // namespace

RowMatrix projection_rows(const Model& model, int layer, Proj proj) {
  const ArchSpec& a = model.arch();
  const ModelWeights& w = model.weights();
  if (layer < 0 || layer >= a.n_layers) fail("layer {} is out of range", layer);
  const LayerWeights& L = w.layers[layer];
  const bool qkv = proj == Proj::Q || proj == Proj::K || proj == Proj::V;
  if (!qkv || w.qkv_layout == QkvLayout::Separate) {
    if (a.layers[layer].moe && (proj == Proj::Up || proj == Proj::Gate || proj == Proj::Down))
      fail("internal: layer {} is a mixture of experts: its MLP matrices are per expert", layer);
    if (proj == Proj::Gate && !L.gate.weight) fail("the model has no gated MLP");
    const Linear& lin = proj == Proj::Q      ? L.q
                        : proj == Proj::K    ? L.k
                        : proj == Proj::V    ? L.v
                        : proj == Proj::O    ? L.o
                        : proj == Proj::Up   ? L.up
                        : proj == Proj::Gate ? L.gate
                                             : L.down;
    return rows(lin);
  }
  if (L.qkv.in_out) {  // stored transposed: projection_matrix picks the rows
    RowMatrix m{0, 0, DType::F32, nullptr, {}, {}};
    DenseMatrix d = projection_matrix(model, layer, proj);
    m.rows = d.rows, m.cols = d.cols, m.owned = std::move(d.data);
    return m;
  }
  // Fused [(H + 2 KV) hd, d] in place: the rows that make up Q, K or V.
  RowMatrix m{0, L.qkv.in, L.qkv.weight->dtype, L.qkv.data(), fused_rows(a, w.qkv_layout, proj), {}};
  m.rows = static_cast<int64_t>(m.index.size());
  return m;
}

RowMatrix expert_projection_rows(const Model& model, int layer, int expert, Proj proj) {
  const ArchSpec& a = model.arch();
  if (layer < 0 || layer >= a.n_layers || !a.layers[layer].moe) fail("internal: layer {} has no experts", layer);
  const LayerWeights& L = model.weights().layers[layer];
  if (expert < -1 || expert >= static_cast<int>(L.experts.size())) fail("internal: no expert {}", expert);
  const GatedMlp& e = expert < 0 ? L.shared : L.experts[expert];
  switch (proj) {
    case Proj::Up: return rows(e.up);
    case Proj::Gate: return rows(e.gate);
    case Proj::Down: return rows(e.down);
    default: fail("internal: an expert has no {}", to_string(proj));
  }
}

RowMatrix router_rows(const Model& model, int layer) {
  const ArchSpec& a = model.arch();
  if (layer < 0 || layer >= a.n_layers || !a.layers[layer].moe) fail("internal: layer {} has no router", layer);
  return rows(model.weights().layers[layer].router);
}

DenseMatrix projection_matrix(const Model& model, int layer, Proj proj) {
  const ArchSpec& a = model.arch();
  const ModelWeights& w = model.weights();
  if (layer < 0 || layer >= a.n_layers) fail("layer {} is out of range", layer);
  const LayerWeights& L = w.layers[layer];
  if (a.layers[layer].moe && (proj == Proj::Up || proj == Proj::Gate || proj == Proj::Down))
    fail("internal: layer {} is a mixture of experts: its MLP matrices are per expert", layer);
  switch (proj) {
    case Proj::O: return dense(L.o);
    case Proj::Up: return dense(L.up);
    case Proj::Down: return dense(L.down);
    case Proj::Gate:
      if (!L.gate.weight) fail("the model has no gated MLP");
      return dense(L.gate);
    default: break;
  }
  if (w.qkv_layout == QkvLayout::Separate) return dense(proj == Proj::Q ? L.q : proj == Proj::K ? L.k : L.v);
  // Fused: copy the rows of the [(H + 2 KV) hd, d] matrix that make up Q, K or V.
  const DenseMatrix fused = dense(L.qkv);
  const std::vector<int64_t> src = fused_rows(a, w.qkv_layout, proj);
  const int64_t d = a.d_model;
  DenseMatrix m{static_cast<int64_t>(src.size()), d, {}};
  m.data.resize(static_cast<size_t>(m.rows * d));
  for (int64_t r = 0; r < m.rows; ++r) std::copy_n(fused.data.begin() + src[r] * d, d, m.data.begin() + r * d);
  return m;
}

DenseMatrix expert_matrix(const Model& model, int layer, int expert, Proj proj) {
  const ArchSpec& a = model.arch();
  if (layer < 0 || layer >= a.n_layers || !a.layers[layer].moe) fail("internal: layer {} has no experts", layer);
  const LayerWeights& L = model.weights().layers[layer];
  if (expert < -1 || expert >= static_cast<int>(L.experts.size())) fail("internal: no expert {}", expert);
  const GatedMlp& e = expert < 0 ? L.shared : L.experts[expert];
  switch (proj) {
    case Proj::Up: return dense(e.up);
    case Proj::Gate: return dense(e.gate);
    case Proj::Down: return dense(e.down);
    default: fail("internal: an expert has no {}", to_string(proj));
  }
}

DenseMatrix router_matrix(const Model& model, int layer) {
  const ArchSpec& a = model.arch();
  if (layer < 0 || layer >= a.n_layers || !a.layers[layer].moe) fail("internal: layer {} has no router", layer);
  return dense(model.weights().layers[layer].router);
}

}  // namespace sg
