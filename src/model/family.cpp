#include "model/family.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "util/error.h"

namespace sg {

extern const Family kGptNeoxFamily;
extern const Family kGptjFamily;
extern const Family kGpt2Family;
extern const Family kLlamaFamily;
extern const Family kQwen2Family;
extern const Family kMistralFamily;
extern const Family kQwen3Family;
extern const Family kGemmaFamily;
extern const Family kGemma2Family;
extern const Family kGemma3TextFamily;
extern const Family kPhi3Family;
extern const Family kOlmo2Family;
extern const Family kQwen2MoeFamily;
extern const Family kPhiFamily;

namespace {
const std::array<const Family*, 14> kFamilies{
    &kGptNeoxFamily, &kGptjFamily,   &kGpt2Family,       &kLlamaFamily, &kQwen2Family, &kMistralFamily,  &kQwen3Family,
    &kGemmaFamily,   &kGemma2Family, &kGemma3TextFamily, &kPhi3Family,  &kOlmo2Family, &kQwen2MoeFamily, &kPhiFamily};
}  // namespace

const Family* find_family(std::string_view model_type) {
  for (auto* f : kFamilies)
    if (f->model_type == model_type) return f;
  return nullptr;
}

std::vector<std::string_view> supported_model_types() {
  std::vector<std::string_view> out;
  for (auto* f : kFamilies) out.push_back(f->model_type);
  return out;
}

double read_rope_theta(const JsonConfig& config, std::initializer_list<const char*> legacy_keys, double dflt) {
  double theta = dflt;
  const char* field = "rope_theta";
  if (config.has("rope_parameters") && config.json()["rope_parameters"].is_object() &&
      config.sub("rope_parameters").has("rope_theta")) {
    theta = config.sub("rope_parameters").number({"rope_theta"});
    field = "rope_parameters.rope_theta";
  } else if (config.has("rope_theta")) {
    theta = config.number({"rope_theta"});
  } else if (legacy_keys.size()) {
    theta = config.number_or(legacy_keys, dflt);
    field = *legacy_keys.begin();
  }
  if (!(theta > 0) || !std::isfinite(theta)) config.field_error(field, "must be a positive number");
  return theta;
}

Activation parse_activation(const JsonConfig& config, const std::string& key, const std::string& value) {
  if (value == "gelu") return Activation::GeluErf;
  // HF's "gelu_new", "gelu_pytorch_tanh" and "gelu_fast" are the same tanh formula.
  if (value == "gelu_new" || value == "gelu_pytorch_tanh" || value == "gelu_fast") return Activation::GeluTanh;
  if (value == "silu" || value == "swish") return Activation::Silu;
  if (value == "relu") return Activation::Relu;
  config.field_error(key, "is \"" + value + "\", an activation streamgauge does not support yet");
}

void set_mha_heads(const JsonConfig& c, ArchSpec& s, const char* heads_field, const char* width_field) {
  s.n_kv_heads = s.n_heads;
  if (s.n_heads > 0 && s.d_model % s.n_heads) c.field_error(heads_field, std::string("must divide ") + width_field);
  s.d_head = s.n_heads > 0 ? s.d_model / s.n_heads : 0;
}

void read_gpt2_style(const JsonConfig& c, ArchSpec& s, int64_t default_positions) {
  s.n_layers = c.dimension({"n_layer", "num_hidden_layers"});
  s.d_model = c.dimension({"n_embd", "hidden_size"});
  s.n_heads = c.dimension({"n_head", "num_attention_heads"});
  set_mha_heads(c, s, "n_head", "n_embd");
  s.d_mlp = c.dimension_or({"n_inner"},
                           static_cast<int>(std::min<int64_t>(4 * int64_t{s.d_model}, 1 << 30)));  // null -> 4 n_embd
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"n_positions", "max_position_embeddings"}, default_positions);
  s.norm = NormKind::LayerNorm;
  s.norm_eps = read_eps(c, "layer_norm_epsilon", 1e-5);
}

