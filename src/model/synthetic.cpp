#include "model/synthetic.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {

namespace {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  float scale;   // values uniform in [-scale, scale] ...
  float offset;  // ... plus offset (norm gains sit around 1)
};

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Writes a safetensors file of tensors with values offset + scale * u, u
// uniform in [-1, 1) from one splitmix64 stream in the tensors' order, rounded
// to dtype; streamed a MiB of values at a time, so memory stays small
// whatever the model's size.
void write_random_tensors(const std::filesystem::path& path, DType dtype, uint64_t seed,
                          const std::vector<TensorSpec>& specs) {
  const size_t esize = dtype_size(dtype);
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}};
  uint64_t offset = 0;
  for (auto& t : specs) {
    uint64_t n = 1;
    for (auto v : t.shape) n *= v;
    header[t.name] = {
        {"dtype", std::string(dtype_name(dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + n * esize}}};
    offset += n * esize;
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  AtomicFile f(path);
  const uint64_t len = text.size();
  char len_bytes[8];
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  f.write(len_bytes, 8);
  f.write(text);

  uint64_t state = seed;
  std::vector<char> buf;
  for (auto& t : specs) {
    uint64_t n = 1;
    for (auto v : t.shape) n *= v;
    constexpr uint64_t kChunk = 1 << 20;
    for (uint64_t done = 0; done < n; done += kChunk) {
      const uint64_t k = std::min(kChunk, n - done);
      buf.resize(k * esize);
      for (uint64_t i = 0; i < k; ++i) {
        // 24 random bits -> uniform in [-1, 1).
        const float u = static_cast<float>(splitmix64(state) >> 40) * (2.0f / 16777216.0f) - 1.0f;
        const float v = t.offset + t.scale * u;
        if (dtype == DType::F32) {
          std::memcpy(buf.data() + 4 * i, &v, 4);
        } else {
          const uint16_t h = dtype == DType::BF16 ? f32_to_bf16(v) : f32_to_f16(v);
          std::memcpy(buf.data() + 2 * i, &h, 2);
        }
      }
      f.write(buf.data(), buf.size());
    }
  }
  f.commit();
}

std::vector<TensorSpec> tensors_of(const SyntheticSpec& s) {
  const int64_t d = s.d_model, m = s.d_mlp;
  // Uniform(-a, a) has std a / sqrt(3): input-side weights get std ~ 1/sqrt(fan_in).
  const float in_scale = std::sqrt(3.0f / d), out_scale = std::sqrt(3.0f / m) * 0.5f;
  std::vector<TensorSpec> t{{"gpt_neox.embed_in.weight", {s.vocab_size, d}, 1.0f, 0}};
  for (int l = 0; l < s.n_layers; ++l) {
    const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {d}, 0.2f, 1});
    t.push_back({p + "input_layernorm.bias", {d}, 0.1f, 0});
    t.push_back({p + "post_attention_layernorm.weight", {d}, 0.2f, 1});
    t.push_back({p + "post_attention_layernorm.bias", {d}, 0.1f, 0});
    t.push_back({p + "attention.query_key_value.weight", {3 * d, d}, in_scale, 0});
    t.push_back({p + "attention.query_key_value.bias", {3 * d}, 0.1f, 0});
    t.push_back({p + "attention.dense.weight", {d, d}, in_scale * 0.5f, 0});
    t.push_back({p + "attention.dense.bias", {d}, 0.05f, 0});
    t.push_back({p + "mlp.dense_h_to_4h.weight", {m, d}, in_scale, 0});
    t.push_back({p + "mlp.dense_h_to_4h.bias", {m}, 0.1f, 0});
    t.push_back({p + "mlp.dense_4h_to_h.weight", {d, m}, out_scale, 0});
    t.push_back({p + "mlp.dense_4h_to_h.bias", {d}, 0.05f, 0});
  }
  t.push_back({"gpt_neox.final_layer_norm.weight", {d}, 0.2f, 1});
  t.push_back({"gpt_neox.final_layer_norm.bias", {d}, 0.1f, 0});
  t.push_back({"embed_out.weight", {s.vocab_size, d}, in_scale, 0});
  return t;
}

}  // namespace

