#pragma once
// A plain float64 forward pass of one token sequence, beside the fast Engine
// (the llm.c habit): simple loops, every weight widened exactly from its
// F32/F16/BF16 storage, every intermediate kept in double, no threads and no
// vector code. It shares nothing with the engine's kernels, only the ArchSpec
// and the bound weights of a loaded Model, so it is an independent check of
// them: tests compare the engine against it on random architectures, and it
// against the golden float64 data.
//
// It is slow (a few multiply-adds per nanosecond at best) and meant for small
// models and short sequences.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "model/model.h"

namespace sg {

struct ReferenceTensor {
  std::vector<int64_t> shape;  // [T, width], or [heads, T, T] for attention patterns
  std::vector<double> data;    // row-major
};

// Every capture point of the model's architecture (capture_points(arch)), keyed
// by its name (PointId::name(), e.g. "blocks.3.hook_attn_out"): the tensors the
// engine's CaptureStore records for one sequence, without its "seq{i}." prefix.
// The logits are left out if the checkpoint has no unembedding. Throws sg::Error
// for an empty sequence, token ids outside the vocabulary, or more tokens than
// the model's positions (or its sliding window).
std::map<std::string, ReferenceTensor> reference_forward(const Model& model, std::span<const int32_t> tokens);

}  // namespace sg
