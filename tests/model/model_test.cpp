// Config translation and checkpoint binding: HF defaults, spellings of
// different transformers versions, and clear refusals.
#include "model/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
#include "model/synthetic.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

nlohmann::json golden_config(const std::string& model) {
  return nlohmann::json::parse(read_file(test::shared_dir() / "golden/models" / model / "config.json"));
}

TEST(Config, GoldenConfigsTranslate) {
  auto neox = translate_config(golden_config("neox_parallel").dump(), "c");
  EXPECT_EQ(neox.rotary_dim, 4);
  EXPECT_TRUE(neox.parallel_residual);
  EXPECT_EQ(neox.activation, Activation::GeluErf);
  EXPECT_FALSE(translate_config(golden_config("neox_sequential").dump(), "c").parallel_residual);
  auto gptj = translate_config(golden_config("gptj").dump(), "c");
  EXPECT_EQ(gptj.rotary, RotaryStyle::Interleaved);
  EXPECT_EQ(gptj.rotary_dim, 8);
  EXPECT_EQ(gptj.d_mlp, 256);
  EXPECT_TRUE(gptj.shared_norm);
  auto qwen = translate_config(golden_config("qwen2").dump(), "c");
  EXPECT_EQ(qwen.n_kv_heads, 2);
  EXPECT_EQ(qwen.ropes.at(0).inv_freq.at(1), std::pow(1e6, -2.0 / 16));
  EXPECT_TRUE(qwen.tied_embeddings);
  EXPECT_TRUE(qwen.qkv_bias);
  EXPECT_FALSE(qwen.o_bias);
  auto gpt2 = translate_config(golden_config("gpt2_legacy_keys").dump(), "c");
  EXPECT_TRUE(gpt2.tied_embeddings);  // absent from config: PretrainedConfig's default
  EXPECT_TRUE(gpt2.learned_positions);
  EXPECT_EQ(gpt2.activation, Activation::GeluTanh);
  auto llama = translate_config(golden_config("llama").dump(), "c");
  EXPECT_EQ(llama.d_head, 8);
  EXPECT_FALSE(llama.tied_embeddings);
  EXPECT_DOUBLE_EQ(llama.rho(), 1.0);
}

TEST(Config, TransformersFiveSpellings) {
  auto c = golden_config("neox_parallel");
  c.erase("rotary_pct");
  c.erase("rotary_emb_base");
  c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500.0}, {"partial_rotary_factor", 0.5}};
  auto s = translate_config(c.dump(), "c");
  EXPECT_EQ(s.rotary_dim, 8);
  EXPECT_EQ(s.ropes.at(0).inv_freq.at(1), std::pow(500.0, -2.0 / 8));
}

TEST(Config, RefusalsNameTheField) {
  auto c = golden_config("llama");
  c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 8.0}};
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "cfg.json"); }).find("\"rope_scaling\""), std::string::npos);

  c = golden_config("llama");
  c["model_type"] = "mamba";
  auto err = error_of([&] { translate_config(c.dump(), "cfg.json"); });
  EXPECT_NE(err.find("cfg.json"), std::string::npos) << err;
  EXPECT_NE(err.find("model_type"), std::string::npos) << err;
  EXPECT_NE(err.find("mamba"), std::string::npos) << err;

  c = golden_config("llama");
  c.erase("hidden_size");
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "cfg.json"); }).find("\"hidden_size\" is missing"),
            std::string::npos);

  c = golden_config("qwen2");
  c["hidden_act"] = "mish";
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "cfg.json"); }).find("hidden_act"), std::string::npos);

  c = golden_config("qwen2");
  c["num_key_value_heads"] = 3;
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "cfg.json"); }).find("num_key_value_heads"), std::string::npos);

  EXPECT_NE(error_of([&] { translate_config("{not json", "cfg.json"); }).find("cfg.json"), std::string::npos);
}

