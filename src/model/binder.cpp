#include "model/binder.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/error.h"

namespace sg {

Binder::Binder(const TensorStore& store, const std::vector<std::string>& prefixes, const std::string& probe)
    : store_(store) {
  for (auto& p : prefixes) {
    if (store.find(p + probe)) {
      prefix_ = p;
      return;
    }
  }
  fail("{}: tensor {}{} is missing (not a checkpoint of this architecture?)", store.location().string(),
       prefixes.front(), probe);
}

const TensorView* Binder::check(const TensorView* t, const std::vector<int64_t>& shape) {
  if (!t) return nullptr;
  if (!is_float(t->dtype) || t->dtype == DType::F64)
    fail("{}: tensor {} has dtype {}; weights must be F32, F16 or BF16", t->file->string(), t->name,
         dtype_name(t->dtype));
  if (t->shape != shape)
    fail("{}: tensor {} has shape {}, but config.json implies [{}]", t->file->string(), t->name, t->shape_str(),
         fmt::join(shape, ", "));
  used_.insert(t->name);
  return t;
}

const TensorView* Binder::optional(const std::string& name, std::vector<int64_t> shape) {
  return check(store_.find(prefix_ + name), shape);
}

const TensorView* Binder::tensor(const std::string& name, std::vector<int64_t> shape) {
  auto* t = optional(name, shape);
  if (!t) fail("{}: tensor {}{} is missing", store_.location().string(), prefix_, name);
  return t;
}

const TensorView* Binder::optional_root(const std::string& name, std::vector<int64_t> shape) {
  return check(store_.find(name), shape);
}

Linear Binder::linear(const std::string& base, int64_t in, int64_t out, Bias bias, bool in_out) {
  Linear l;
  l.in = in;
  l.out = out;
  l.in_out = in_out;
  l.weight = tensor(base + ".weight", in_out ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in});
  if (bias == Bias::Required) l.bias = tensor(base + ".bias", {out});
  if (bias == Bias::Optional) l.bias = optional(base + ".bias", {out});
  return l;
}

NormWeights Binder::norm(const std::string& base, int64_t d, bool with_bias) {
  NormWeights n;
  n.weight = tensor(base + ".weight", {d});
  if (with_bias) n.bias = tensor(base + ".bias", {d});
  return n;
}

namespace {
bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::vector<std::string> Binder::unused(bool tied) const {
  // Non-parameter buffers some checkpoints carry (causal masks, rotary tables).
  static constexpr std::string_view kBuffers[] = {".attn.bias", ".attn.masked_bias", ".attention.bias",
                                                  ".attention.masked_bias", ".rotary_emb.inv_freq"};
  std::vector<std::string> out;
  for (auto& n : store_.names()) {
    if (used_.count(n)) continue;
    bool buffer = false;
    for (auto b : kBuffers) buffer = buffer || ends_with(n, b);
    // A tied model may still carry its (identical) head; the embedding is used.
    if (buffer || (tied && n == "lm_head.weight")) continue;
    out.push_back(n);
  }
  return out;
}

}  // namespace sg
