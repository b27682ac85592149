#pragma once
// ArchSpec: a decoder-only transformer described as data. Every supported
// family translates its config.json into one of these; the engine runs one
// generic forward pass driven by it. What may differ from layer to layer (the
// attention window, the rotary table, the norms around the sublayers, the
// score scale and soft-cap) lives in a per-layer LayerSpec, as gemma.cpp's
// LayerConfig list does.
#include <cstdint>
#include <string>
#include <vector>

namespace sg {

enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { GeluErf, GeluTanh, Silu, Relu };
enum class RotaryStyle {
  None,        // no rotary embedding (GPT-2: learned positions)
  Half,        // rotate_half: pairs (j, j + r/2)  (GPT-NeoX, Llama, Qwen2, ...)
  Interleaved  // rotate_every_two: pairs (2j, 2j+1)  (GPT-J)
};

// One rotary table: the frequency of each rotated pair and the factor cos and
// sin are multiplied by. model/rope.h computes them from the config (plain
// theta^(-2j/r), or one of the rope_scaling types).
struct Rope {
  std::vector<double> inv_freq;   // [rotary_dim / 2]: angle(p, j) = p * inv_freq[j]
  double attention_factor = 1.0;  // yarn's mscale, longrope's factor; 1 otherwise
  std::string description;        // for inspect: "theta 10000", "llama3 (factor 8, ...)"
  // longrope (Phi-3): a sequence of more than long_after positions (counting
  // every position up to its last, cached ones included) uses long_inv_freq
  // instead of inv_freq for all its positions, as HF chooses by the largest
  // position id. Empty: one table for every length.
  std::vector<double> long_inv_freq;
  int64_t long_after = 0;
  // The frequencies a sequence of `length` positions uses.
  const std::vector<double>& freqs_for(int64_t length) const {
    return !long_inv_freq.empty() && length > long_after ? long_inv_freq : inv_freq;
  }
};

// What one layer does beyond the shared block structure.
struct LayerSpec {
  int64_t window = 0;           // 0: causal over all keys; W > 0: query i sees keys i-W < j <= i
  int rope = 0;                 // index into ArchSpec::ropes
  double attn_scale = 0;        // multiplies q.k (usually d_head^-0.5)
  double attn_softcap = 0;      // 0: none; c > 0: scores = c * tanh(scores / c) before the mask
  bool post_attn_norm = false;  // a norm on the attention output before the residual add (Gemma 2)
  bool post_mlp_norm = false;   // a norm on the MLP output before the residual add (Gemma 2)
  bool moe = false;             // the MLP is ArchSpec::moe's sparse mixture of experts (else dense)
};

// A sparse mixture-of-experts MLP (Qwen2-MoE): per token, router logits
// g = h W_router^T over all experts, p = softmax(g), the top k experts by p
// with weights p_e (divided by their sum if norm_topk_prob), each a gated MLP
// of d_expert; plus a shared gated MLP of d_shared times sigmoid(h . w_gate)
// (d_shared = 0: none). The block's output is sum_e w_e expert_e(h) + shared.
struct MoeSpec {
  int n_experts = 0;  // 0: no layer is sparse
  int top_k = 0;
  bool norm_topk_prob = false;
  int d_expert = 0;
  int d_shared = 0;
};

struct ArchSpec {
  std::string model_type;  // config.json's model_type, e.g. "gpt_neox"
  int n_layers = 0;
  int d_model = 0;
  int n_heads = 0;
  int n_kv_heads = 0;  // < n_heads: grouped-query attention (query head h reads kv head h / (H/KV))
  int d_head = 0;
  int d_mlp = 0;
  int vocab_size = 0;
  int64_t max_positions = 0;  // longer sequences are refused

  NormKind norm = NormKind::LayerNorm;
  double norm_eps = 1e-5;
  // Gemma: every norm multiplies by (1 + w) for the stored w. Model::vec hands
  // out the gain itself (1 + w, computed in float32 as HF does).
  bool norm_gain_plus_one = false;
  // Parallel: resid_post = x + attn(ln1(x)) + mlp(ln2(x)); sequential:
  // mid = x + attn(ln1(x)), resid_post = mid + mlp(ln2(mid)).
  bool parallel_residual = false;
  bool shared_norm = false;  // GPT-J: one norm (ln_1) feeds attention and MLP
  bool qk_norm = false;      // Qwen3: the model's norm of each head's q and k (over d_head) before rotary
  // OLMo 2: q and k normalised over the whole projection width (H * d_head,
  // KV * d_head) before the split into heads, instead of per head.
  bool qk_norm_across_heads = false;
  // false (OLMo 2): no norms before the sublayers; attention and MLP read the
  // raw residual stream (ln1 / ln2.hook_out then name it), post-norms on their outputs.
  bool pre_norms = true;

  RotaryStyle rotary = RotaryStyle::None;
  int rotary_dim = 0;              // dims of each head that rotate (the rest pass through)
  std::vector<Rope> ropes;         // the rotary tables the layers use (LayerSpec::rope)
  bool learned_positions = false;  // GPT-2's wpe
  // Gemma: the embedding rows are multiplied by sqrt(d_model), a factor HF
  // rounds to the checkpoint's dtype (Model::load does); 1 = none.
  double embed_scale = 1.0;

  // Which projections carry biases (the checkpoint must then hold them).
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool unembed_bias = false;  // GPT-J's lm_head.bias

  Activation activation = Activation::GeluErf;
  bool gated_mlp = false;  // SwiGLU / GeGLU: down(act(gate(x)) * up(x))
  MoeSpec moe;             // the sparse layers' MLP (LayerSpec::moe)

  double final_softcap = 0;      // 0: none; c > 0: logits = c * tanh(logits / c) (Gemma 2)
  bool tied_embeddings = false;  // unembedding = token embedding

  std::vector<LayerSpec> layers;  // [n_layers]

  double rho() const { return static_cast<double>(n_heads) / d_head; }  // seed 004's head density
  // Whether some layer normalises a sublayer's output before the residual add.
  bool any_post_norm() const;
  // Whether some layer's MLP is a sparse mixture of experts.
  bool any_moe() const;
};

const char* to_string(NormKind k);
const char* to_string(Activation a);
const char* to_string(RotaryStyle r);

}  // namespace sg
