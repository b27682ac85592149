// GPT-NeoX (Pythia): HF GPTNeoXConfig / GPTNeoXForCausalLM.
#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate(const JsonConfig& c) {
  refuse_rope_scaling(c);
  ArchSpec s;
  s.model_type = "gpt_neox";
  s.n_layers = c.dimension({"num_hidden_layers"});
  s.d_model = c.dimension({"hidden_size"});
  s.n_heads = c.dimension({"num_attention_heads"});
  set_mha_heads(c, s, "num_attention_heads", "hidden_size");
  s.d_mlp = c.dimension({"intermediate_size"});
  s.vocab_size = c.dimension({"vocab_size"});
  s.max_positions = c.integer_or({"max_position_embeddings"}, 2048);
  s.norm = NormKind::LayerNorm;
  s.norm_eps = read_eps(c, "layer_norm_eps", 1e-5);
  s.parallel_residual = c.boolean_or({"use_parallel_residual"}, true);
  s.rotary = RotaryStyle::Half;
  // rotary_pct (4.x), partial_rotary_factor (4.48+), rope_parameters (5.x).
  double pct = c.number_or({"partial_rotary_factor", "rotary_pct"}, 0.25);
  if (c.has("rope_parameters") && c.json()["rope_parameters"].contains("partial_rotary_factor"))
    pct = c.json()["rope_parameters"]["partial_rotary_factor"].get<double>();
  s.rotary_dim = static_cast<int>(s.d_head * pct);  // HF: int(head_size * rotary_pct)
  s.ropes = {plain_rope(s.rotary_dim, read_rope_theta(c, {"rotary_emb_base"}, 10000.0))};
  s.activation = parse_activation(c, "hidden_act", c.string_or({"hidden_act"}, "gelu"));
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, false);
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, true);
  s.mlp_bias = true;
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  const auto B = s.o_bias ? Binder::Bias::Required : Binder::Bias::None;  // attention_bias
  ModelWeights w;
  w.qkv_layout = QkvLayout::FusedPerHead;
  w.embed = b.tensor("embed_in.weight", {s.vocab_size, s.d_model});
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, true);
    L.ln2 = b.norm(p + "post_attention_layernorm", s.d_model, true);
    L.qkv = b.linear(p + "attention.query_key_value", s.d_model, 3 * s.d_model, B);
    L.o = b.linear(p + "attention.dense", s.d_model, s.d_model, B);
    L.up = b.linear(p + "mlp.dense_h_to_4h", s.d_model, s.d_mlp, Binder::Bias::Required);
    L.down = b.linear(p + "mlp.dense_4h_to_h", s.d_mlp, s.d_model, Binder::Bias::Required);
    w.layers.push_back(L);
  }
  w.final_norm = b.norm("final_layer_norm", s.d_model, true);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  w.unembed.weight = s.tied_embeddings ? w.embed : b.optional_root("embed_out.weight", {s.vocab_size, s.d_model});
  return w;
}

}  // namespace

extern const Family kGptNeoxFamily{"gpt_neox", "gpt_neox.", "embed_in.weight", translate, bind};

}  // namespace sg
