#pragma once
// An architecture family = a config translation (config.json -> ArchSpec) and a
// tensor-name mapping (checkpoint names -> ModelWeights). Nothing else: the
// forward pass is the engine's, shared by all families.
#include <string>
#include <string_view>
#include <vector>

#include "io/json_config.h"
#include "model/arch.h"
#include "model/binder.h"
#include "model/rope.h"
#include "model/weights.h"

namespace sg {

struct Family {
  std::string_view model_type;
  // Tensor names are "<prefix><name>" in *ForCausalLM checkpoints and "<name>" in
  // checkpoints saved from the base model; `probe` (the embedding) tells which.
  std::string_view prefix;
  std::string_view probe;
  ArchSpec (*translate)(const JsonConfig& config);
  ModelWeights (*bind)(const ArchSpec& arch, Binder& binder);
};

// nullptr if the model_type is not supported.
const Family* find_family(std::string_view model_type);
std::vector<std::string_view> supported_model_types();

// Shared config helpers --------------------------------------------------------

// rope_theta from its spellings (rope_parameters.rope_theta, rope_theta, or the
// family's legacy key), else `dflt`; must be positive.
double read_rope_theta(const JsonConfig& config, std::initializer_list<const char*> legacy_keys, double dflt);
// Parses hidden_act / activation_function.
Activation parse_activation(const JsonConfig& config, const std::string& key, const std::string& value);
// Plain multi-head attention: n_kv_heads = n_heads and d_head = d_model /
// n_heads, which must divide (the error names heads_field and width_field).
void set_mha_heads(const JsonConfig& config, ArchSpec& spec, const char* heads_field, const char* width_field);
// The fields GPT-2-style configs share (GPT-2, GPT-J): n_layer, n_embd, n_head
// (or num_hidden_layers, hidden_size, num_attention_heads), n_inner (null ->
// 4 n_embd), vocab_size, n_positions, layer_norm_epsilon (1e-5); LayerNorm.
void read_gpt2_style(const JsonConfig& config, ArchSpec& spec, int64_t default_positions);
// A norm epsilon (HF's default when absent); must be a non-negative number.
double read_eps(const JsonConfig& config, const char* field, double dflt);
// n_layers copies of `layer` (a family whose layers are all alike); refuses a
// layer count outside 1..4096 first.
void uniform_layers(const JsonConfig& config, ArchSpec& spec, const LayerSpec& layer = {});
// d_head from an explicit head_dim if the config has one, else hidden_size /
// num_attention_heads (which must then divide). `dflt_head_dim` > 0: the class
// default for an absent head_dim (Qwen3 128, Gemma 256) instead of the division.
int read_head_dim(const JsonConfig& config, int d_model, int n_heads, int dflt_head_dim = 0);
// A sliding window field: null means none (0); a present value must be positive.
int64_t read_window(const JsonConfig& config, const char* field, int64_t absent_default);
// The Llama-style checkpoint layout (llama, qwen2, mistral, qwen3, gemma,
// gemma2): a layer's projections under "<prefix>self_attn.{q,k,v,o}_proj" and
// "<prefix>mlp.{gate,up,down}_proj" (biases as the spec says, q/k norms if it
// has them), and the model's ends: embed_tokens, the final "norm" and lm_head
// (the embedding when tied).
// q/k norms are [d_head] (or, across heads, [H d_head] and [KV d_head]); the
// MLP's projections only if `mlp` (a sparse layer binds its experts instead).
void bind_llama_projections(const ArchSpec& spec, Binder& binder, const std::string& prefix, LayerWeights& layer,
                            bool mlp = true);
void bind_llama_ends(const ArchSpec& spec, Binder& binder, ModelWeights& weights);
// The fields Llama-style configs share (llama, qwen2, mistral, qwen3, phi3,
// olmo2, qwen2_moe): num_hidden_layers, hidden_size, num_attention_heads,
// num_key_value_heads (absent or null: the heads), head_dim (if given, else
// d / heads or default_head_dim), intermediate_size, vocab_size,
// max_position_embeddings, rms_norm_eps, hidden_act (silu), rope_theta (10000)
// and rope_scaling (model/rope.h), tie_word_embeddings (false); RMSNorm,
// rotate_half over the whole head, a gated MLP, uniform layers.
struct LlamaDefaults {
  int64_t max_positions = 2048;
  int head_dim = 0;  // class default of an absent head_dim; 0: hidden_size / heads
  double eps = 1e-6;
  bool rope_scaling = true;  // false: plain rope here, the family reads its own scaling (phi3's longrope)
};
ArchSpec translate_llama_style(const JsonConfig& config, const char* model_type, const LlamaDefaults& dflt);
// Qwen's use_sliding_window: true is refused (see the README).
void refuse_qwen_window(const JsonConfig& config);
// A window / soft-cap field that HF distinguishes absent (absent_default) from null (none, 0).
double read_softcap(const JsonConfig& config, const char* field, double absent_default);

// Checks the divisibility and positivity every spec needs; names the fields.
// Fills what a family may leave out: one default LayerSpec per layer, and the
// score scale d_head^-0.5 of layers that set none.
void finish_spec(const JsonConfig& config, ArchSpec& spec);

}  // namespace sg