TEST(Model, ParameterCounts) {
  auto m = Model::load(test::shared_dir() / "golden/models/neox_parallel");
  // embed 320x64, embed_out 320x64, 4 layers of 49984, final norm 128.
  EXPECT_EQ(m->n_params(), 241024);
  EXPECT_EQ(m->n_params_non_embedding(), 241024 - 2 * 320 * 64);
  auto tied = Model::load(test::shared_dir() / "golden/models/qwen2");
  EXPECT_EQ(tied->weights().unembed.weight, tied->weights().embed);
  EXPECT_EQ(Model::load(test::shared_dir() / "golden/models/neox_parallel_bf16")->weight_dtype(), DType::BF16);
}

// Rewrites a copied model's model.safetensors through `edit`.
void rewrite(const std::filesystem::path& dir, const std::function<void(const TensorView&, SafetensorsWriter&)>& edit) {
  std::string bytes = read_file(dir / "model.safetensors");
  write_file_atomic(dir / "orig.safetensors.bin", bytes);
  SafetensorsFile orig(dir / "orig.safetensors.bin");
  SafetensorsWriter w;
  for (auto& t : orig.tensors()) edit(t, w);
  w.write(dir / "model.safetensors");
}

TEST(Model, MissingTensorIsNamed) {
  auto dir = test::copy_model(test::shared_dir() / "golden/models/llama", "missing_tensor");
  rewrite(dir, [](const TensorView& t, SafetensorsWriter& w) {
    if (t.name != "model.layers.2.mlp.up_proj.weight") w.add(t.name, t.dtype, t.shape, t.data, t.nbytes);
  });
  const auto err = error_of([&] { Model::load(dir); });
  EXPECT_NE(err.find("model.layers.2.mlp.up_proj.weight is missing"), std::string::npos) << err;
}

TEST(Model, WrongShapeIsNamed) {
  auto dir = test::copy_model(test::shared_dir() / "golden/models/gpt2", "wrong_shape");
  rewrite(dir, [](const TensorView& t, SafetensorsWriter& w) {
    auto shape = t.shape;
    if (t.name == "transformer.h.1.attn.c_attn.weight") std::swap(shape[0], shape[1]);
    w.add(t.name, t.dtype, shape, t.data, t.nbytes);
  });
  const auto err = error_of([&] { Model::load(dir); });
  EXPECT_NE(err.find("transformer.h.1.attn.c_attn.weight has shape [192, 64]"), std::string::npos) << err;
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
}

TEST(Model, NoSafetensorsAndNoConfig) {
  auto dir = test::scratch_dir("no_files");
  EXPECT_NE(error_of([&] { Model::load(dir); }).find("config.json is missing"), std::string::npos);
  std::filesystem::copy(test::shared_dir() / "golden/models/gpt2/config.json", dir / "config.json");
  EXPECT_NE(error_of([&] { Model::load(dir); }).find("no model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

TEST(Config, Qwen2SlidingWindowIsRefusedNamingTheField) {
  auto c = nlohmann::json::parse(read_file(test::shared_dir() / "golden/models/qwen2/config.json"));
  c["use_sliding_window"] = true;
  c["sliding_window"] = 16;
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "c"); }).find("\"use_sliding_window\""), std::string::npos);
  c["use_sliding_window"] = false;
  for (const LayerSpec& l : translate_config(c.dump(), "c").layers) EXPECT_EQ(l.window, 0);
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

// The second wave of families: what each config field becomes, HF's defaults
// for absent (and null) keys, and one-line errors naming the field.
class ArchConfig : public ::testing::Test {
 protected:
  static nlohmann::json config(const std::string& model) {
    return nlohmann::json::parse(read_file(test::shared_dir() / "golden/models" / model / "config.json"));
  }
  static ArchSpec spec(const nlohmann::json& c) { return translate_config(c.dump(), "cfg.json"); }
  static std::string error(const nlohmann::json& c) {
    return error_of([&] { translate_config(c.dump(), "cfg.json"); });
  }
};

