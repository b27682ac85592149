// OLMo 2: HF Olmo2Config / Olmo2ForCausalLM. The Llama projections with a
// post-norm block: no norms before the sublayers (attention and MLP read the
// raw residual stream), an RMSNorm on each sublayer's output before the
// residual add (post_attention_layernorm, post_feedforward_layernorm), and q
// and k RMS-normalised over the whole projection width (q_norm [H d_head],
// k_norm [KV d_head]) before the split into heads.
#include "model/family.h"

namespace sg {
namespace {

ArchSpec translate(const JsonConfig& c) {
  ArchSpec s = translate_llama_style(c, "olmo2", {.max_positions = 2048, .eps = 1e-5});
  s.qkv_bias = s.o_bias = c.boolean_or({"attention_bias"}, false);
  s.pre_norms = false;
  s.qk_norm = s.qk_norm_across_heads = true;
  for (LayerSpec& l : s.layers) l.post_attn_norm = l.post_mlp_norm = true;
  return s;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  bind_llama_ends(s, b, w);
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_post = b.norm(p + "post_attention_layernorm", s.d_model, false);
    L.mlp_post = b.norm(p + "post_feedforward_layernorm", s.d_model, false);
    bind_llama_projections(s, b, p, L);
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace

extern const Family kOlmo2Family{"olmo2", "model.", "embed_tokens.weight", translate, bind};

}  // namespace sg
