#pragma once
// Binds checkpoint tensors to weight roles, checking dtype and shape, and keeps
// track of which tensors were used so leftovers can be reported.
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "model/weights.h"

namespace sg {

class Binder {
 public:
  // `prefixes`: candidate name prefixes in order (e.g. "gpt_neox.", ""); the first
  // one under which `probe` exists is used for all prefixed names.
  Binder(const TensorStore& store, const std::vector<std::string>& prefixes, const std::string& probe);

  // A prefixed tensor with the given shape (throws naming the file if absent or wrong).
  const TensorView* tensor(const std::string& name, std::vector<int64_t> shape);
  // Same, but nullptr if absent.
  const TensorView* optional(const std::string& name, std::vector<int64_t> shape);
  // Unprefixed variants (e.g. "lm_head.weight", which sits outside the base model).
  const TensorView* optional_root(const std::string& name, std::vector<int64_t> shape);

  enum class Bias { None, Required, Optional };
  // "<base>.weight" ([out, in], or [in, out] if in_out) and "<base>.bias" ([out]).
  Linear linear(const std::string& base, int64_t in, int64_t out, Bias bias, bool in_out = false);
  // "<base>.weight" and, for LayerNorm, "<base>.bias", each [d].
  NormWeights norm(const std::string& base, int64_t d, bool with_bias);

  // Tensors of the store never bound, minus known non-parameter buffers.
  std::vector<std::string> unused(bool tied) const;
  const TensorStore& store() const { return store_; }

 private:
  const TensorView* check(const TensorView* t, const std::vector<int64_t>& shape);
  const TensorStore& store_;
  std::string prefix_;
  std::set<std::string> used_;
};

}  // namespace sg