TEST_F(ArchConfig, RopeScalingTypes) {
  // llama_rope_llama3 and _linear share weights and differ in rope_scaling only.
  const ArchSpec plain = [] {
    auto c = config("llama_rope_llama3");
    c.erase("rope_scaling");
    return spec(c);
  }();
  const ArchSpec linear = spec(config("llama_rope_linear"));
  for (size_t j = 0; j < plain.ropes[0].inv_freq.size(); ++j)
    EXPECT_DOUBLE_EQ(linear.ropes[0].inv_freq[j], plain.ropes[0].inv_freq[j] / 4) << j;
  const ArchSpec llama3 = spec(config("llama_rope_llama3"));
  EXPECT_EQ(llama3.ropes[0].inv_freq.front(), plain.ropes[0].inv_freq.front());           // high frequencies kept
  EXPECT_DOUBLE_EQ(llama3.ropes[0].inv_freq.back(), plain.ropes[0].inv_freq.back() / 8);  // low ones divided
  const ArchSpec yarn = spec(config("llama_rope_yarn"));
  EXPECT_NEAR(yarn.ropes[0].attention_factor, 0.1 * std::log(4.0) + 1, 1e-15);  // mscale(factor 4)
  // "type" (legacy) spelling, rope_parameters (transformers 5), and factor 1 = plain rope.
  for (const char* key : {"rope_scaling", "rope_parameters"})
    for (const char* type : {"linear", "llama3", "yarn"}) {
      auto c = config(std::string("llama_rope_") + type);
      auto r = c["rope_scaling"];
      c.erase("rope_scaling");
      r["factor"] = 1.0;
      if (r.contains("original_max_position_embeddings"))
        c["max_position_embeddings"] = r["original_max_position_embeddings"];
      r.erase("rope_type");
      r["type"] = type;
      c[key] = r;
      const ArchSpec s = spec(c);
      for (size_t j = 0; j < plain.ropes[0].inv_freq.size(); ++j)
        EXPECT_DOUBLE_EQ(s.ropes[0].inv_freq[j], plain.ropes[0].inv_freq[j]) << key << " " << type << " " << j;
      EXPECT_EQ(s.ropes[0].attention_factor, 1.0) << type;
    }
}

TEST_F(ArchConfig, BadRopeScalingNamesTheField) {
  auto c = config("llama_rope_llama3");
  c["rope_scaling"]["rope_type"] = "dynamic";
  EXPECT_NE(error(c).find("\"rope_scaling\" has rope_type \"dynamic\""), std::string::npos) << error(c);
  c = config("llama_rope_llama3");
  c["rope_parameters"] = {{"rope_type", "longrope"}, {"rope_theta", 10000.0}};
  c.erase("rope_scaling");
  EXPECT_NE(error(c).find("\"rope_parameters\""), std::string::npos) << error(c);
  c = config("llama_rope_llama3");
  c["rope_scaling"].erase("low_freq_factor");
  EXPECT_NE(error(c).find("\"rope_scaling.low_freq_factor\" is missing"), std::string::npos) << error(c);
  c = config("llama_rope_linear");
  c["rope_scaling"]["factor"] = -2;
  EXPECT_NE(error(c).find("\"rope_scaling.factor\""), std::string::npos) << error(c);
  // yarn: transformers 4.48-4.57 would use max_position_embeddings / original (4), 5.x the factor (2).
  c = config("llama_rope_yarn");
  c["rope_scaling"]["factor"] = 2.0;
  EXPECT_NE(error(c).find("\"rope_scaling.factor\" is 2 but max_position_embeddings / original"), std::string::npos)
      << error(c);
  // Families without rope scaling refuse it.
  c = config("gemma");
  c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  EXPECT_NE(error(c).find("\"rope_scaling\""), std::string::npos) << error(c);
}