SyntheticSpec demo_spec() { return {6, 256, 8, 1024, 257, 2048, 0.25, true, DType::F32, 20260105}; }

void write_byte_tokenizer(const std::filesystem::path& dir) {
  // GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to
  // U+0100 + n in byte order.
  nlohmann::ordered_json vocab;
  int extra = 0;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    const uint32_t cp = printable ? static_cast<uint32_t>(b) : 256u + extra++;
    std::string utf8;
    if (cp < 0x80) {
      utf8 += static_cast<char>(cp);
    } else {
      utf8 += static_cast<char>(0xC0 | (cp >> 6));
      utf8 += static_cast<char>(0x80 | (cp & 0x3F));
    }
    vocab[utf8] = b;
  }
  vocab["<|endoftext|>"] = 256;
  const nlohmann::ordered_json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  const nlohmann::ordered_json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 256},
         {"content", "<|endoftext|>"},
         {"single_word", false},
         {"lstrip", false},
         {"rstrip", false},
         {"normalized", false},
         {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer", byte_level},
      {"post_processor", byte_level},
      {"decoder", byte_level},
      {"model",
       {{"type", "BPE"},
        {"dropout", nullptr},
        {"unk_token", nullptr},
        {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr},
        {"fuse_unk", false},
        {"byte_fallback", false},
        {"vocab", vocab},
        {"merges", nlohmann::json::array()}}},
  };
  write_file_atomic(dir / "tokenizer.json", tok.dump(2) + "\n");
}

void write_synthetic_model(const std::filesystem::path& dir, const SyntheticSpec& s) {
  if (s.dtype != DType::F32 && s.dtype != DType::F16 && s.dtype != DType::BF16)
    fail("synthetic models are F32, F16 or BF16");
  std::filesystem::create_directories(dir);
  nlohmann::ordered_json config = {
      {"architectures", {"GPTNeoXForCausalLM"}},
      {"model_type", "gpt_neox"},
      {"hidden_size", s.d_model},
      {"num_hidden_layers", s.n_layers},
      {"num_attention_heads", s.n_heads},
      {"intermediate_size", s.d_mlp},
      {"vocab_size", s.vocab_size},
      {"max_position_embeddings", s.max_positions},
      {"rotary_pct", s.rotary_pct},
      {"rotary_emb_base", 10000},
      {"hidden_act", "gelu"},
      {"layer_norm_eps", 1e-5},
      {"use_parallel_residual", s.parallel_residual},
      {"tie_word_embeddings", false},
      {"torch_dtype", s.dtype == DType::F32    ? "float32"
                      : s.dtype == DType::BF16 ? "bfloat16"
                                               : "float16"},
      {"streamgauge_synthetic", {{"seed", s.seed}, {"note", "random weights: numbers mean nothing"}}},
  };
  write_file_atomic(dir / "config.json", config.dump(2) + "\n");

  write_random_tensors(dir / "model.safetensors", s.dtype, s.seed, tensors_of(s));
}

namespace {

// The tensors of a random model, listed as they are added and written in that
// order (write_random_tensors): values offset + scale * u with u uniform in
// [-1, 1), rounded to the model's dtype.
class RandomTensors {
 public:
  RandomTensors(DType dtype, uint64_t seed) : dtype_(dtype), seed_(seed) {}

