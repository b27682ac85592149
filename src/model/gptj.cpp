// GPT-J: HF GPTJConfig / GPTJForCausalLM. One LayerNorm (ln_1) feeds attention
// and MLP in parallel; rotary on the first rotary_dim dims of each head,
// interleaved pairs; lm_head has a bias.
#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate(const JsonConfig& c) {
  refuse_rope_scaling(c);
  ArchSpec s;
  s.model_type = "gptj";
  read_gpt2_style(c, s, 2048);
  s.parallel_residual = true;
  s.shared_norm = true;
  s.rotary = RotaryStyle::Interleaved;
  if (c.json().contains("rotary_dim") && c.json()["rotary_dim"].is_null())
    c.field_error("rotary_dim", "is null (rotary over the whole embedding) which streamgauge does not support");
  s.rotary_dim = c.dimension_or({"rotary_dim"}, 64);
  s.ropes = {plain_rope(s.rotary_dim, 10000.0)};  // base hard-coded in HF's GPT-J
  s.activation = parse_activation(c, "activation_function", c.string_or({"activation_function"}, "gelu_new"));
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, false);
  s.mlp_bias = true;
  s.unembed_bias = !s.tied_embeddings;
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  w.qkv_layout = QkvLayout::Separate;
  w.embed = b.tensor("wte.weight", {s.vocab_size, s.d_model});
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "ln_1", s.d_model, true);
    L.q = b.linear(p + "attn.q_proj", s.d_model, s.d_model, Binder::Bias::None);
    L.k = b.linear(p + "attn.k_proj", s.d_model, s.d_model, Binder::Bias::None);
    L.v = b.linear(p + "attn.v_proj", s.d_model, s.d_model, Binder::Bias::None);
    L.o = b.linear(p + "attn.out_proj", s.d_model, s.d_model, Binder::Bias::None);
    L.up = b.linear(p + "mlp.fc_in", s.d_model, s.d_mlp, Binder::Bias::Required);
    L.down = b.linear(p + "mlp.fc_out", s.d_mlp, s.d_model, Binder::Bias::Required);
    w.layers.push_back(L);
  }
  w.final_norm = b.norm("ln_f", s.d_model, true);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  if (s.tied_embeddings) {
    w.unembed.weight = w.embed;
  } else {
    w.unembed.weight = b.optional_root("lm_head.weight", {s.vocab_size, s.d_model});
    if (w.unembed.weight) w.unembed.bias = b.optional_root("lm_head.bias", {s.vocab_size});
  }
  return w;
}

}  // namespace

extern const Family kGptjFamily{"gptj", "transformer.", "wte.weight", translate, bind};

}  // namespace sg
