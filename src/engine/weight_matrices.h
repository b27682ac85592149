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

// The same matrices read in place, row by row, in the checkpoint's own dtype
// (what the weight norms stream at memory bandwidth): row r of the [rows, cols]
// matrix is `cols` consecutive elements of `dtype` at row(r). A weight stored
// transposed ([in, out], GPT-2's Conv1D) has no rows in place: it is widened to
// float32 once (`owned`, one matrix at a time).
struct RowMatrix {
  int64_t rows = 0, cols = 0;
  DType dtype = DType::F32;
  const std::byte* base = nullptr;  // stored row i at base + i * cols elements
  std::vector<int64_t> index;       // the stored row of each row; empty: row r is stored row r
  std::vector<float> owned;         // transposed storage, materialised (base unused)
  const std::byte* row(int64_t r) const {
    if (!owned.empty()) return reinterpret_cast<const std::byte*>(owned.data() + r * cols);
    const int64_t i = index.empty() ? r : index[static_cast<size_t>(r)];
    return base + static_cast<size_t>(i * cols) * dtype_size(dtype);
  }
};
// A view of a float32 DenseMatrix (which must outlive it).
RowMatrix rows_of(const DenseMatrix& m);
RowMatrix projection_rows(const Model& model, int layer, Proj proj);
RowMatrix expert_projection_rows(const Model& model, int layer, int expert, Proj proj);
RowMatrix router_rows(const Model& model, int layer);

}  // namespace sg
