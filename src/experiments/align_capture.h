#pragma once
// The bridge between the engine's last-token capture and the align statistics:
// when the a-side texts of N pairs ran as sequences [0, N) and the b-side texts
// as [N, 2N), each layer's kept rows are already the six N x d_model matrices
// analyze() reads (LastTokenRows stores every layer and point as one block of
// consecutive sequences), so this only builds views into them.
#include <vector>

#include "experiments/alignment_stats.h"
#include "measure/last_token.h"
#include "util/error.h"

namespace sg::align {

// Views into `rows` (which must outlive them), one LayerPair per layer.
inline std::vector<LayerPair> layer_pairs(const LastTokenRows& rows) {
  if (rows.n_sequences() % 2 != 0)
    fail("align: {} captured sequences cannot be split into a and b halves", rows.n_sequences());
  const size_t n = rows.n_sequences() / 2, d = static_cast<size_t>(rows.d_model());
  auto view = [&](int layer, LastTokenPoint p, size_t first) { return MatrixView{rows.row(layer, p, first), n, d}; };
  std::vector<LayerPair> out;
  for (int l = 0; l < rows.n_layers(); ++l) {
    LayerPair lp;
    for (auto [side, first] : {std::pair{&lp.a, size_t{0}}, std::pair{&lp.b, n}}) {
      side->h_pre = view(l, LastTokenPoint::ResidPre, first);
      side->attn_delta = view(l, LastTokenPoint::AttnOut, first);
      side->mlp_delta = view(l, LastTokenPoint::MlpOut, first);
    }
    out.push_back(lp);
  }
  return out;
}

}  // namespace sg::align
