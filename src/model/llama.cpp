// The Llama family of HF configs: LlamaConfig, Qwen2Config, MistralConfig,
// Qwen3Config and their *ForCausalLM. RMSNorm, rotate_half rotary over the whole
// head (rope scaling: model/rope.h), grouped-query attention, SwiGLU MLP.
//   qwen2:   q/k/v biases (none on o_proj)
//   mistral: a sliding window on every layer, explicit head_dim
//   qwen3:   RMSNorm of each head's q and k before rotary, explicit head_dim
#include "model/family.h"

namespace sg {

ArchSpec translate_llama_style(const JsonConfig& c, const char* type, const LlamaDefaults& dflt) {
  ArchSpec s;
  s.model_type = type;
  s.n_layers = c.dimension({"num_hidden_layers"});
  s.d_model = c.dimension({"hidden_size"});
  s.n_heads = c.dimension({"num_attention_heads"});
  s.n_kv_heads = c.dimension_or({"num_key_value_heads"}, s.n_heads);
  s.d_head = read_head_dim(c, s.d_model, s.n_heads, dflt.head_dim);
  s.d_mlp = c.dimension({"intermediate_size"});
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"max_position_embeddings"}, dflt.max_positions);
  s.norm = NormKind::RMSNorm;
  s.norm_eps = read_eps(c, "rms_norm_eps", dflt.eps);
  s.rotary = RotaryStyle::Half;
  s.rotary_dim = s.d_head;
  const double theta = read_rope_theta(c, {}, 10000.0);
  s.ropes = {dflt.rope_scaling ? read_rope(c, s.d_head, theta, s.max_positions) : plain_rope(s.d_head, theta)};
  s.activation = parse_activation(c, "hidden_act", c.string_or({"hidden_act"}, "silu"));
  s.gated_mlp = true;
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, false);
  uniform_layers(c, s);
  return s;
}

// Qwen2, Qwen3 and Qwen2-MoE window some layers when use_sliding_window is true
// (false in every released checkpoint); which ones has changed between HF
// versions and no golden data pins it down, so such configs are refused.
void refuse_qwen_window(const JsonConfig& c) {
  if (c.boolean_or({"use_sliding_window"}, false))
    c.field_error("use_sliding_window",
                  "is true: Qwen's sliding-window layers are not supported (released checkpoints set it false)");
}

namespace {

ArchSpec translate_llama(const JsonConfig& c) {
  ArchSpec s = translate_llama_style(c, "llama", {.max_positions = 2048});
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  s.mlp_bias = c.boolean_or({"mlp_bias"}, false);
  return s;
}

ArchSpec translate_qwen2(const JsonConfig& c) {
  refuse_qwen_window(c);
  ArchSpec s = translate_llama_style(c, "qwen2", {.max_positions = 32768});
  s.qkv_bias = true;
  return s;
}

ArchSpec translate_mistral(const JsonConfig& c) {
  ArchSpec s = translate_llama_style(c, "mistral", {.max_positions = 4096 * 32});
  // MistralConfig: an absent num_key_value_heads means 8, null means num_attention_heads.
  if (!c.contains("num_key_value_heads")) s.n_kv_heads = 8;
  // sliding_window: absent -> 4096, null -> none.
  const int64_t window = read_window(c, "sliding_window", 4096);
  for (LayerSpec& l : s.layers) l.window = window;
  return s;
}

ArchSpec translate_qwen3(const JsonConfig& c) {
  refuse_qwen_window(c);
  ArchSpec s = translate_llama_style(c, "qwen3", {.max_positions = 32768, .head_dim = 128});
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  s.qk_norm = true;
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  bind_llama_ends(s, b, w);
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, false);
    L.ln2 = b.norm(p + "post_attention_layernorm", s.d_model, false);
    bind_llama_projections(s, b, p, L);
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace

void bind_llama_projections(const ArchSpec& s, Binder& b, const std::string& p, LayerWeights& L, bool mlp) {
  auto bias = [](bool on) { return on ? Binder::Bias::Required : Binder::Bias::None; };
  const int64_t q_width = static_cast<int64_t>(s.n_heads) * s.d_head;
  const int64_t kv_width = static_cast<int64_t>(s.n_kv_heads) * s.d_head;
  L.q = b.linear(p + "self_attn.q_proj", s.d_model, q_width, bias(s.qkv_bias));
  L.k = b.linear(p + "self_attn.k_proj", s.d_model, kv_width, bias(s.qkv_bias));
  L.v = b.linear(p + "self_attn.v_proj", s.d_model, kv_width, bias(s.qkv_bias));
  if (s.qk_norm) {
    L.q_norm = b.norm(p + "self_attn.q_norm", s.qk_norm_across_heads ? q_width : s.d_head, false);
    L.k_norm = b.norm(p + "self_attn.k_norm", s.qk_norm_across_heads ? kv_width : s.d_head, false);
  }
  L.o = b.linear(p + "self_attn.o_proj", q_width, s.d_model, bias(s.o_bias));
  if (!mlp) return;
  L.gate = b.linear(p + "mlp.gate_proj", s.d_model, s.d_mlp, bias(s.mlp_bias));
  L.up = b.linear(p + "mlp.up_proj", s.d_model, s.d_mlp, bias(s.mlp_bias));
  L.down = b.linear(p + "mlp.down_proj", s.d_mlp, s.d_model, bias(s.mlp_bias));
}

void bind_llama_ends(const ArchSpec& s, Binder& b, ModelWeights& w) {
  w.qkv_layout = QkvLayout::Separate;
  w.embed = b.tensor("embed_tokens.weight", {s.vocab_size, s.d_model});
  w.final_norm = b.norm("norm", s.d_model, false);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  w.unembed.weight = s.tied_embeddings ? w.embed : b.optional_root("lm_head.weight", {s.vocab_size, s.d_model});
}

extern const Family kLlamaFamily{"llama", "model.", "embed_tokens.weight", translate_llama, bind};
extern const Family kQwen2Family{"qwen2", "model.", "embed_tokens.weight", translate_qwen2, bind};
extern const Family kMistralFamily{"mistral", "model.", "embed_tokens.weight", translate_mistral, bind};
extern const Family kQwen3Family{"qwen3", "model.", "embed_tokens.weight", translate_qwen3, bind};

}  // namespace sg
