#pragma once
// A layer's projection matrices as dense float32 [out, in] (y = W x), whatever
// the checkpoint's layout (fused QKV, Conv1D, 16-bit): what weight statistics
// read. One matrix is materialised at a time.
#include <cstdint>
#include <vector>

#include "model/model.h"

namespace sg {

enum class Proj { Q, K, V, O, Up, Gate, Down };
const char* to_string(Proj p);

struct DenseMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major [rows, cols]
};

// Throws if the model has no such projection (Gate on a non-gated MLP; Up,
// Gate, Down on a mixture-of-experts layer, whose MLP matrices are per expert).
DenseMatrix projection_matrix(const Model& model, int layer, Proj proj);
// A sparse layer's expert e (e = -1: the shared expert): its Up, Gate or Down.
DenseMatrix expert_matrix(const Model& model, int layer, int expert, Proj proj);
// A sparse layer's router, [n_experts, d_model].
DenseMatrix router_matrix(const Model& model, int layer);

}  // namespace sg
