#include "model/model.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <set>

#include "io/json_config.h"
#include "model/family.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {

namespace {

const Family& family_of(const JsonConfig& c) {
  const std::string type = c.string({"model_type"});
  const Family* f = find_family(type);
  if (!f)
    c.field_error("model_type", fmt::format("is \"{}\", which streamgauge does not support (supported: {})", type,
                                            fmt::join(supported_model_types(), ", ")));
  return *f;
}

ArchSpec translate(const JsonConfig& c) {
  ArchSpec s = family_of(c).translate(c);
  finish_spec(c, s);
  return s;
}

// Every distinct tensor bound to a weight role; with a stage, only those it holds.
std::set<const TensorView*> bound_tensors(const ModelWeights& w, const Model::Stage* stage = nullptr) {
  std::set<const TensorView*> out;
  auto add = [&](const TensorView* t) {
    if (t) out.insert(t);
  };
  auto lin = [&](const Linear& l) {
    add(l.weight);
    add(l.bias);
  };
  if (!stage || stage->first()) {
    add(w.embed);
    add(w.pos_embed);
  }
  for (size_t l = 0; l < w.layers.size(); ++l) {
    if (stage && !stage->holds_layer(static_cast<int>(l))) continue;
    const LayerWeights& L = w.layers[l];
    for (const NormWeights* n : L.norms()) {
      add(n->weight);
      add(n->bias);
    }
    for (auto* p : {&L.qkv, &L.q, &L.k, &L.v, &L.o, &L.up, &L.gate, &L.down, &L.router, &L.shared_gate}) lin(*p);
    for (const GatedMlp& e : L.experts)
      for (auto* p : {&e.gate, &e.up, &e.down}) lin(*p);
    for (auto* p : {&L.shared.gate, &L.shared.up, &L.shared.down}) lin(*p);
  }
  if (!stage || stage->last()) {
    add(w.final_norm.weight);
    add(w.final_norm.bias);
    lin(w.unembed);
  }
  return out;
}

}  // namespace

ArchSpec translate_config(const std::string& config_text, const std::string& source) {
  return translate(JsonConfig(config_text, source));
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir, int stage, int stages) {
  if (!std::filesystem::is_directory(dir)) fail("{}: no such model directory", dir.string());
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path)) fail("{}: config.json is missing", dir.string());
  if (std::filesystem::is_directory(config_path)) fail("{}: is a directory, not a file", config_path.string());

  auto m = std::unique_ptr<Model>(new Model());
  m->dir_ = dir;
  m->config_text_ = read_file(config_path);
  const JsonConfig config(m->config_text_, config_path.string());
  const Family& family = family_of(config);
  m->random_weights_ = config.has("streamgauge_synthetic");
  m->arch_ = translate(config);
  const int L = m->arch_.n_layers;
  if (stages < 1 || stage < 0 || stage >= stages) fail("internal: stage {} of {}", stage, stages);
  if (stages > L)
    fail("{}: {} pipeline stages for a model of {} layers (at most one stage per layer)", dir.string(), stages, L);
  m->stage_ = stage_of(L, stage, stages);
  m->store_ = TensorStore::open_dir(dir);

  Binder binder(*m->store_, {std::string(family.prefix), ""}, std::string(family.probe));
  m->weights_ = family.bind(m->arch_, binder);
  if (auto extra = binder.unused(m->arch_.tied_embeddings); !extra.empty()) {
    if (extra.size() > 5) extra.resize(5);
    warnf("{}: {} tensor(s) not used by the {} architecture, e.g. {}", dir.string(), extra.size(), m->arch_.model_type,
          fmt::join(extra, ", "));
  }
  if (!m->weights_.unembed.weight)
    warnf("{}: no unembedding tensor (a base-model checkpoint?): logits are unavailable", dir.string());

  const auto tensors = bound_tensors(m->weights_);
  const auto held = bound_tensors(m->weights_, &m->stage_);
  std::set<const TensorView*> norm_gains{m->weights_.final_norm.weight};
  for (auto& L : m->weights_.layers)
    for (const NormWeights* n : L.norms()) norm_gains.insert(n->weight);
  m->weight_dtype_ = m->weights_.layers.at(0).o.weight->dtype;
  for (const TensorView* t : tensors) m->n_params_ += t->numel();
  for (const TensorView* t : held) {  // (only these are read: a stage's pages stay its own)
    if (size_t bad = count_non_finite(t->dtype, t->data, t->numel()))
      warnf("{}: tensor {} has {} non-finite value(s)", t->file->string(), t->name, bad);
    if (t->rank() == 1) {
      auto& v = m->vectors_[t];
      v.resize(t->numel());
      to_f32(t->dtype, t->data, v.data(), v.size());
      // Gemma's norms multiply by (1 + w): HF's `1.0 + self.weight.float()`, in float32.
      if (m->arch_.norm_gain_plus_one && norm_gains.count(t))
        for (float& g : v) g = 1.0f + g;
    }
  }
  // Gemma scales the embedding by sqrt(hidden_size) as a tensor of the
  // embedding's dtype (in BF16, sqrt(3072) = 55.43 becomes 55.5).
  if (m->arch_.embed_scale != 1.0) {
    const float f = static_cast<float>(m->arch_.embed_scale);
    if (m->weights_.embed->dtype == DType::BF16)
      m->arch_.embed_scale = bf16_to_f32(f32_to_bf16(f));
    else if (m->weights_.embed->dtype == DType::F16)
      m->arch_.embed_scale = f16_to_f32(f32_to_f16(f));
    else
      m->arch_.embed_scale = f;
  }
  const auto& w = m->weights_;
  int64_t embedding = w.embed->numel() + (w.pos_embed ? w.pos_embed->numel() : 0);
  if (w.unembed.weight && w.unembed.weight != w.embed) embedding += w.unembed.weight->numel();
  m->n_params_non_embedding_ = m->n_params_ - embedding;
  return m;
}

Model::Stage Model::stage_of(int n_layers, int index, int count) {
  return {index, count, static_cast<int>(int64_t{n_layers} * index / count),
          static_cast<int>(int64_t{n_layers} * (index + 1) / count)};
}

std::string Model::name_of(const std::filesystem::path& dir) {
  auto abs = std::filesystem::absolute(dir).lexically_normal();
  if (!abs.has_filename()) abs = abs.parent_path();
  // HF cache layout: .../models--ORG--NAME/snapshots/<commit>
  const auto parent = abs.parent_path();
  if (parent.filename() == "snapshots") {
    std::string repo = parent.parent_path().filename().string();
    if (repo.rfind("models--", 0) == 0) {
      repo = repo.substr(8);
      if (auto pos = repo.find("--"); pos != std::string::npos) repo = repo.substr(0, pos) + "/" + repo.substr(pos + 2);
      return repo;
    }
  }
  return abs.filename().string();
}

const float* Model::vec(const TensorView* t) const {
  if (!t) return nullptr;
  auto it = vectors_.find(t);
  if (it == vectors_.end()) fail("internal: tensor {} is not a bound vector", t->name);
  return it->second.data();
}

}  // namespace sg
