#include "model/family.h"

#include <array>

#include "util/error.h"

namespace sg {

extern const Family kGptNeoxFamily;
extern const Family kGptjFamily;
extern const Family kGpt2Family;
extern const Family kLlamaFamily;
extern const Family kQwen2Family;

namespace {
const std::array<const Family*, 5> kFamilies{&kGptNeoxFamily, &kGptjFamily, &kGpt2Family, &kLlamaFamily,
                                             &kQwen2Family};
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

void refuse_rope_scaling(const JsonConfig& config) {
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!config.has(key)) continue;
    const auto& v = config.json()[key];
    if (!v.is_object()) config.field_error(key, "must be an object or null");
    std::string type = "default";
    for (const char* k : {"rope_type", "type"})
      if (v.contains(k) && v[k].is_string()) type = v[k].get<std::string>();
    if (type != "default")
      config.field_error(key, "has rope_type \"" + type + "\", which streamgauge does not support yet");
  }
}

double read_rope_theta(const JsonConfig& config, std::initializer_list<const char*> legacy_keys, double dflt) {
  if (config.has("rope_parameters")) {
    const auto& rp = config.json()["rope_parameters"];
    if (rp.contains("rope_theta")) {
      if (!rp["rope_theta"].is_number()) config.field_error("rope_parameters.rope_theta", "must be a number");
      return rp["rope_theta"].get<double>();
    }
  }
  if (config.has("rope_theta")) return config.number({"rope_theta"});
  return legacy_keys.size() ? config.number_or(legacy_keys, dflt) : dflt;
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
  s.n_layers = c.integer({"n_layer", "num_hidden_layers"});
  s.d_model = c.integer({"n_embd", "hidden_size"});
  s.n_heads = c.integer({"n_head", "num_attention_heads"});
  set_mha_heads(c, s, "n_head", "n_embd");
  s.d_mlp = c.integer_or({"n_inner"}, 4 * s.d_model);  // n_inner null -> 4 * n_embd
  s.vocab_size = c.integer({"vocab_size"});
  s.max_positions = c.integer_or({"n_positions", "max_position_embeddings"}, default_positions);
  s.norm = NormKind::LayerNorm;
  s.norm_eps = c.number_or({"layer_norm_epsilon"}, 1e-5);
}

void validate_spec(const JsonConfig& config, const ArchSpec& s) {
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
  if (s.n_heads % s.n_kv_heads != 0)
    config.field_error("num_key_value_heads", "must divide num_attention_heads");
  if (s.rotary_dim < 0 || s.rotary_dim > s.d_head || s.rotary_dim % 2 != 0)
    config.field_error("rotary_dim", "must be an even number of dimensions within a head");
  if (!(s.norm_eps >= 0)) config.field_error("layer_norm_eps", "must be non-negative");
  if (!(s.rope_theta > 0)) config.field_error("rope_theta", "must be positive");
  if (s.max_positions <= 0) config.field_error("max_position_embeddings", "must be positive");
}

}  // namespace sg
