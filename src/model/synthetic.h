#pragma once
// Synthetic models: HF-format GPT-NeoX checkpoints (config.json +
// model.safetensors) with random weights from a fixed seed, for benchmarks and
// the offline demo; and small random models of every supported family, for
// differential tests. The same arguments always give the same bytes.
#include <cstdint>
#include <filesystem>
#include <string>

#include "io/dtype.h"

namespace sg {

struct SyntheticSpec {
  int n_layers = 4;
  int d_model = 128;
  int n_heads = 4;
  int d_mlp = 512;
  int vocab_size = 512;
  int max_positions = 2048;
  double rotary_pct = 0.25;
  bool parallel_residual = true;
  DType dtype = DType::F32;  // F32, F16 or BF16
  uint64_t seed = 1234;

  static SyntheticSpec pythia_410m() { return {24, 1024, 16, 4096, 50304, 2048, 0.25, true, DType::F32, 410}; }
  static SyntheticSpec pythia_1_4b() { return {24, 2048, 16, 8192, 50304, 2048, 0.25, true, DType::F32, 1400}; }
};

// The offline demo model: a small Pythia-architecture model (6 layers, d 256)
// with a byte-level tokenizer (256 byte tokens + <|endoftext|>).
SyntheticSpec demo_spec();

// Writes a byte-level BPE tokenizer.json without merges: token id b is byte b
// (GPT-2's byte-to-unicode alphabet), id 256 is <|endoftext|>.
void write_byte_tokenizer(const std::filesystem::path& dir);

// Writes config.json and model.safetensors into dir (created if needed),
// streaming the tensors so memory stays small whatever the model size.
void write_synthetic_model(const std::filesystem::path& dir, const SyntheticSpec& spec);

}  // namespace sg

namespace sg {

// A small model of any supported family with random weights (differential
// tests). Fields a family has no use for are ignored; d_model, heads and
// head_dim are written as given (families without a head_dim key need
// d_model = n_heads * head_dim).
struct RandomModelSpec {
  // gpt_neox, gptj, gpt2, llama, qwen2, mistral, qwen3, gemma, gemma2, gemma3_text,
  // phi3, olmo2, qwen2_moe or phi
  std::string model_type = "llama";
  int n_layers = 2;
  int d_model = 64;
  int n_heads = 4;
  int n_kv_heads = 4;  // llama family, gemma family (grouped-query attention when < n_heads)
  int head_dim = 16;   // written as head_dim where the family reads it (may differ from d_model / n_heads)
  int d_mlp = 128;
  int vocab_size = 256;
  int max_positions = 128;
  double rotary_pct = 0.25;   // gpt_neox
  int rotary_dim = 8;         // gptj
  double rope_theta = 10000;  // all rotary families but gptj
  // llama, qwen2, mistral, qwen3: rope_scaling type ("" none, linear, llama3,
  // yarn) with this factor (llama3: low 1, high 4, original max_positions / 4;
  // yarn: original max_positions / factor).
  std::string rope_scaling;
  double rope_factor = 4;
  int64_t sliding_window = 0;                  // mistral (every layer), gemma2 (even layers); 0 = null
  double attn_softcap = 0, final_softcap = 0;  // gemma2; 0 = null
  double query_pre_attn_scalar = 0;            // gemma2; 0 = head_dim
  bool parallel_residual = true;               // gpt_neox
  bool tied = false;                           // tie_word_embeddings (gptj: always untied, lm_head with bias)
  bool biases = true;              // gpt_neox attention_bias; llama attention_bias and mlp_bias (qwen2: q/k/v always);
                                   // qwen3, gemma, gemma2 attention_bias
  std::string activation;          // hidden_act / activation_function; empty: the family's default
  bool scale_attn_weights = true;  // gpt2
  bool scale_attn_by_inverse_layer_idx = false;  // gpt2
  double norm_eps = 1e-5;
  DType dtype = DType::F32;  // F32, F16 or BF16
  uint64_t seed = 1;
  // The third wave (phi3, olmo2, gemma3_text, qwen2_moe, phi):
  double partial_rotary_factor = 1.0;  // phi3, phi
  // phi3: rope_scaling longrope with original_max_position_embeddings (0: none)
  // and factors 1 + j / 4 (short) and 1 + j (long) for pair j.
  int64_t longrope_original = 0;
  int sliding_window_pattern = 2;  // gemma3_text (its sliding_window above)
  double rope_local_base = 10000;  // gemma3_text's sliding layers (rope_scaling as rope_scaling above: global ones)
  bool qk_layernorm = false;       // phi
  // qwen2_moe: experts, experts per token, their width, the shared expert's
  // width, decoder_sparse_step and norm_topk_prob (dense layers: d_mlp).
  int n_experts = 4, top_k = 2, d_expert = 32, d_shared = 48, sparse_step = 1;
  bool norm_topk_prob = false;
};

// Writes config.json and model.safetensors into dir (created if needed).
void write_random_model(const std::filesystem::path& dir, const RandomModelSpec& spec);

}  // namespace sg
