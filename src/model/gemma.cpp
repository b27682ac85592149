// Gemma and Gemma 2: HF GemmaConfig / Gemma2Config and their *ForCausalLM.
// The Llama block with RMSNorm gains (1 + w), the embedding scaled by
// sqrt(hidden_size), a GeGLU MLP (hidden_activation, tanh GELU by default;
// hidden_act is ignored as HF's GemmaMLP ignores it) and a tied head.
// Gemma 2 adds "sandwich" norms (a norm on each sublayer's output before the
// residual add), scores scaled by query_pre_attn_scalar^-0.5 and soft-capped,
// sliding-window attention on alternate layers, and soft-capped logits.
#include <cmath>

#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate_common(const JsonConfig& c, const char* type, int default_kv_heads) {
  refuse_rope_scaling(c);
  ArchSpec s;
  s.model_type = type;
  s.n_layers = c.dimension({"num_hidden_layers"});
  s.d_model = c.dimension({"hidden_size"});
  s.n_heads = c.dimension({"num_attention_heads"});
  s.n_kv_heads = c.dimension_or({"num_key_value_heads"}, default_kv_heads);
  s.d_head = read_head_dim(c, s.d_model, s.n_heads, 256);
  s.d_mlp = c.dimension({"intermediate_size"});
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"max_position_embeddings"}, 8192);
  s.norm = NormKind::RMSNorm;
  s.norm_eps = read_eps(c, "rms_norm_eps", 1e-6);
  s.norm_gain_plus_one = true;
  s.embed_scale = std::sqrt(static_cast<double>(s.d_model));  // rounded to the checkpoint's dtype by Model::load
  s.rotary = RotaryStyle::Half;
  s.rotary_dim = s.d_head;
  s.ropes = {plain_rope(s.d_head, read_rope_theta(c, {}, 10000.0))};
  s.activation = parse_activation(c, "hidden_activation", c.string_or({"hidden_activation"}, "gelu_pytorch_tanh"));
  s.gated_mlp = true;
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  // save_pretrained omits tie_word_embeddings when it is the class default (true).
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, true);
  uniform_layers(c, s);
  return s;
}

ArchSpec translate_gemma(const JsonConfig& c) { return translate_common(c, "gemma", 16); }

// A soft-cap field: absent -> HF's default, null -> no capping.
double read_softcap(const JsonConfig& c, const char* field, double absent_default) {
  if (!c.contains(field)) return absent_default;
  if (!c.has(field)) return 0;
  const double v = c.number({field});
  if (!(v > 0) || !std::isfinite(v)) c.field_error(field, "must be a positive number (or null for no capping)");
  return v;
}

ArchSpec translate_gemma2(const JsonConfig& c) {
  ArchSpec s = translate_common(c, "gemma2", 4);
  const double qpas = c.number_or({"query_pre_attn_scalar"}, 256);
  if (!(qpas > 0)) c.field_error("query_pre_attn_scalar", "must be positive");
  const double attn_cap = read_softcap(c, "attn_logit_softcapping", 50.0);
  s.final_softcap = read_softcap(c, "final_logit_softcapping", 30.0);
  const int64_t window = read_window(c, "sliding_window", 4096);
  // Which layers slide: an explicit layer_types list wins; else HF's default
  // "sliding_attention" if (l + 1) % 2 else "full_attention" (even layers slide).
  std::vector<bool> sliding(static_cast<size_t>(s.n_layers));
  for (int l = 0; l < s.n_layers; ++l) sliding[l] = (l + 1) % 2 != 0;
  if (c.has("layer_types")) {
    const auto& types = c.json()["layer_types"];
    if (!types.is_array() || types.size() != static_cast<size_t>(s.n_layers))
      c.field_error("layer_types", "must be a list of num_hidden_layers entries");
    for (int l = 0; l < s.n_layers; ++l) {
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
  for (int l = 0; l < s.n_layers; ++l) {
    LayerSpec& L = s.layers[l];
    L.window = sliding[l] ? window : 0;
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

}  // namespace sg