TEST_F(ArchConfig, Mistral) {
  auto c = config("mistral");
  ArchSpec s = spec(c);
  EXPECT_EQ(s.d_head, 32);
  for (const LayerSpec& l : s.layers) EXPECT_EQ(l.window, 5);
  c.erase("sliding_window");  // absent: MistralConfig's 4096
  for (const LayerSpec& l : spec(c).layers) EXPECT_EQ(l.window, 4096);
  c["sliding_window"] = nullptr;  // null: no window
  for (const LayerSpec& l : spec(c).layers) EXPECT_EQ(l.window, 0);
  c["sliding_window"] = 0;
  EXPECT_NE(error(c).find("\"sliding_window\" must be a positive number"), std::string::npos) << error(c);
  c = config("mistral");
  c.erase("num_key_value_heads");  // absent: 8 (MistralConfig), null: num_attention_heads
  c["num_attention_heads"] = 8;
  c["head_dim"] = 8;
  EXPECT_EQ(spec(c).n_kv_heads, 8);
  c["num_key_value_heads"] = nullptr;
  EXPECT_EQ(spec(c).n_kv_heads, 8);
  c["num_attention_heads"] = 16;
  EXPECT_EQ(spec(c).n_kv_heads, 16);
  // Without head_dim, hidden_size / heads must divide.
  c = config("mistral");
  c.erase("head_dim");
  c["num_attention_heads"] = 6;
  c["num_key_value_heads"] = 2;
  EXPECT_NE(error(c).find("\"num_attention_heads\" must divide hidden_size (or config.json must give head_dim)"),
            std::string::npos)
      << error(c);
}

TEST_F(ArchConfig, Qwen3) {
  auto c = config("qwen3");
  EXPECT_TRUE(spec(c).qk_norm);
  c.erase("head_dim");
  EXPECT_EQ(spec(c).d_head, 128);  // Qwen3Config's default, not hidden_size / heads
  c = config("qwen3");
  c["use_sliding_window"] = true;
  EXPECT_NE(error(c).find("\"use_sliding_window\""), std::string::npos) << error(c);
}

TEST_F(ArchConfig, Gemma) {
  auto c = config("gemma");
  ArchSpec s = spec(c);
  EXPECT_TRUE(s.norm_gain_plus_one);
  EXPECT_EQ(s.embed_scale, 8.0);  // sqrt(64)
  EXPECT_TRUE(s.tied_embeddings);
  EXPECT_EQ(s.n_kv_heads, 1);
  EXPECT_EQ(s.activation, Activation::GeluTanh);
  c["hidden_act"] = "relu";  // ignored, as HF's GemmaMLP ignores it
  c["hidden_activation"] = nullptr;
  EXPECT_EQ(spec(c).activation, Activation::GeluTanh);
  c["hidden_activation"] = "gelu";
  EXPECT_EQ(spec(c).activation, Activation::GeluErf);
  EXPECT_FALSE(s.any_post_norm());
}

TEST_F(ArchConfig, Gemma2) {
  auto c = config("gemma2");
  ArchSpec s = spec(c);
  ASSERT_EQ(s.layers.size(), 4u);
  for (int l = 0; l < 4; ++l) {
    EXPECT_EQ(s.layers[l].window, l % 2 == 0 ? 5 : 0) << l;  // even layers slide
    EXPECT_DOUBLE_EQ(s.layers[l].attn_scale, 1 / std::sqrt(24.0));
    EXPECT_EQ(s.layers[l].attn_softcap, 10.0);
    EXPECT_TRUE(s.layers[l].post_attn_norm && s.layers[l].post_mlp_norm);
  }
  EXPECT_EQ(s.final_softcap, 15.0);
  // Absent: HF's defaults; null: none.
  c.erase("attn_logit_softcapping");
  c.erase("final_logit_softcapping");
  c.erase("query_pre_attn_scalar");
  s = spec(c);
  EXPECT_EQ(s.layers[0].attn_softcap, 50.0);
  EXPECT_EQ(s.final_softcap, 30.0);
  EXPECT_DOUBLE_EQ(s.layers[0].attn_scale, 1 / 16.0);
  c["attn_logit_softcapping"] = nullptr;
  c["final_logit_softcapping"] = nullptr;
  s = spec(c);
  EXPECT_EQ(s.layers[0].attn_softcap, 0.0);
  EXPECT_EQ(s.final_softcap, 0.0);
  // An explicit layer_types list wins.
  c["layer_types"] = {"full_attention", "full_attention", "sliding_attention", "sliding_attention"};
  s = spec(c);
  EXPECT_EQ(s.layers[0].window, 0);
  EXPECT_EQ(s.layers[3].window, 5);
  c["layer_types"] = {"full_attention", "chunked_attention", "full_attention", "full_attention"};
  EXPECT_NE(error(c).find("\"layer_types\" entry 1 is \"chunked_attention\""), std::string::npos) << error(c);
  c["layer_types"] = {"full_attention"};
  EXPECT_NE(error(c).find("\"layer_types\" must be a list of num_hidden_layers entries"), std::string::npos);
  c = config("gemma2");
  c["attn_logit_softcapping"] = -1;
  EXPECT_NE(error(c).find("\"attn_logit_softcapping\""), std::string::npos) << error(c);
}

