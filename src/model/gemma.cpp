// Gemma, Gemma 2 and Gemma 3 (text): HF GemmaConfig / Gemma2Config /
// Gemma3TextConfig and their *ForCausalLM. The Llama block with RMSNorm gains
// (1 + w), the embedding scaled by sqrt(hidden_size), a GeGLU MLP
// (hidden_activation, tanh GELU by default; hidden_act is ignored as HF's
// GemmaMLP ignores it) and a tied head.
// Gemma 2 adds "sandwich" norms (a norm on each sublayer's output before the
// residual add), scores scaled by query_pre_attn_scalar^-0.5 and soft-capped,
// sliding-window attention on alternate layers, and soft-capped logits.
// Gemma 3 adds per-head q/k norms (1 + w), a sliding/global layer pattern
// (layer_types, or sliding_window_pattern: every pattern-th layer global), a
// rope base of its own for the sliding layers (rope_local_base_freq, never
// scaled) with rope_scaling on the global layers only, and soft-caps only when
// configured.
#include <cmath>

#include "model/family.h"

namespace sg {

double read_softcap(const JsonConfig& c, const char* field, double absent_default) {
  if (!c.contains(field)) return absent_default;
  if (!c.has(field)) return 0;
  const double v = c.number({field});
  if (!(v > 0) || !std::isfinite(v)) c.field_error(field, "must be a positive number (or null for no capping)");
  return v;
}

namespace {

struct GemmaDefaults {
  int kv_heads = 16;
  int64_t max_positions = 8192;
  double rope_theta = 10000;
};

ArchSpec translate_common(const JsonConfig& c, const char* type, const GemmaDefaults& dflt) {
  ArchSpec s;
  s.model_type = type;
  s.n_layers = c.dimension({"num_hidden_layers"});
  s.d_model = c.dimension({"hidden_size"});
  s.n_heads = c.dimension({"num_attention_heads"});
  s.n_kv_heads = c.dimension_or({"num_key_value_heads"}, dflt.kv_heads);
  s.d_head = read_head_dim(c, s.d_model, s.n_heads, 256);
  s.d_mlp = c.dimension({"intermediate_size"});
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"max_position_embeddings"}, dflt.max_positions);
  s.norm = NormKind::RMSNorm;
  s.norm_eps = read_eps(c, "rms_norm_eps", 1e-6);
  s.norm_gain_plus_one = true;
  s.embed_scale = std::sqrt(static_cast<double>(s.d_model));  // rounded to the checkpoint's dtype by Model::load
  s.rotary = RotaryStyle::Half;
  s.rotary_dim = s.d_head;
  s.activation = parse_activation(c, "hidden_activation", c.string_or({"hidden_activation"}, "gelu_pytorch_tanh"));
  s.gated_mlp = true;
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  // save_pretrained omits tie_word_embeddings when it is the class default (true).
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, true);
  uniform_layers(c, s);
  return s;
}

ArchSpec translate_gemma(const JsonConfig& c) {
  refuse_rope_scaling(c);
  ArchSpec s = translate_common(c, "gemma", {});
  s.ropes = {plain_rope(s.d_head, read_rope_theta(c, {}, 10000.0))};
  return s;
}

// Which layers slide: an explicit layer_types list wins; else layer l slides
// iff (l + 1) % pattern != 0 (HF's default when layer_types is absent).
std::vector<bool> sliding_layers(const JsonConfig& c, int n_layers, int64_t pattern) {
  std::vector<bool> sliding(static_cast<size_t>(n_layers));
  for (int l = 0; l < n_layers; ++l) sliding[l] = (l + 1) % pattern != 0;
  if (c.has("layer_types")) {
    const auto& types = c.json()["layer_types"];
    if (!types.is_array() || types.size() != static_cast<size_t>(n_layers))
      c.field_error("layer_types", "must be a list of num_hidden_layers entries");
    for (int l = 0; l < n_layers; ++l) {
      const auto& t = types[static_cast<size_t>(l)];
      if (t == "sliding_attention")
        sliding[l] = true;
      else if (t == "full_attention")
        sliding[l] = false;
      else
        c.field_error("layer_types", "entry " + std::to_string(l) + " is " + t.dump() +
                                         ", not \"sliding_attention\" or \"full_attention\"");
    }
  }
  return sliding;
}

double read_query_pre_attn_scalar(const JsonConfig& c) {
  const double qpas = c.number_or({"query_pre_attn_scalar"}, 256);
  if (!(qpas > 0) || !std::isfinite(qpas)) c.field_error("query_pre_attn_scalar", "must be positive");
  return qpas;
}

