// GPT-2: HF GPT2Config / GPT2LMHeadModel. Conv1D weights stored [in, out],
// fused [Q | K | V] projection, learned positions, tied head. Legacy checkpoints
// (openai-community/gpt2) lack the "transformer." prefix and carry attn.bias
// mask buffers, which are ignored.
#include <cmath>

#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate(const JsonConfig& c) {
  if (c.boolean_or({"add_cross_attention"}, false))
    c.field_error("add_cross_attention", "is true; encoder-decoder GPT-2 is not supported");
  ArchSpec s;
  s.model_type = "gpt2";
  read_gpt2_style(c, s, 1024);
  s.learned_positions = true;
  s.activation = parse_activation(c, "activation_function", c.string_or({"activation_function"}, "gelu_new"));
  // Scores are scaled by d_head^-0.5 (scale_attn_weights, else 1), additionally
  // divided by (layer + 1) with scale_attn_by_inverse_layer_idx.
  const double scale =
      c.boolean_or({"scale_attn_weights"}, true) ? 1.0 / std::sqrt(static_cast<double>(s.d_head)) : 1.0;
  const bool by_layer = c.boolean_or({"scale_attn_by_inverse_layer_idx"}, false);
  uniform_layers(c, s);
  for (int l = 0; l < s.n_layers; ++l) s.layers[l].attn_scale = scale / (by_layer ? l + 1 : 1);
  // GPT2Config does not override PretrainedConfig's default (true).
  s.tied_embeddings = c.boolean_or({"tie_word_embeddings"}, true);
  s.qkv_bias = s.o_bias = s.mlp_bias = true;
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  w.qkv_layout = QkvLayout::FusedBlocks;
  w.embed = b.tensor("wte.weight", {s.vocab_size, s.d_model});
  w.pos_embed = b.tensor("wpe.weight", {s.max_positions, s.d_model});
  const auto B = Binder::Bias::Required;
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    LayerWeights L;
    L.ln1 = b.norm(p + "ln_1", s.d_model, true);
    L.ln2 = b.norm(p + "ln_2", s.d_model, true);
    L.qkv = b.linear(p + "attn.c_attn", s.d_model, 3 * s.d_model, B, /*in_out=*/true);
    L.o = b.linear(p + "attn.c_proj", s.d_model, s.d_model, B, true);
    L.up = b.linear(p + "mlp.c_fc", s.d_model, s.d_mlp, B, true);
    L.down = b.linear(p + "mlp.c_proj", s.d_mlp, s.d_model, B, true);
    w.layers.push_back(L);
  }
  w.final_norm = b.norm("ln_f", s.d_model, true);
  w.unembed.in = s.d_model;
  w.unembed.out = s.vocab_size;
  w.unembed.weight = s.tied_embeddings ? w.embed : b.optional_root("lm_head.weight", {s.vocab_size, s.d_model});
  return w;
}

}  // namespace

extern const Family kGpt2Family{"gpt2", "transformer.", "wte.weight", translate, bind};

}  // namespace sg