// ---- The third wave: phi3, olmo2, gemma3_text, qwen2_moe, phi.

TEST_F(ArchConfig, Phi3) {
  auto c = config("phi3");
  ArchSpec s = spec(c);
  EXPECT_EQ(s.d_head, 16);
  EXPECT_EQ(s.rotary_dim, 12);  // int(16 * 0.75)
  for (const LayerSpec& l : s.layers) EXPECT_EQ(l.window, 9);
  EXPECT_TRUE(s.ropes[0].long_inv_freq.empty());
  EXPECT_EQ(s.norm_eps, 1e-5);
  c.erase("sliding_window");  // Phi3Config: absent or null -> no window
  for (const LayerSpec& l : spec(c).layers) EXPECT_EQ(l.window, 0);
  c["sliding_window"] = 0;
  EXPECT_NE(error(c).find("cfg.json: field \"sliding_window\" must be a positive number"), std::string::npos)
      << error(c);
  c = config("phi3");
  c.erase("partial_rotary_factor");  // default 1.0: the whole head
  EXPECT_EQ(spec(c).rotary_dim, 16);
  c["partial_rotary_factor"] = 0.0;
  EXPECT_NE(error(c).find("\"partial_rotary_factor\" must be a number in (0, 1]"), std::string::npos) << error(c);
  c["partial_rotary_factor"] = 0.7;  // int(11.2) = 11 rotary dims: odd
  EXPECT_NE(error(c).find("\"partial_rotary_factor\" gives an odd number of rotary dims (11)"), std::string::npos)
      << error(c);
}

