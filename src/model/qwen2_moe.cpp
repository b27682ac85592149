// Qwen2-MoE: HF Qwen2MoeConfig / Qwen2MoeForCausalLM. The Qwen2 block (q/k/v
// biases) whose MLP is, on the layers decoder_sparse_step and mlp_only_layers
// choose, a sparse mixture of experts (ArchSpec::moe): a router
// (mlp.gate [num_experts, d]) whose softmax picks num_experts_per_tok experts
// (mlp.experts.{e}.{gate,up,down}_proj, SwiGLU of moe_intermediate_size),
// weighted by their probabilities (renormalised to sum 1 iff norm_topk_prob),
// plus a shared expert (mlp.shared_expert.*, shared_expert_intermediate_size)
// scaled by sigmoid(mlp.shared_expert_gate). Other layers have a dense SwiGLU
// MLP of intermediate_size.
#include <set>

#include "model/family.h"

namespace sg {
namespace {

int read_count(const JsonConfig& c, const char* field, int dflt, int min) {
  const int64_t v = c.integer_or({field}, dflt);
  if (v < min || v > (1 << 20))
    c.field_error(field, min > 0 ? "must be a positive number" : "must be a non-negative number");
  return static_cast<int>(v);
}

ArchSpec translate(const JsonConfig& c) {
  refuse_qwen_window(c);
  ArchSpec s = translate_llama_style(c, "qwen2_moe", {.max_positions = 32768});
  s.qkv_bias = true;
  MoeSpec& m = s.moe;
  m.n_experts = read_count(c, "num_experts", 60, 0);
  m.top_k = read_count(c, "num_experts_per_tok", 4, 1);
  if (m.n_experts > 0 && m.top_k > m.n_experts) c.field_error("num_experts_per_tok", "must be at most num_experts");
  m.norm_topk_prob = c.boolean_or({"norm_topk_prob"}, false);
  m.d_expert = read_count(c, "moe_intermediate_size", 1408, 1);
  m.d_shared = read_count(c, "shared_expert_intermediate_size", 5632, 0);
  const int step = read_count(c, "decoder_sparse_step", 1, 1);
  std::set<int64_t> dense;
  if (c.has("mlp_only_layers")) {
    const auto& list = c.json()["mlp_only_layers"];
    if (!list.is_array()) c.field_error("mlp_only_layers", "must be a list of layer indices");
    for (const auto& v : list) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= s.n_layers)
        c.field_error("mlp_only_layers", "must hold layer indices from 0 to num_hidden_layers - 1");
      dense.insert(v.get<int64_t>());
    }
  }
  // HF Qwen2MoeDecoderLayer: sparse iff not in mlp_only_layers, num_experts > 0
  // and (layer + 1) % decoder_sparse_step == 0.
  for (int l = 0; l < s.n_layers; ++l) s.layers[l].moe = !dense.count(l) && m.n_experts > 0 && (l + 1) % step == 0;
  return s;
}

GatedMlp bind_gated(Binder& b, const std::string& p, int64_t d, int64_t width) {
  GatedMlp m;
  m.gate = b.linear(p + "gate_proj", d, width, Binder::Bias::None);
  m.up = b.linear(p + "up_proj", d, width, Binder::Bias::None);
  m.down = b.linear(p + "down_proj", width, d, Binder::Bias::None);
  return m;
}

ModelWeights bind(const ArchSpec& s, Binder& b) {
  ModelWeights w;
  bind_llama_ends(s, b, w);
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    const bool sparse = s.layers[l].moe;
    LayerWeights L;
    L.ln1 = b.norm(p + "input_layernorm", s.d_model, false);
    L.ln2 = b.norm(p + "post_attention_layernorm", s.d_model, false);
    bind_llama_projections(s, b, p, L, !sparse);
    if (sparse) {
      const MoeSpec& m = s.moe;
      L.router = b.linear(p + "mlp.gate", s.d_model, m.n_experts, Binder::Bias::None);
      for (int e = 0; e < m.n_experts; ++e)
        L.experts.push_back(bind_gated(b, p + "mlp.experts." + std::to_string(e) + ".", s.d_model, m.d_expert));
      if (m.d_shared > 0) {
        L.shared = bind_gated(b, p + "mlp.shared_expert.", s.d_model, m.d_shared);
        L.shared_gate = b.linear(p + "mlp.shared_expert_gate", s.d_model, 1, Binder::Bias::None);
      }
    }
    w.layers.push_back(L);
  }
  return w;
}

}  // namespace

extern const Family kQwen2MoeFamily{"qwen2_moe", "model.", "embed_tokens.weight", translate, bind};

}  // namespace sg
