// Llama and Qwen2: HF LlamaConfig / Qwen2Config and their *ForCausalLM. RMSNorm,
// rotate_half rotary over the whole head, grouped-query attention, SwiGLU MLP.
// Qwen2 adds q/k/v biases (none on o_proj) and an optional sliding window.
#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate_common(const JsonConfig& c, const char* type) {
  refuse_rope_scaling(c);
  ArchSpec s;
  s.model_type = type;
  s.n_layers = c.integer({"num_hidden_layers"});
  s.d_model = c.integer({"hidden_size"});
  s.n_heads = c.integer({"num_attention_heads"});
  s.n_kv_heads = c.integer_or({"num_key_value_heads"}, s.n_heads);
  if (c.has("head_dim")) {
    s.d_head = c.integer({"head_dim"});
  } else {
    if (s.n_heads > 0 && s.d_model % s.n_heads) c.field_error("num_attention_heads", "must divide hidden_size");
    s.d_head = s.n_heads > 0 ? s.d_model / s.n_heads : 0;
  }
  s.d_mlp = c.integer({"intermediate_size"});
  s.vocab_size = c.integer({"vocab_size"});
  s.norm = NormKind::RMSNorm;
  s.norm_eps = c.number_or({"rms_norm_eps"}, 1e-6);
  s.rotary = RotaryStyle::Half;
  s.rotary_dim = s.d_head;
  s.rope_theta = read_rope_theta(c, {}, 10000.0);
  s.activation = parse_activation(c, "hidden_act", c.string_or({"hidden_act"}, "silu"));
  s.gated_mlp = true;
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, false);
  return s;
}

ArchSpec translate_llama(const JsonConfig& c) {
  ArchSpec s = translate_common(c, "llama");
  s.max_positions = c.integer_or({"max_position_embeddings"}, 2048);
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  s.mlp_bias = c.boolean_or({"mlp_bias"}, false);
  return s;
}

ArchSpec translate_qwen2(const JsonConfig& c) {
  ArchSpec s = translate_common(c, "qwen2");
  s.max_positions = c.integer_or({"max_position_embeddings"}, 32768);
  s.qkv_bias = true;
  // HF Qwen2 applies the window on layers >= max_window_layers when enabled.
  if (c.boolean_or({"use_sliding_window"}, false) && c.integer_or({"max_window_layers"}, 28) < s.n_layers)
    s.sliding_window = c.integer_or({"sliding_window"}, 4096);
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  auto bias = [](bool on) { return on ? Binder::Bias::Required : Binder::Bias::None; };
  const int64_t q_width = static_cast<int64_t>(s.n_heads) * s.d_head;
  const int64_t kv_width = static_cast<int64_t>(s.n_kv_heads) * s.d_head;
  ModelWeights w;
  w.qkv_layout = QkvLayout::Separate;
  w.embed = b.tensor("embed_tokens.weight", {s.vocab_size, s.d_model});
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, false);
    L.ln2 = b.norm(p + "post_attention_layernorm", s.d_model, false);
    L.q = b.linear(p + "self_attn.q_proj", s.d_model, q_width, bias(s.qkv_bias));
    L.k = b.linear(p + "self_attn.k_proj", s.d_model, kv_width, bias(s.qkv_bias));
    L.v = b.linear(p + "self_attn.v_proj", s.d_model, kv_width, bias(s.qkv_bias));
    L.o = b.linear(p + "self_attn.o_proj", q_width, s.d_model, bias(s.o_bias));
    L.gate = b.linear(p + "mlp.gate_proj", s.d_model, s.d_mlp, bias(s.mlp_bias));
    L.up = b.linear(p + "mlp.up_proj", s.d_model, s.d_mlp, bias(s.mlp_bias));
    L.down = b.linear(p + "mlp.down_proj", s.d_mlp, s.d_model, bias(s.mlp_bias));
    w.layers.push_back(L);
  }
  w.final_norm = b.norm("norm", s.d_model, false);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  w.unembed.weight = s.tied_embeddings ? w.embed : b.optional_root("lm_head.weight", {s.vocab_size, s.d_model});
  return w;
}

}  // namespace

extern const Family kLlamaFamily{"llama", "model.", "embed_tokens.weight", translate_llama, bind};
extern const Family kQwen2Family{"qwen2", "model.", "embed_tokens.weight", translate_qwen2, bind};

}  // namespace sg