  void add(const std::string& name, std::vector<int64_t> shape, float scale, float offset = 0) {
    for (const auto& t : specs_)
      if (t.name == name) fail("internal: random tensor {} added twice", name);
    specs_.push_back({name, std::move(shape), scale, offset});
  }
  // "<base>.weight" ([out, in], or [in, out] for Conv1D) with std ~ gain / sqrt(in),
  // and "<base>.bias" ([out]) if bias.
  void linear(const std::string& base, int64_t in, int64_t out, bool bias, float gain, bool in_out = false) {
    add(base + ".weight", in_out ? std::vector<int64_t>{in, out} : std::vector<int64_t>{out, in},
        gain * std::sqrt(3.0f / static_cast<float>(in)));
    if (bias) add(base + ".bias", {out}, 0.1f);
  }
  // Gains around 1, and for LayerNorm a bias.
  void norm(const std::string& base, int64_t d, bool bias) {
    add(base + ".weight", {d}, 0.2f, 1.0f);
    if (bias) add(base + ".bias", {d}, 0.1f);
  }
  void write(const std::filesystem::path& path) const { write_random_tensors(path, dtype_, seed_, specs_); }

 private:
  DType dtype_;
  uint64_t seed_;
  std::vector<TensorSpec> specs_;
};

// Input-side projections (q, k, v, up, gate) get larger weights than output
// projections, so attention patterns are far from uniform and the residual
// stream changes visibly from block to block.
constexpr float kInGain = 1.5f, kOutGain = 0.5f;

}  // namespace