double read_eps(const JsonConfig& c, const char* field, double dflt) {
  const double eps = c.number_or({field}, dflt);
  if (!(eps >= 0) || !std::isfinite(eps)) c.field_error(field, "must be a non-negative number");
  return eps;
}

void uniform_layers(const JsonConfig& c, ArchSpec& s, const LayerSpec& layer) {
  if (s.n_layers <= 0) c.field_error("num_hidden_layers", "must be positive");
  if (s.n_layers > 4096) fail("{}: the model dimensions are implausibly large", c.source());
  s.layers.assign(static_cast<size_t>(std::max(s.n_layers, 0)), layer);
}

int read_head_dim(const JsonConfig& c, int d_model, int n_heads, int dflt_head_dim) {
  if (c.has("head_dim")) return c.dimension({"head_dim"});
  if (dflt_head_dim > 0) return dflt_head_dim;
  if (n_heads > 0 && d_model % n_heads)
    c.field_error("num_attention_heads", "must divide hidden_size (or config.json must give head_dim)");
  return n_heads > 0 ? d_model / n_heads : 0;
}

int64_t read_window(const JsonConfig& c, const char* field, int64_t absent_default) {
  if (!c.contains(field)) return absent_default;
  if (!c.has(field)) return 0;  // null: no window
  const int64_t w = c.integer({field});
  if (w <= 0) c.field_error(field, "must be a positive number of tokens (or null for no window)");
  return w;
}

void finish_spec(const JsonConfig& config, ArchSpec& s) {
  if (s.layers.empty()) uniform_layers(config, s);
  auto positive = [&](int64_t v, const char* field) {
    if (v <= 0) config.field_error(field, "must be positive");
  };
  positive(s.n_layers, "num_hidden_layers");
  positive(s.d_model, "hidden_size");
  positive(s.n_heads, "num_attention_heads");
  positive(s.n_kv_heads, "num_key_value_heads");
  positive(s.d_mlp, "intermediate_size");
  positive(s.vocab_size, "vocab_size");
  positive(s.d_head, "head_dim");
  // Bounds that keep every buffer size computable (and reject absurd configs).
  if (s.d_model > (1 << 20) || s.d_mlp > (1 << 22) || s.n_heads > 4096 || s.n_layers > 4096 ||
      s.vocab_size > (1 << 24) || static_cast<int64_t>(s.n_heads) * s.d_head > (1 << 20))
    fail("{}: the model dimensions are implausibly large", config.source());
  if (s.n_heads % s.n_kv_heads != 0) config.field_error("num_key_value_heads", "must divide num_attention_heads");
  if (s.rotary_dim < 0 || s.rotary_dim > s.d_head || s.rotary_dim % 2 != 0)
    config.field_error("rotary_dim", "must be an even number of dimensions within a head");
  if (s.max_positions <= 0) config.field_error("max_position_embeddings", "must be positive");
  for (LayerSpec& l : s.layers) {
    if (l.attn_scale == 0) l.attn_scale = 1.0 / std::sqrt(static_cast<double>(s.d_head));
    if (l.rope < 0 || (s.rotary != RotaryStyle::None && static_cast<size_t>(l.rope) >= s.ropes.size()))
      fail("internal: {}: a layer names rotary table {} of {}", config.source(), l.rope, s.ropes.size());
  }
  for (const Rope& r : s.ropes)
    if (s.rotary != RotaryStyle::None && (r.inv_freq.size() != static_cast<size_t>(s.rotary_dim / 2) ||
                                          (!r.long_inv_freq.empty() && r.long_inv_freq.size() != r.inv_freq.size())))
      fail("internal: {}: a rotary table has {} frequencies for {} rotary dims", config.source(), r.inv_freq.size(),
           s.rotary_dim);
}

}  // namespace sg