TEST_F(ArchConfig, Phi3Longrope) {
  auto c = config("phi3_longrope");
  const ArchSpec s = spec(c), plain = spec(config("phi3"));
  const Rope& r = s.ropes[0];
  ASSERT_EQ(r.inv_freq.size(), 6u);
  ASSERT_EQ(r.long_inv_freq.size(), 6u);
  const double shorts[] = {1, 1, 1.125, 1.5, 2.5, 4}, longs[] = {1, 1.25, 2, 4, 8, 16};
  for (int j = 0; j < 6; ++j) {
    EXPECT_DOUBLE_EQ(r.inv_freq[j], plain.ropes[0].inv_freq[j] / shorts[j]) << j;
    EXPECT_DOUBLE_EQ(r.long_inv_freq[j], plain.ropes[0].inv_freq[j] / longs[j]) << j;
  }
  EXPECT_EQ(r.long_after, 16);                              // top-level original_max_position_embeddings
  EXPECT_NEAR(r.attention_factor, std::sqrt(1.75), 1e-15);  // sqrt(1 + ln(128/16) / ln 16)
  EXPECT_EQ(&r.freqs_for(16), &r.inv_freq);
  EXPECT_EQ(&r.freqs_for(17), &r.long_inv_freq);
  // attention_factor given; M <= O: 1; legacy type names.
  c["rope_scaling"]["attention_factor"] = 1.5;
  EXPECT_EQ(spec(c).ropes[0].attention_factor, 1.5);
  c = config("phi3_longrope");
  c["original_max_position_embeddings"] = 128;
  EXPECT_EQ(spec(c).ropes[0].attention_factor, 1.0);
  for (const char* legacy : {"su", "yarn"}) {
    c = config("phi3_longrope");
    c["rope_scaling"]["type"] = legacy;
    EXPECT_EQ(spec(c).ropes[0].long_after, 16) << legacy;
  }
  // Refusals name the field.
  c = config("phi3_longrope");
  c["rope_scaling"]["type"] = "linear";
  EXPECT_NE(error(c).find("\"rope_scaling\" has rope_type \"linear\", which a phi3 model does not support"),
            std::string::npos)
      << error(c);
  c = config("phi3_longrope");
  c["rope_scaling"]["short_factor"] = {1.0, 2.0};
  EXPECT_NE(error(c).find("\"rope_scaling.short_factor\" must be a list of 6 numbers"), std::string::npos) << error(c);
  c = config("phi3_longrope");
  c["rope_scaling"].erase("long_factor");
  EXPECT_NE(error(c).find("\"rope_scaling.long_factor\""), std::string::npos) << error(c);
  c = config("phi3_longrope");
  c["rope_scaling"]["long_factor"][2] = -1.0;
  EXPECT_NE(error(c).find("\"rope_scaling.long_factor\" must hold positive numbers"), std::string::npos) << error(c);
  c = config("phi3_longrope");
  c["original_max_position_embeddings"] = 0;
  EXPECT_NE(error(c).find("\"original_max_position_embeddings\""), std::string::npos) << error(c);
  c = config("phi3_longrope");
  c["rope_scaling"]["attention_factor"] = 0;
  EXPECT_NE(error(c).find("\"rope_scaling.attention_factor\""), std::string::npos) << error(c);
}

TEST_F(ArchConfig, Olmo2) {
  auto c = config("olmo2");
  ArchSpec s = spec(c);
  EXPECT_FALSE(s.pre_norms);
  EXPECT_TRUE(s.qk_norm && s.qk_norm_across_heads);
  for (const LayerSpec& l : s.layers) EXPECT_TRUE(l.post_attn_norm && l.post_mlp_norm);
  EXPECT_FALSE(s.qkv_bias || s.o_bias);
  c["attention_bias"] = true;
  s = spec(c);
  EXPECT_TRUE(s.qkv_bias && s.o_bias);
  c.erase("rms_norm_eps");
  EXPECT_EQ(spec(c).norm_eps, 1e-5);  // Olmo2Config's default
  c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  EXPECT_NE(error(c).find("\"rope_scaling\" has rope_type \"dynamic\""), std::string::npos) << error(c);
}

