// Config translation and checkpoint binding: HF defaults, spellings of
// different transformers versions, and clear refusals.
#include "model/model.h"

#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "io/safetensors_writer.h"
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
  EXPECT_NE(error_of([&] { translate_config(c.dump(), "cfg.json"); }).find("num_key_value_heads"),
            std::string::npos);

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
void rewrite(const std::filesystem::path& dir,
             const std::function<void(const TensorView&, SafetensorsWriter&)>& edit) {
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
