#pragma once
// ArchSpec: a decoder-only transformer described as data. Every supported
// family (GPT-NeoX, GPT-J, Qwen2, Llama, GPT-2) translates its config.json into
// one of these; the engine runs one generic forward pass driven by it.
#include <cstdint>
#include <string>

namespace sg {

enum class NormKind { LayerNorm, RMSNorm };
enum class Activation { GeluErf, GeluTanh, Silu, Relu };
enum class RotaryStyle {
  None,        // no rotary embedding (GPT-2: learned positions)
  Half,        // rotate_half: pairs (j, j + r/2)  (GPT-NeoX, Llama, Qwen2)
  Interleaved  // rotate_every_two: pairs (2j, 2j+1)  (GPT-J)
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
  int64_t sliding_window = 0;  // 0 = none; sequences longer than this are refused

  NormKind norm = NormKind::LayerNorm;
  double norm_eps = 1e-5;
  // Parallel: resid_post = x + attn(ln1(x)) + mlp(ln2(x)); sequential:
  // mid = x + attn(ln1(x)), resid_post = mid + mlp(ln2(mid)).
  bool parallel_residual = false;
  bool shared_norm = false;  // GPT-J: one norm (ln_1) feeds attention and MLP

  RotaryStyle rotary = RotaryStyle::None;
  int rotary_dim = 0;  // dims of each head that rotate (the rest pass through)
  double rope_theta = 10000.0;
  bool learned_positions = false;  // GPT-2's wpe

  // Which projections carry biases (the checkpoint must then hold them).
  bool qkv_bias = false;
  bool o_bias = false;
  bool mlp_bias = false;
  bool unembed_bias = false;  // GPT-J's lm_head.bias

  Activation activation = Activation::GeluErf;
  bool gated_mlp = false;  // SwiGLU: down(act(gate(x)) * up(x))

  double attn_scale = 0;                    // multiplies q.k; usually d_head^-0.5
  bool scale_by_inverse_layer_idx = false;  // GPT-2 option: additionally / (layer + 1)
  bool tied_embeddings = false;             // unembedding = token embedding

  double rho() const { return static_cast<double>(n_heads) / d_head; }  // seed 004's head density
};

const char* to_string(NormKind k);
const char* to_string(Activation a);
const char* to_string(RotaryStyle r);

}  // namespace sg