ArchSpec translate_gemma2(const JsonConfig& c) {
  refuse_rope_scaling(c);
  ArchSpec s = translate_common(c, "gemma2", {.kv_heads = 4});
  s.ropes = {plain_rope(s.d_head, read_rope_theta(c, {}, 10000.0))};
  const double qpas = read_query_pre_attn_scalar(c);
  const double attn_cap = read_softcap(c, "attn_logit_softcapping", 50.0);
  s.final_softcap = read_softcap(c, "final_logit_softcapping", 30.0);
  const int64_t window = read_window(c, "sliding_window", 4096);
  const std::vector<bool> sliding = sliding_layers(c, s.n_layers, 2);  // even layers slide
  for (int l = 0; l < s.n_layers; ++l) {
    LayerSpec& L = s.layers[l];
    L.window = sliding[l] ? window : 0;
    L.attn_scale = 1.0 / std::sqrt(qpas);
    L.attn_softcap = attn_cap;
    L.post_attn_norm = L.post_mlp_norm = true;
  }
  return s;
}

ArchSpec translate_gemma3(const JsonConfig& c) {
  ArchSpec s = translate_common(c, "gemma3_text", {.kv_heads = 4, .max_positions = 131072});
  if (c.boolean_or({"use_bidirectional_attention"}, false))
    c.field_error("use_bidirectional_attention", "is true: streamgauge runs causal decoders only");
  s.qk_norm = true;
  // ropes[0]: the global layers' (rope_theta, default 1e6, with rope_scaling);
  // ropes[1]: the sliding layers' (rope_local_base_freq, default 1e4, unscaled).
  s.ropes = {read_rope(c, s.d_head, read_rope_theta(c, {}, 1e6), s.max_positions)};
  const double local_base = c.number_or({"rope_local_base_freq"}, 10000.0);
  if (!(local_base > 0) || !std::isfinite(local_base)) c.field_error("rope_local_base_freq", "must be positive");
  s.ropes.push_back(plain_rope(s.d_head, local_base));
  const double qpas = read_query_pre_attn_scalar(c);
  const double attn_cap = read_softcap(c, "attn_logit_softcapping", 0);
  s.final_softcap = read_softcap(c, "final_logit_softcapping", 0);
  const int64_t window = read_window(c, "sliding_window", 4096);
  // Older configs: sliding_window_pattern; transformers >= 4.53 write layer_types
  // (and keep the pattern as _sliding_window_pattern).
  int64_t pattern = 6;
  for (const char* key : {"sliding_window_pattern", "_sliding_window_pattern"})
    if (c.has(key)) {
      pattern = c.integer({key});
      if (pattern <= 0) c.field_error(key, "must be a positive number of layers");
      break;
    }
  const std::vector<bool> sliding = sliding_layers(c, s.n_layers, pattern);
  for (int l = 0; l < s.n_layers; ++l) {
    LayerSpec& L = s.layers[l];
    L.window = sliding[l] ? window : 0;
    L.rope = sliding[l] ? 1 : 0;
    L.attn_scale = 1.0 / std::sqrt(qpas);
    L.attn_softcap = attn_cap;
    L.post_attn_norm = L.post_mlp_norm = true;
  }
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  bind_llama_ends(s, b, w);
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    const LayerSpec& spec = s.layers[l];
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, false);
    // Gemma 2's post_attention_layernorm normalises the attention OUTPUT; its
    // MLP reads pre_feedforward_layernorm. Gemma's is the MLP's input norm.
    if (spec.post_attn_norm) L.attn_post = b.norm(p + "post_attention_layernorm", s.d_model, false);
    L.ln2 =
        b.norm(p + (spec.post_attn_norm ? "pre_feedforward_layernorm" : "post_attention_layernorm"), s.d_model, false);
    if (spec.post_mlp_norm) L.mlp_post = b.norm(p + "post_feedforward_layernorm", s.d_model, false);
    bind_llama_projections(s, b, p, L);  // Gemma's MLP has no biases (mlp_bias stays false)
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace

extern const Family kGemmaFamily{"gemma", "model.", "embed_tokens.weight", translate_gemma, bind};
extern const Family kGemma2Family{"gemma2", "model.", "embed_tokens.weight", translate_gemma2, bind};
extern const Family kGemma3TextFamily{"gemma3_text", "model.", "embed_tokens.weight", translate_gemma3, bind};

}  // namespace sg