void write_random_model(const std::filesystem::path& dir, const RandomModelSpec& s) {
  if (s.dtype != DType::F32 && s.dtype != DType::F16 && s.dtype != DType::BF16)
    fail("random models are F32, F16 or BF16");
  const std::string& type = s.model_type;
  const int64_t d = s.d_model, m = s.d_mlp, V = s.vocab_size, hd = s.head_dim;
  const int64_t q_width = int64_t{s.n_heads} * hd, kv_width = int64_t{s.n_kv_heads} * hd;
  const std::string dtype_text = s.dtype == DType::F32 ? "float32" : s.dtype == DType::BF16 ? "bfloat16" : "float16";
  auto act = [&](const char* dflt) { return s.activation.empty() ? std::string(dflt) : s.activation; };
  nlohmann::ordered_json config;
  RandomTensors t(s.dtype, s.seed);

  if (type == "gpt_neox") {
    if (q_width != d) fail("gpt_neox needs d_model = n_heads * head_dim");
    config = {{"architectures", {"GPTNeoXForCausalLM"}},
              {"model_type", type},
              {"hidden_size", d},
              {"num_hidden_layers", s.n_layers},
              {"num_attention_heads", s.n_heads},
              {"intermediate_size", m},
              {"vocab_size", V},
              {"max_position_embeddings", s.max_positions},
              {"rotary_pct", s.rotary_pct},
              {"rotary_emb_base", s.rope_theta},
              {"hidden_act", act("gelu")},
              {"layer_norm_eps", s.norm_eps},
              {"use_parallel_residual", s.parallel_residual},
              {"attention_bias", s.biases},
              {"tie_word_embeddings", s.tied}};
    t.add("gpt_neox.embed_in.weight", {V, d}, 1.0f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "gpt_neox.layers." + std::to_string(l) + ".";
      t.norm(p + "input_layernorm", d, true);
      t.norm(p + "post_attention_layernorm", d, true);
      t.linear(p + "attention.query_key_value", d, 3 * d, s.biases, kInGain);
      t.linear(p + "attention.dense", d, d, s.biases, kOutGain);
      t.linear(p + "mlp.dense_h_to_4h", d, m, true, kInGain);
      t.linear(p + "mlp.dense_4h_to_h", m, d, true, kOutGain);
    }
    t.norm("gpt_neox.final_layer_norm", d, true);
    if (!s.tied) t.linear("embed_out", d, V, false, 1.0f);
  } else if (type == "gptj") {
    if (q_width != d) fail("gptj needs d_model = n_heads * head_dim");
    config = {{"architectures", {"GPTJForCausalLM"}},
              {"model_type", type},
              {"n_embd", d},
              {"n_layer", s.n_layers},
              {"n_head", s.n_heads},
              {"n_inner", m},
              {"n_positions", s.max_positions},
              {"vocab_size", V},
              {"rotary_dim", s.rotary_dim},
              {"activation_function", act("gelu_new")},
              {"layer_norm_epsilon", s.norm_eps},
              {"tie_word_embeddings", false}};
    t.add("transformer.wte.weight", {V, d}, 1.0f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      t.norm(p + "ln_1", d, true);
      for (const char* n : {"q_proj", "k_proj", "v_proj"}) t.linear(p + "attn." + n, d, d, false, kInGain);
      t.linear(p + "attn.out_proj", d, d, false, kOutGain);
      t.linear(p + "mlp.fc_in", d, m, true, kInGain);
      t.linear(p + "mlp.fc_out", m, d, true, kOutGain);
    }
    t.norm("transformer.ln_f", d, true);
    t.linear("lm_head", d, V, true, 1.0f);
  } else if (type == "gpt2") {
    if (q_width != d) fail("gpt2 needs d_model = n_heads * head_dim");
    config = {{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", type},
              {"n_embd", d},
              {"n_layer", s.n_layers},
              {"n_head", s.n_heads},
              {"n_inner", m},
              {"n_positions", s.max_positions},
              {"vocab_size", V},
              {"activation_function", act("gelu_new")},
              {"layer_norm_epsilon", s.norm_eps},
              {"scale_attn_weights", s.scale_attn_weights},
              {"scale_attn_by_inverse_layer_idx", s.scale_attn_by_inverse_layer_idx},
              {"tie_word_embeddings", s.tied}};
    t.add("transformer.wte.weight", {V, d}, 1.0f);
    t.add("transformer.wpe.weight", {s.max_positions, d}, 0.3f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "transformer.h." + std::to_string(l) + ".";
      t.norm(p + "ln_1", d, true);
      t.linear(p + "attn.c_attn", d, 3 * d, true, kInGain, /*in_out=*/true);
      t.linear(p + "attn.c_proj", d, d, true, kOutGain, true);
      t.norm(p + "ln_2", d, true);
      t.linear(p + "mlp.c_fc", d, m, true, kInGain, true);
      t.linear(p + "mlp.c_proj", m, d, true, kOutGain, true);
    }
    t.norm("transformer.ln_f", d, true);
    if (!s.tied) t.linear("lm_head", d, V, false, 1.0f);
  } else if (type == "llama" || type == "qwen2" || type == "mistral" || type == "qwen3" || type == "gemma" ||
             type == "gemma2") {
    const bool qwen2 = type == "qwen2", gemma = type == "gemma" || type == "gemma2", gemma2 = type == "gemma2";
    if (qwen2 && q_width != d) fail("qwen2 needs d_model = n_heads * head_dim");
    const char* arch = qwen2               ? "Qwen2ForCausalLM"
                       : type == "mistral" ? "MistralForCausalLM"
                       : type == "qwen3"   ? "Qwen3ForCausalLM"
                       : gemma2            ? "Gemma2ForCausalLM"
                       : gemma             ? "GemmaForCausalLM"
                                           : "LlamaForCausalLM";
    config = {{"architectures", {arch}},
              {"model_type", type},
              {"hidden_size", d},
              {"num_hidden_layers", s.n_layers},
              {"num_attention_heads", s.n_heads},
              {"num_key_value_heads", s.n_kv_heads},
              {"intermediate_size", m},
              {"vocab_size", V},
              {"max_position_embeddings", s.max_positions},
              {"rms_norm_eps", s.norm_eps},
              {"rope_theta", s.rope_theta},
              {"tie_word_embeddings", s.tied}};
    // Gemma reads hidden_activation (its hidden_act is ignored, as in HF).
    config[gemma ? "hidden_activation" : "hidden_act"] = act(gemma ? "gelu_pytorch_tanh" : "silu");
    if (!qwen2) config["head_dim"] = hd;
    if (qwen2 || type == "qwen3") config["use_sliding_window"] = false;
    if (type == "llama") config["mlp_bias"] = s.biases;
    if (type != "qwen2" && type != "mistral") config["attention_bias"] = s.biases;
    if (type == "mistral" || gemma2)
      config["sliding_window"] = s.sliding_window > 0 ? nlohmann::ordered_json(s.sliding_window) : nullptr;
    if (gemma2) {
      auto or_null = [](double v) { return v > 0 ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
      config["attn_logit_softcapping"] = or_null(s.attn_softcap);
      config["final_logit_softcapping"] = or_null(s.final_softcap);
      config["query_pre_attn_scalar"] = s.query_pre_attn_scalar > 0 ? s.query_pre_attn_scalar : hd;
    }
    if (!s.rope_scaling.empty()) {
      if (gemma) fail("random models: gemma has no rope scaling");
      const double O = s.max_positions / s.rope_factor;
      nlohmann::ordered_json r = {{"rope_type", s.rope_scaling}, {"factor", s.rope_factor}};
      if (s.rope_scaling == "llama3") {
        r["low_freq_factor"] = 1.0;
        r["high_freq_factor"] = 4.0;
        r["original_max_position_embeddings"] = O / 4;
      } else if (s.rope_scaling == "yarn") {
        r["original_max_position_embeddings"] = O;
      }
      config["rope_scaling"] = r;
    }
    const bool qkv_bias = qwen2 || (type != "mistral" && s.biases), o_bias = !qwen2 && type != "mistral" && s.biases;
    const bool mlp_bias = type == "llama" && s.biases;
    t.add("model.embed_tokens.weight", {V, d}, 1.0f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      t.norm(p + "input_layernorm", d, false);
      t.norm(p + "post_attention_layernorm", d, false);
      if (gemma2) {
        t.norm(p + "pre_feedforward_layernorm", d, false);
        t.norm(p + "post_feedforward_layernorm", d, false);
      }
      t.linear(p + "self_attn.q_proj", d, q_width, qkv_bias, kInGain);
      t.linear(p + "self_attn.k_proj", d, kv_width, qkv_bias, kInGain);
      t.linear(p + "self_attn.v_proj", d, kv_width, qkv_bias, kInGain);
      if (type == "qwen3") {
        t.norm(p + "self_attn.q_norm", hd, false);
        t.norm(p + "self_attn.k_norm", hd, false);
      }
      t.linear(p + "self_attn.o_proj", q_width, d, o_bias, kOutGain);
      t.linear(p + "mlp.gate_proj", d, m, mlp_bias, kInGain);
      t.linear(p + "mlp.up_proj", d, m, mlp_bias, kInGain);
      t.linear(p + "mlp.down_proj", m, d, mlp_bias, kOutGain);
    }
    t.norm("model.norm", d, false);
    if (!s.tied) t.linear("lm_head", d, V, false, 1.0f);
  } else if (type == "phi3" || type == "olmo2" || type == "gemma3_text" || type == "qwen2_moe") {
    const bool phi3 = type == "phi3", olmo2 = type == "olmo2", gemma3 = type == "gemma3_text",
               moe = type == "qwen2_moe";
    const char* arch = phi3     ? "Phi3ForCausalLM"
                       : olmo2  ? "Olmo2ForCausalLM"
                       : gemma3 ? "Gemma3ForCausalLM"
                                : "Qwen2MoeForCausalLM";
    config = {{"architectures", {arch}},
              {"model_type", type},
              {"hidden_size", d},
              {"num_hidden_layers", s.n_layers},
              {"num_attention_heads", s.n_heads},
              {"num_key_value_heads", s.n_kv_heads},
              {"head_dim", hd},
              {"intermediate_size", m},
              {"vocab_size", V},
              {"max_position_embeddings", s.max_positions},
              {"rms_norm_eps", s.norm_eps},
              {"rope_theta", s.rope_theta},
              {"tie_word_embeddings", s.tied}};
    config[gemma3 ? "hidden_activation" : "hidden_act"] = act(gemma3 ? "gelu_pytorch_tanh" : "silu");
    if (olmo2 || gemma3) config["attention_bias"] = s.biases;
    if (phi3) {
      config["partial_rotary_factor"] = s.partial_rotary_factor;
      config["sliding_window"] = s.sliding_window > 0 ? nlohmann::ordered_json(s.sliding_window) : nullptr;
      config["original_max_position_embeddings"] = s.longrope_original > 0 ? s.longrope_original : s.max_positions;
      if (s.longrope_original > 0) {
        const int half = static_cast<int>(hd * s.partial_rotary_factor) / 2;
        std::vector<double> short_f, long_f;
        for (int j = 0; j < half; ++j) short_f.push_back(1 + j / 4.0), long_f.push_back(1.0 + j);
        config["rope_scaling"] = {{"type", "longrope"}, {"short_factor", short_f}, {"long_factor", long_f}};
      }
    } else if (!s.rope_scaling.empty()) {
      config["rope_scaling"] = {{"rope_type", s.rope_scaling}, {"factor", s.rope_factor}};
    }
    if (gemma3) {
      auto or_null = [](double v) { return v > 0 ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr); };
      config["sliding_window"] = s.sliding_window > 0 ? nlohmann::ordered_json(s.sliding_window) : nullptr;
      config["sliding_window_pattern"] = s.sliding_window_pattern;
      config["rope_local_base_freq"] = s.rope_local_base;
      config["attn_logit_softcapping"] = or_null(s.attn_softcap);
      config["final_logit_softcapping"] = or_null(s.final_softcap);
      config["query_pre_attn_scalar"] = s.query_pre_attn_scalar > 0 ? s.query_pre_attn_scalar : hd;
    }
    if (moe) {
      config["use_sliding_window"] = false;
      config["num_experts"] = s.n_experts;
      config["num_experts_per_tok"] = s.top_k;
      config["moe_intermediate_size"] = s.d_expert;
      config["shared_expert_intermediate_size"] = s.d_shared;
      config["decoder_sparse_step"] = s.sparse_step;
      config["norm_topk_prob"] = s.norm_topk_prob;
      config["mlp_only_layers"] = nlohmann::ordered_json::array();
    }
    const bool qkv_bias = moe || ((olmo2 || gemma3) && s.biases), o_bias = (olmo2 || gemma3) && s.biases;
    t.add("model.embed_tokens.weight", {V, d}, 1.0f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      if (!olmo2) t.norm(p + "input_layernorm", d, false);
      t.norm(p + (gemma3 ? "pre_feedforward_layernorm" : "post_attention_layernorm"), d, false);
      if (olmo2 || gemma3) {
        if (gemma3) t.norm(p + "post_attention_layernorm", d, false);
        if (olmo2) t.norm(p + "post_feedforward_layernorm", d, false);
      }
      if (gemma3) t.norm(p + "post_feedforward_layernorm", d, false);
      if (phi3) {
        t.linear(p + "self_attn.qkv_proj", d, q_width + 2 * kv_width, false, kInGain);
      } else {
        t.linear(p + "self_attn.q_proj", d, q_width, qkv_bias, kInGain);
        t.linear(p + "self_attn.k_proj", d, kv_width, qkv_bias, kInGain);
        t.linear(p + "self_attn.v_proj", d, kv_width, qkv_bias, kInGain);
      }
      if (olmo2 || gemma3) {
        t.norm(p + "self_attn.q_norm", olmo2 ? q_width : hd, false);
        t.norm(p + "self_attn.k_norm", olmo2 ? kv_width : hd, false);
      }
      t.linear(p + "self_attn.o_proj", q_width, d, o_bias, kOutGain);
      if (phi3) {
        t.linear(p + "mlp.gate_up_proj", d, 2 * m, false, kInGain);
        t.linear(p + "mlp.down_proj", m, d, false, kOutGain);
      } else if (moe && (l + 1) % s.sparse_step == 0) {
        t.linear(p + "mlp.gate", d, s.n_experts, false, 2.0f);
        for (int e = 0; e < s.n_experts; ++e) {
          const std::string x = p + "mlp.experts." + std::to_string(e) + ".";
          t.linear(x + "gate_proj", d, s.d_expert, false, kInGain);
          t.linear(x + "up_proj", d, s.d_expert, false, kInGain);
          t.linear(x + "down_proj", s.d_expert, d, false, kOutGain);
        }
        t.linear(p + "mlp.shared_expert.gate_proj", d, s.d_shared, false, kInGain);
        t.linear(p + "mlp.shared_expert.up_proj", d, s.d_shared, false, kInGain);
        t.linear(p + "mlp.shared_expert.down_proj", s.d_shared, d, false, kOutGain);
        t.linear(p + "mlp.shared_expert_gate", d, 1, false, 1.0f);
      } else {
        t.linear(p + "mlp.gate_proj", d, m, false, kInGain);
        t.linear(p + "mlp.up_proj", d, m, false, kInGain);
        t.linear(p + "mlp.down_proj", m, d, false, kOutGain);
      }
    }
    t.norm("model.norm", d, false);
    if (!s.tied) t.linear("lm_head", d, V, false, 1.0f);
  } else if (type == "phi") {
    config = {{"architectures", {"PhiForCausalLM"}},
              {"model_type", type},
              {"hidden_size", d},
              {"num_hidden_layers", s.n_layers},
              {"num_attention_heads", s.n_heads},
              {"num_key_value_heads", s.n_kv_heads},
              {"intermediate_size", m},
              {"vocab_size", V},
              {"max_position_embeddings", s.max_positions},
              {"layer_norm_eps", s.norm_eps},
              {"rope_theta", s.rope_theta},
              {"partial_rotary_factor", s.partial_rotary_factor},
              {"qk_layernorm", s.qk_layernorm},
              {"hidden_act", act("gelu_new")},
              {"tie_word_embeddings", s.tied}};
    if (q_width != d) fail("phi needs d_model = n_heads * head_dim");
    t.add("model.embed_tokens.weight", {V, d}, 1.0f);
    for (int l = 0; l < s.n_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      t.norm(p + "input_layernorm", d, true);
      t.linear(p + "self_attn.q_proj", d, q_width, true, kInGain);
      t.linear(p + "self_attn.k_proj", d, kv_width, true, kInGain);
      t.linear(p + "self_attn.v_proj", d, kv_width, true, kInGain);
      if (s.qk_layernorm) {
        t.norm(p + "self_attn.q_layernorm", hd, true);
        t.norm(p + "self_attn.k_layernorm", hd, true);
      }
      t.linear(p + "self_attn.dense", q_width, d, true, kOutGain);
      t.linear(p + "mlp.fc1", d, m, true, kInGain);
      t.linear(p + "mlp.fc2", m, d, true, kOutGain);
    }
    t.norm("model.final_layernorm", d, true);
    if (!s.tied) t.linear("lm_head", d, V, false, 1.0f);
    t.add("lm_head.bias", {V}, 0.1f);
  } else {
    fail("random models: unknown model_type \"{}\"", type);
  }
  config["torch_dtype"] = dtype_text;
  config["streamgauge_synthetic"] = {{"seed", s.seed}, {"note", "random weights: numbers mean nothing"}};

  std::filesystem::create_directories(dir);
  write_file_atomic(dir / "config.json", config.dump(2) + "\n");
  t.write(dir / "model.safetensors");
}

}  // namespace sg
