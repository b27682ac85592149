// Microsoft's Phi models.
//   phi3 (HF Phi3Config / Phi3ForCausalLM): the Llama block with the query,
//     key and value projections fused in one qkv_proj ([Q | K | V] blocks of H
//     and KV heads) and gate and up in one gate_up_proj (gate first), both read
//     in place; rotary on partial_rotary_factor of each head; a sliding window
//     on every layer; rope_scaling longrope (model/rope.h).
//   phi (Phi-1, Phi-1.5, Phi-2; HF PhiConfig / PhiForCausalLM): one LayerNorm
//     feeding attention and MLP in parallel, biases on every projection,
//     rotary on partial_rotary_factor of each head, a GELU MLP (fc1, fc2), a
//     final LayerNorm and lm_head with a bias; with qk_layernorm, q and k
//     LayerNormed per head before rotary.
#include <cmath>

#include "model/family.h"
#include "util/error.h"

namespace sg {
namespace {

// HF: rotary_ndims = int(head_dim * partial_rotary_factor), which must be even.
int partial_rotary_dims(const JsonConfig& c, int d_head, double dflt) {
  const double f = c.number_or({"partial_rotary_factor"}, dflt);
  if (!(f > 0 && f <= 1)) c.field_error("partial_rotary_factor", "must be a number in (0, 1]");
  const int r = static_cast<int>(d_head * f);
  if (r % 2) c.field_error("partial_rotary_factor", "gives an odd number of rotary dims (" + std::to_string(r) + ")");
  return r;
}

ArchSpec translate_phi3(const JsonConfig& c) {
  ArchSpec s = translate_llama_style(c, "phi3", {.max_positions = 4096, .eps = 1e-5, .rope_scaling = false});
  s.rotary_dim = partial_rotary_dims(c, s.d_head, 1.0);
  s.ropes = {read_phi3_rope(c, s.rotary_dim, read_rope_theta(c, {}, 10000.0), s.max_positions)};
  const int64_t window = read_window(c, "sliding_window", 0);  // Phi3Config: absent or null -> none
  for (LayerSpec& l : s.layers) l.window = window;
  return s;
}

ModelWeights bind_phi3(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  bind_llama_ends(s, b, w);
  w.qkv_layout = QkvLayout::FusedBlocks;
  const int64_t q_width = int64_t{s.n_heads} * s.d_head, kv_width = int64_t{s.n_kv_heads} * s.d_head;
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, false);
    L.ln2 = b.norm(p + "post_attention_layernorm", s.d_model, false);
    L.qkv = b.linear(p + "self_attn.qkv_proj", s.d_model, q_width + 2 * kv_width, Binder::Bias::None);
    L.o = b.linear(p + "self_attn.o_proj", q_width, s.d_model, Binder::Bias::None);
    // gate_up_proj [2F, d]: rows 0..F-1 are gate, F..2F-1 up (HF chunk(2)); two views, no copy.
    L.gate = b.linear(p + "mlp.gate_up_proj", s.d_model, 2 * int64_t{s.d_mlp}, Binder::Bias::None);
    L.gate.out = s.d_mlp;
    L.up = L.gate;
    L.up.row_offset = s.d_mlp;
    L.down = b.linear(p + "mlp.down_proj", s.d_mlp, s.d_model, Binder::Bias::None);
    w.layers.push_back(L);
  }
  return w;
}

ArchSpec translate_phi(const JsonConfig& c) {
  ArchSpec s;
  s.model_type = "phi";
  s.n_layers = c.dimension({"num_hidden_layers"});
  s.d_model = c.dimension({"hidden_size"});
  s.n_heads = c.dimension({"num_attention_heads"});
  s.n_kv_heads = c.dimension_or({"num_key_value_heads"}, s.n_heads);
  s.d_head = read_head_dim(c, s.d_model, s.n_heads);
  s.d_mlp = c.dimension({"intermediate_size"});
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"max_position_embeddings"}, 2048);
  s.norm = NormKind::LayerNorm;
  s.norm_eps = read_eps(c, "layer_norm_eps", 1e-5);
  s.parallel_residual = true;
  s.shared_norm = true;
  s.qk_norm = c.boolean_or({"qk_layernorm"}, false);
  s.rotary = RotaryStyle::Half;
  s.rotary_dim = partial_rotary_dims(c, s.d_head, 0.5);
  s.ropes = {read_rope(c, s.rotary_dim, read_rope_theta(c, {}, 10000.0), s.max_positions)};
  s.activation = parse_activation(c, "hidden_act", c.string_or({"hidden_act"}, "gelu_new"));
  s.qkv_bias = s.o_bias = s.mlp_bias = true;
  s.unembed_bias = true;  // lm_head always has a bias, tied or not
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, false);
  uniform_layers(c, s);
  return s;
}

ModelWeights bind_phi(const ArchSpec& s, Binder& b) {
  const auto B = Binder::Bias::Required;
  ModelWeights w;
  w.qkv_layout = QkvLayout::Separate;
  w.embed = b.tensor("embed_tokens.weight", {s.vocab_size, s.d_model});
  const int64_t q_width = int64_t{s.n_heads} * s.d_head, kv_width = int64_t{s.n_kv_heads} * s.d_head;
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, true);
    L.q = b.linear(p + "self_attn.q_proj", s.d_model, q_width, B);
    L.k = b.linear(p + "self_attn.k_proj", s.d_model, kv_width, B);
    L.v = b.linear(p + "self_attn.v_proj", s.d_model, kv_width, B);
    if (s.qk_norm) {
      L.q_norm = b.norm(p + "self_attn.q_layernorm", s.d_head, true);
      L.k_norm = b.norm(p + "self_attn.k_layernorm", s.d_head, true);
    }
    L.o = b.linear(p + "self_attn.dense", q_width, s.d_model, B);
    L.up = b.linear(p + "mlp.fc1", s.d_model, s.d_mlp, B);
    L.down = b.linear(p + "mlp.fc2", s.d_mlp, s.d_model, B);
    w.layers.push_back(L);
  }
  w.final_norm = b.norm("final_layernorm", s.d_model, true);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  w.unembed.weight = s.tied_embeddings ? w.embed : b.optional_root("lm_head.weight", {s.vocab_size, s.d_model});
  if (w.unembed.weight) w.unembed.bias = b.optional_root("lm_head.bias", {s.vocab_size});
  if (w.unembed.weight && !w.unembed.bias) fail("{}: tensor lm_head.bias is missing", b.store().location().string());
  return w;
}

}  // namespace

extern const Family kPhi3Family{"phi3", "model.", "embed_tokens.weight", translate_phi3, bind_phi3};
extern const Family kPhiFamily{"phi", "model.", "embed_tokens.weight", translate_phi, bind_phi};

}  // namespace sg