TEST_F(ArchConfig, Gemma3Text) {
  auto c = config("gemma3_text");
  ArchSpec s = spec(c);
  ASSERT_EQ(s.ropes.size(), 2u);
  EXPECT_TRUE(s.qk_norm && !s.qk_norm_across_heads && s.norm_gain_plus_one);
  for (int l = 0; l < 4; ++l) {
    const bool sliding = l != 2;  // sliding_window_pattern 3: (l + 1) % 3 != 0
    EXPECT_EQ(s.layers[l].window, sliding ? 5 : 0) << l;
    EXPECT_EQ(s.layers[l].rope, sliding ? 1 : 0) << l;
    EXPECT_DOUBLE_EQ(s.layers[l].attn_scale, 1 / std::sqrt(32.0));
    EXPECT_EQ(s.layers[l].attn_softcap, 0.0);
  }
  EXPECT_EQ(s.final_softcap, 0.0);
  // Global: rope_theta 1e6 with linear scaling 8; sliding: rope_local_base_freq 1e4 unscaled.
  EXPECT_DOUBLE_EQ(s.ropes[0].inv_freq[1], std::pow(1e6, -2.0 / 24) / 8);
  EXPECT_DOUBLE_EQ(s.ropes[1].inv_freq[1], std::pow(1e4, -2.0 / 24));
  // layer_types wins over the pattern; _sliding_window_pattern; default 6.
  c["layer_types"] = {"full_attention", "sliding_attention", "full_attention", "sliding_attention"};
  s = spec(c);
  EXPECT_EQ(s.layers[0].window, 0);
  EXPECT_EQ(s.layers[0].rope, 0);
  EXPECT_EQ(s.layers[1].rope, 1);
  c = config("gemma3_text");
  c.erase("sliding_window_pattern");
  c["_sliding_window_pattern"] = 2;
  EXPECT_EQ(spec(c).layers[1].window, 0);
  c.erase("_sliding_window_pattern");
  for (const LayerSpec& l : spec(c).layers) EXPECT_EQ(l.window, 5);  // pattern 6: layers 0-3 slide
  c["sliding_window_pattern"] = 0;
  EXPECT_NE(error(c).find("\"sliding_window_pattern\" must be a positive number"), std::string::npos) << error(c);
  c = config("gemma3_text");
  c["rope_local_base_freq"] = -1;
  EXPECT_NE(error(c).find("\"rope_local_base_freq\" must be positive"), std::string::npos) << error(c);
  c = config("gemma3_text");
  c["attn_logit_softcapping"] = 20.0;
  c["final_logit_softcapping"] = 30.0;
  s = spec(c);
  EXPECT_EQ(s.layers[0].attn_softcap, 20.0);
  EXPECT_EQ(s.final_softcap, 30.0);
  c.erase("attn_logit_softcapping");  // absent: none (Gemma3TextConfig's default is null)
  EXPECT_EQ(spec(c).layers[0].attn_softcap, 0.0);
  c = config("gemma3_text");
  c["use_bidirectional_attention"] = true;
  EXPECT_NE(error(c).find("\"use_bidirectional_attention\""), std::string::npos) << error(c);
  c = config("gemma3_text");
  c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
  EXPECT_NE(error(c).find("\"rope_scaling\""), std::string::npos) << error(c);
}

TEST_F(ArchConfig, Qwen2Moe) {
  auto c = config("qwen2_moe");
  ArchSpec s = spec(c);
  EXPECT_EQ(s.moe.n_experts, 4);
  EXPECT_EQ(s.moe.top_k, 2);
  EXPECT_FALSE(s.moe.norm_topk_prob);
  EXPECT_EQ(s.moe.d_expert, 64);
  EXPECT_EQ(s.moe.d_shared, 128);
  EXPECT_TRUE(s.qkv_bias);
  for (const LayerSpec& l : s.layers) EXPECT_TRUE(l.moe);
  c["decoder_sparse_step"] = 2;  // sparse iff (l + 1) % 2 == 0
  c["mlp_only_layers"] = {3};
  c["norm_topk_prob"] = true;
  s = spec(c);
  EXPECT_TRUE(s.moe.norm_topk_prob);
  const bool want[] = {false, true, false, false};
  for (int l = 0; l < 4; ++l) EXPECT_EQ(s.layers[l].moe, want[l]) << l;
  c = config("qwen2_moe");
  c["num_experts"] = 0;  // no sparse layer
  EXPECT_FALSE(spec(c).any_moe());
  // Refusals name the field.
  auto bad = [&](const char* field, const nlohmann::json& v, const std::string& what) {
    auto b = config("qwen2_moe");
    b[field] = v;
    EXPECT_NE(error(b).find(std::string("cfg.json: field \"") + field + "\" " + what), std::string::npos) << error(b);
  };
  bad("num_experts_per_tok", 5, "must be at most num_experts");
  bad("num_experts_per_tok", 0, "must be a positive number");
  bad("num_experts", -1, "must be a non-negative number");
  bad("moe_intermediate_size", 0, "must be a positive number");
  bad("shared_expert_intermediate_size", -3, "must be a non-negative number");
  bad("decoder_sparse_step", 0, "must be a positive number");
  bad("mlp_only_layers", {4}, "must hold layer indices from 0 to num_hidden_layers - 1");
  bad("mlp_only_layers", 1, "must be a list of layer indices");
  bad("use_sliding_window", true, "is true");
  bad("norm_topk_prob", "yes", "must be true or false");
  bad("num_experts", 2.5, "must be an integer");
}

// Booleans and lists of the new families refuse other types, naming the field.
TEST_F(ArchConfig, ThirdWaveFieldTypes) {
  auto bad = [&](const char* model, const char* field, const nlohmann::json& v, const std::string& what) {
    auto c = config(model);
    c[field] = v;
    EXPECT_NE(error(c).find(std::string("cfg.json: field \"") + field + "\" " + what), std::string::npos)
        << model << " " << field << ": " << error(c);
  };
  bad("olmo2", "attention_bias", "yes", "must be true or false");
  bad("phi", "qk_layernorm", 1, "must be true or false");
  bad("phi", "partial_rotary_factor", "half", "must be a number");
  bad("phi3", "partial_rotary_factor", "half", "must be a number");
  bad("phi3_longrope", "original_max_position_embeddings", 16.5, "must be a whole number of positions");
  bad("gemma3_text", "rope_local_base_freq", "1e4", "must be a number");
  auto c = config("gemma3_text");
  c.erase("sliding_window_pattern");
  c["_sliding_window_pattern"] = -2;
  EXPECT_NE(error(c).find("field \"_sliding_window_pattern\" must be a positive number of layers"), std::string::npos)
      << error(c);
  bad("gemma3_text", "layer_types", {"sliding_attention", "full_attention", "chunked_attention", "full_attention"},
      "entry 2 is \"chunked_attention\"");
  bad("gemma3_text", "query_pre_attn_scalar", -1, "must be positive");
  bad("qwen2_moe", "shared_expert_intermediate_size", "big", "must be an integer");
}

TEST_F(ArchConfig, Phi) {
  auto c = config("phi");
  ArchSpec s = spec(c);
  EXPECT_TRUE(s.parallel_residual && s.shared_norm);
  EXPECT_EQ(s.norm, NormKind::LayerNorm);
  EXPECT_EQ(s.rotary_dim, 8);  // int(16 * 0.5)
  EXPECT_TRUE(s.qkv_bias && s.o_bias && s.mlp_bias && s.unembed_bias);
  EXPECT_FALSE(s.qk_norm);
  EXPECT_EQ(s.activation, Activation::GeluTanh);
  c["qk_layernorm"] = true;
  EXPECT_TRUE(spec(c).qk_norm);
  c.erase("partial_rotary_factor");  // PhiConfig's default 0.5
  EXPECT_EQ(spec(c).rotary_dim, 8);
  c["partial_rotary_factor"] = 1.5;
  EXPECT_NE(error(c).find("\"partial_rotary_factor\" must be a number in (0, 1]"), std::string::npos) << error(c);
  c = config("phi");
  c.erase("layer_norm_eps");
  EXPECT_EQ(spec(c).norm_eps, 1e-5);
  c["layer_norm_eps"] = -1;
  EXPECT_NE(error(c).find("\"layer_norm_eps\""), std::string::npos) << error(c);
}

// HF multiplies Gemma's embedding by sqrt(hidden_size) as a tensor of the
// checkpoint's dtype: in BF16, sqrt(3072) = 55.43 becomes 55.5.
TEST(GemmaEmbedScale, IsRoundedToTheEmbeddingDtype) {
  for (const DType dt : {DType::BF16, DType::F32}) {
    RandomModelSpec r;
    r.model_type = "gemma";
    r.n_layers = 1;
    r.d_model = 3072;
    r.n_heads = 1;
    r.n_kv_heads = 1;
    r.head_dim = 8;
    r.d_mlp = 8;
    r.vocab_size = 16;
    r.dtype = dt;
    const auto dir = test::scratch_dir(std::string("gemma_scale_") + std::string(dtype_name(dt)));
    write_random_model(dir, r);
    const auto model = Model::load(dir);
    EXPECT_EQ(model->arch().embed_scale, dt == DType::BF16 ? 55.5 : double(float(std::sqrt(3072.0))));
  }
}

}  // namespace
}  // namespace sg
